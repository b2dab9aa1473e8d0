"""torchgeo's EuroSAT and BigEarthNet, when on disk, as remote-sensing contract samples.

torchgeo reads the files, lists the official splits and builds the labels; this module only turns
its samples into the domain's contract (reflectance, validity mask, wavelengths from
:mod:`domains.remote_sensing.sensors`, the patch's georeference) and wraps the three splits in a
:class:`~foundations.data.LabelledSplitsDataModule`. Nothing is ever downloaded
(``download=False`` always): a missing or incomplete root gives one error naming the root and the
layout torchgeo expects.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import rasterio
import torch
from rasterio.errors import RasterioError
from torch import Tensor
from torch.utils.data import ConcatDataset, Dataset

from domains.remote_sensing.sensors import Sensor, get_sensor
from foundations.data import LabelledSplitsDataModule

SourceName = Literal["eurosat", "bigearthnet"]
SPLITS = ("train", "val", "test")


EUROSAT_BANDS: tuple[str, ...] = (
    "B01", "B02", "B03", "B04", "B05", "B06", "B07", "B08", "B09", "B10", "B11", "B12", "B8A",
)  # fmt: skip
"""EuroSAT MS bands in the files' order (B8A last), as torchgeo >= 0.7 and the authors give it."""

BIGEARTHNET_BANDS: tuple[str, ...] = (
    "B01", "B02", "B03", "B04", "B05", "B06", "B07", "B08", "B8A", "B09", "B11", "B12",
)  # fmt: skip
"""BigEarthNet v1.0 S2 bands in torchgeo's order (it sorts B8A as B08A): ESA's, without B10."""


@dataclass(frozen=True)
class TorchGeoSource:
    """How one torchgeo dataset maps to the contract.

    Attributes:
        name: Our name of the dataset.
        sensor: Registered sensor whose band wavelengths and scale apply.
        bands: The dataset's band names in the order torchgeo loads them.
        multilabel: Whether labels are 0/1 vectors.
        layout: What torchgeo expects under the root (for error messages).
    """

    name: SourceName
    sensor: str
    bands: tuple[str, ...]
    multilabel: bool
    layout: str


SOURCES: dict[str, TorchGeoSource] = {
    "eurosat": TorchGeoSource(
        "eurosat",
        "sentinel2_l1c",
        EUROSAT_BANDS,
        False,
        "eurosat-train.txt, eurosat-val.txt and eurosat-test.txt (image file names, one a line) "
        "and ds/images/remote_sensing/otherDatasets/sentinel_2/tif/<Class>/<Class>_<i>.tif "
        "(13-band Sentinel-2 L1C GeoTIFFs), or EuroSATallBands.zip to be extracted there",
    ),
    "bigearthnet": TorchGeoSource(
        "bigearthnet",
        "sentinel2_l2a",
        BIGEARTHNET_BANDS,
        True,
        "bigearthnet-train.csv, bigearthnet-val.csv and bigearthnet-test.csv ('s2_patch,"
        "s1_patch' lines) and BigEarthNet-v1.0/<patch>/<patch>_B01.tif ... _B12.tif with "
        "<patch>_labels_metadata.json (BigEarthNet v1.0 S2), or BigEarthNet-S2-v1.0.tar.gz "
        "to be extracted there",
    ),
}


def canonical_band(name: str) -> str:
    """Sentinel-2 band name as :mod:`~domains.remote_sensing.sensors` spells it.

    ``"B08A"``/``"b8a"`` -> ``"B8A"``, ``"B2"`` -> ``"B02"``; other names are upper-cased.
    """
    upper = name.strip().upper()
    if upper in ("B08A", "B8A"):
        return "B8A"
    if len(upper) == 2 and upper[0] == "B" and upper[1].isdigit():
        return f"B0{upper[1]}"
    return upper


def band_wavelengths(names: Sequence[str], sensor: Sensor) -> Tensor:
    """Centre wavelengths (µm) of Sentinel-2 band ``names`` (any spelling of B8A) on ``sensor``.

    Raises:
        KeyError: When a band is not one of the sensor's.
    """
    return torch.tensor(sensor.wavelengths([canonical_band(n) for n in names]), dtype=torch.float32)


def georeference(path: Path | None) -> tuple[Tensor, str]:
    """Affine transform ``[6]`` (float64) and CRS string of a GeoTIFF's grid.

    Args:
        path: The file, or ``None`` when unknown.

    Returns:
        ``(transform, crs)``; the identity and ``""`` when ``path`` is ``None``, unreadable or
        not georeferenced.
    """
    transform: tuple[float, ...] = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0)
    crs = ""
    if path is not None:
        try:
            with rasterio.open(path) as src:
                transform = tuple(src.transform)[:6]
                crs = src.crs.to_string() if src.crs is not None else ""
        except RasterioError:
            pass
    return torch.tensor(transform, dtype=torch.float64), crs


def convert_sample(
    sample: dict[str, Tensor],
    wavelengths: Tensor,
    sensor: Sensor,
    multilabel: bool,
    band_index: Tensor | None = None,
    reference: Path | None = None,
) -> dict[str, Any]:
    """Turn a torchgeo sample ``{"image": [C, H, W] DN, "label"}`` into the contract.

    Args:
        sample: torchgeo's sample (digital numbers, as its loaders return them).
        wavelengths: ``[C']`` band centres (µm) of the bands kept.
        sensor: Gives the DN -> physical ``scale`` and ``offset`` (1e-4 for Sentinel-2).
        multilabel: Labels are 0/1 vectors (float32 out) rather than an index (int64 out).
        band_index: ``[C']`` channels to keep, or ``None`` for all.
        reference: A GeoTIFF on the image's pixel grid, for ``transform`` and ``crs``.

    Returns:
        ``{"image": {"values", "valid", "wavelengths", "transform"}, "crs", "label"}``; pixels
        whose DN is 0 (Sentinel-2 nodata) or not finite are ``valid=False`` and 0.

    Raises:
        ValueError: When the image is not ``[C, H, W]`` or its bands do not match
            ``wavelengths``.
    """
    image = sample["image"]
    if band_index is not None:
        image = image.index_select(0, band_index)
    if image.dim() != 3 or image.shape[0] != len(wavelengths):
        raise ValueError(f"expected a [{len(wavelengths)}, H, W] image, got {tuple(image.shape)}")
    dn = image.float()
    valid = torch.isfinite(dn) & (dn != 0)
    values = torch.where(valid, dn * sensor.scale + sensor.offset, torch.zeros(()))
    transform, crs = georeference(reference)
    label = sample["label"]
    label = label.float() if multilabel else label.long().reshape(())
    return {
        "image": {
            "values": values,
            "valid": valid,
            "wavelengths": wavelengths,
            "transform": transform,
        },
        "crs": crs,
        "label": label,
    }


def _reference_file(source: SourceName, dataset: Any, index: int) -> Path | None:
    """A GeoTIFF on the grid of torchgeo's image ``index`` (BigEarthNet: the 10 m B02)."""
    if source == "eurosat":
        return Path(dataset.samples[index][0])
    folder = Path(dataset.folders[index]["s2"])
    matches = sorted(folder.glob("*_B02.tif"))
    return matches[0] if matches else None


class TorchGeoSamples(Dataset[dict[str, Any]]):
    """One torchgeo split, converted sample by sample with :func:`convert_sample`.

    Args:
        source: Which dataset ``dataset`` is.
        dataset: The torchgeo dataset (one split).
        wavelengths: ``[C']`` band centres of the bands kept.
        band_index: Channels to keep from torchgeo's image, or ``None`` for all.
    """

    def __init__(
        self,
        source: SourceName,
        dataset: Any,
        wavelengths: Tensor,
        band_index: Tensor | None = None,
    ) -> None:
        self.source = SOURCES[source]
        self.dataset = dataset
        self.wavelengths = wavelengths
        self.band_index = band_index
        self.sensor = get_sensor(self.source.sensor)

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int) -> dict[str, Any]:
        """The contract sample of torchgeo's sample ``index``.

        Raises:
            ValueError: Naming the file or folder, when torchgeo's image has another band count
                than the dataset's (e.g. band files missing from a BigEarthNet folder).
        """
        reference = _reference_file(self.source.name, self.dataset, index)
        sample = self.dataset[index]
        where = reference.parent if reference is not None else f"sample {index}"
        expected = len(self.wavelengths if self.band_index is None else self.source.bands)
        if sample["image"].dim() != 3 or sample["image"].shape[0] != expected:
            raise ValueError(
                f"{self.source.name} {where}: torchgeo loaded an image of shape "
                f"{tuple(sample['image'].shape)}, expected {expected} bands "
                f"({', '.join(self.source.bands)} for all)"
            )
        try:
            return convert_sample(
                sample,
                self.wavelengths,
                self.sensor,
                self.source.multilabel,
                self.band_index,
                reference,
            )
        except ValueError as error:
            raise ValueError(f"{self.source.name} {where}: {error}") from error


def open_split(
    source: SourceName,
    root: Path,
    split: str,
    bands: Sequence[str] | None = None,
    bigearthnet_classes: Literal[19, 43] = 19,
) -> Any:
    """Open one split of a torchgeo dataset on disk, never downloading.

    Args:
        source: ``"eurosat"`` or ``"bigearthnet"``.
        root: The dataset's root folder.
        split: ``"train"``, ``"val"`` or ``"test"`` (the official splits torchgeo ships).
        bands: EuroSAT bands to load (torchgeo spelling), or ``None`` for all; ignored for
            BigEarthNet (always its 12 S2 bands).
        bigearthnet_classes: BigEarthNet's 19- or 43-class nomenclature.

    Returns:
        The torchgeo dataset.

    Raises:
        FileNotFoundError: Naming ``root`` and the layout torchgeo expects, when the data are
            missing or incomplete.
    """
    from torchgeo.datasets import BigEarthNet, EuroSAT

    spec = SOURCES[source]
    try:
        if source == "eurosat":
            return EuroSAT(str(root), split=split, bands=tuple(bands or spec.bands), download=False)
        return BigEarthNet(
            str(root), split=split, bands="s2", num_classes=bigearthnet_classes, download=False
        )
    except FileNotFoundError as error:  # torchgeo's DatasetNotFoundError is one
        raise FileNotFoundError(
            f"{source} not found or incomplete under root {root} (split {split!r}; nothing is "
            f"downloaded). torchgeo expects in that folder: {spec.layout}. torchgeo said: {error}"
        ) from error


class TorchGeoPatchesDataModule(LabelledSplitsDataModule):
    """EuroSAT (13-band L1C, 10 classes) or BigEarthNet v1.0 S2 (12-band L2A, multilabel) read
    by torchgeo from ``root``, with torchgeo's official train/val/test splits.

    Samples follow the domain's contract: ``"image"`` (``values`` in reflectance = DN / 10000,
    ``valid`` False where DN is 0, ``wavelengths`` of Sentinel-2 L1C or L2A, ``transform`` of the
    patch's GeoTIFF), ``"crs"`` and ``"label"`` (an int64 index for EuroSAT; a float32 0/1
    ``[19]`` or ``[43]`` vector for BigEarthNet, whose :attr:`multilabel` is True).

    Args:
        dataset: ``"eurosat"`` or ``"bigearthnet"``.
        root: Folder holding the dataset as torchgeo lays it out (see :data:`SOURCES`).
        bands: Bands to keep, in this order (``"B8A"`` or ``"B08A"``); default all.
        bigearthnet_classes: BigEarthNet's 19- or 43-class nomenclature.
        batch_size: Samples per batch, per device.
        num_workers: DataLoader workers.
        seed: Seed of the training order.

    Raises:
        ValueError: On an unknown dataset or band, or a non-positive ``batch_size``.
    """

    def __init__(
        self,
        dataset: SourceName,
        root: str,
        bands: list[str] | None = None,
        bigearthnet_classes: Literal[19, 43] = 19,
        batch_size: int = 64,
        num_workers: int = 0,
        seed: int = 0,
    ) -> None:
        super().__init__(batch_size, num_workers, seed)
        if dataset not in SOURCES:
            raise ValueError(f"dataset must be one of {sorted(SOURCES)}, got {dataset!r}")
        if bigearthnet_classes not in (19, 43):
            raise ValueError(f"bigearthnet_classes must be 19 or 43, got {bigearthnet_classes}")
        self.save_hyperparameters()
        self.source = SOURCES[dataset]
        self.root = Path(root).expanduser()
        available = {canonical_band(b): b for b in self.source.bands}
        chosen = [canonical_band(b) for b in bands] if bands is not None else list(available)
        unknown = [b for b in chosen if b not in available]
        if unknown:
            raise ValueError(
                f"{dataset} has no band {unknown[0]!r}; its bands: {list(self.source.bands)}"
            )
        self.bands = [available[b] for b in chosen]
        self.wavelengths = band_wavelengths(self.bands, get_sensor(self.source.sensor))
        self.bigearthnet_classes = bigearthnet_classes
        self.multilabel = self.source.multilabel
        self._class_names: tuple[str, ...] | None = None

    @property
    def class_names(self) -> tuple[str, ...]:
        """Name of each class index (EuroSAT: its class folders; BigEarthNet: torchgeo's list)."""
        if self._class_names is None:
            if self.source.name == "bigearthnet":
                from torchgeo.datasets import BigEarthNet

                self._class_names = tuple(BigEarthNet.class_sets[self.bigearthnet_classes])
            else:
                self.setup()
        assert self._class_names is not None
        return self._class_names

    @property
    def num_classes(self) -> int:
        """Number of classes."""
        return len(self.class_names)

    def setup(self, stage: str | None = None) -> None:
        """Open the three official splits with torchgeo.

        Raises:
            FileNotFoundError: Naming the root and the expected layout (see :func:`open_split`).
            ValueError: When the EuroSAT splits disagree on the class folders.
        """
        if self.full is not None:
            return
        name = self.source.name
        band_index: Tensor | None = None
        if name == "bigearthnet":
            band_index = torch.tensor([self.source.bands.index(b) for b in self.bands])
        opened = {
            split: open_split(name, self.root, split, self.bands, self.bigearthnet_classes)
            for split in SPLITS
        }
        if name == "eurosat":
            classes = {split: tuple(ds.classes) for split, ds in opened.items()}
            if len(set(classes.values())) != 1:
                raise ValueError(f"EuroSAT splits under {self.root} disagree on classes: {classes}")
            self._class_names = classes["train"]
        self.splits = {
            split: TorchGeoSamples(name, ds, self.wavelengths, band_index)
            for split, ds in opened.items()
        }
        self.full = ConcatDataset([self.splits[split] for split in SPLITS])
