"""Remote sensing: multispectral rasters with band wavelengths, nodata masks and CRS.

Sample contract for this domain (the value under ``sample["image"]``)::

    {
        "values": FloatTensor[C, H, W],      # physical values (reflectance, dB), nodata -> 0
        "valid": BoolTensor[C, H, W],        # False where the source was nodata
        "wavelengths": FloatTensor[C],       # band centre wavelengths in micrometres
        "transform": DoubleTensor[6],        # affine (a, b, c, d, e, f) of the window
    }

plus ``sample["crs"]`` (WKT or EPSG string) and, when labelled, ``sample["label"]``. Time series
add a leading ``T`` axis to ``values``/``valid`` and ``"dates"``: FloatTensor[T] (days since
1970-01-01). Batches of one sensor share band order; the tokenizer reads the wavelengths.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from foundations.registry import DomainPlugin

RECIPES = Path(__file__).resolve().parents[2] / "recipes" / "remote_sensing"
LANDSAT = Path(__file__).resolve().parents[3] / "shared" / "data" / "landsat7_nc"
"""The small real scene next to the project (../shared/data); override with --data."""

_LANDSAT_DATA: dict[str, Any] = {
    "class_path": "domains.remote_sensing.datamodules.LabelledPixelsDataModule",
    "init_args": {
        "band_files": [str(LANDSAT / f"lsat7_2000_{b}.tif") for b in (10, 20, 30, 40, 50, 70)],
        "labels": str(LANDSAT / "landsat96_labelled_pixels.tif"),
        "sensor": "landsat7_etm",
        "band_names": ["B1", "B2", "B3", "B4", "B5", "B7"],
        "patch_size": 15,
        "class_names": [
            "developed",
            "agriculture",
            "herbaceous",
            "shrubland",
            "forest",
            "water",
            "sediment",
        ],
    },
}


def _landsat(split: str) -> dict[str, Any]:
    data = {**_LANDSAT_DATA, "init_args": {**_LANDSAT_DATA["init_args"], "split": split}}
    if split == "spatial":
        data["init_args"]["block_size"] = 32
    return {
        "description": f"Landsat 7 land cover, 7 classes, 15x15 px patches, {split} split",
        "datamodule": data,
        "split": "random" if split == "random" else "spatial blocks of 32x32 px (912 m)",
        "classical_baseline": "domains.remote_sensing.baselines.centre_spectrum_features",
        "classical_classifier": "gradient_boosting",
        "primary_metric": "balanced_accuracy",
    }


plugin = DomainPlugin(
    name="remote_sensing",
    description="Multispectral rasters: any band set by wavelength, nodata masks, CRS",
    datasets={
        "synthetic_patches": "domains.remote_sensing.patches.PatchFolderDataModule",
        "scene_windows": "domains.remote_sensing.datamodules.SceneWindowDataModule",
        "labelled_pixels": "domains.remote_sensing.datamodules.LabelledPixelsDataModule",
        "synthetic_timeseries": "domains.remote_sensing.timeseries.TimeSeriesDataModule",
        "torchgeo_patches": "domains.remote_sensing.torchgeo_sources.TorchGeoPatchesDataModule",
    },
    tokenizers={"wavelength_patch": "domains.remote_sensing.tokenizer.WavelengthPatchTokenizer"},
    transforms={"spectral_views": "domains.remote_sensing.augment.SpectralViews"},
    recipes_dir=RECIPES,
    benchmarks={
        "rs-synthetic": {
            "description": "synthetic Sentinel-2 L2A land cover, 8 classes, 64x64 patches",
            "datamodule": {
                "class_path": "domains.remote_sensing.patches.PatchFolderDataModule",
                "init_args": {"num_samples": 2000, "size": 64, "batch_size": 128},
            },
            "split": "random, stratified 60/20/20",
            "classical_baseline": "domains.remote_sensing.baselines.mean_spectrum_features",
            "classical_classifier": "gradient_boosting",
        },
        "rs-timeseries": {
            "description": "synthetic Sentinel-2 L2A crop phenology, 7 classes, 12 dates of 32x32",
            "datamodule": {
                "class_path": "domains.remote_sensing.timeseries.TimeSeriesDataModule",
                "init_args": {"num_samples": 1400, "num_dates": 12, "size": 32, "batch_size": 64},
            },
            "split": "random, stratified 60/20/20",
            # Raw [T, C, H, W] stacks are 147k numbers a sample (RawInputs pools only 2D images).
            "raw_baseline": False,
            "classical_baseline": (
                "domains.remote_sensing.baselines.timeseries_mean_spectrum_features"
            ),
            "classical_classifier": "gradient_boosting",
        },
        "landsat7-nc": _landsat("random"),
        "landsat7-nc-spatial": _landsat("spatial"),
    },
)
