"""torchgeo EuroSAT / BigEarthNet wrappers, end to end on tiny fakes in torchgeo 0.8's layouts."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import rasterio
import torch
from affine import Affine

from domains.remote_sensing.sensors import get_sensor
from domains.remote_sensing.torchgeo_sources import (
    BIGEARTHNET_BANDS,
    EUROSAT_BANDS,
    TorchGeoPatchesDataModule,
    canonical_band,
    convert_sample,
)

EUROSAT_DIR = Path("ds/images/remote_sensing/otherDatasets/sentinel_2/tif")
EUROSAT_CLASSES = ("AnnualCrop", "Forest", "River")
SPLITS = ("train", "val", "test")
ORIGIN = (600_000.0, 5_000_000.0)


def _write(path: Path, data: np.ndarray, pixel: float = 10.0) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    count, height, width = data.shape
    with rasterio.open(
        path, "w", driver="GTiff", dtype="uint16", count=count, height=height, width=width,
        crs="EPSG:32632", transform=Affine(pixel, 0.0, ORIGIN[0], 0.0, -pixel, ORIGIN[1]),
    ) as dst:  # fmt: skip
        dst.write(data.astype(np.uint16))


def _dn(bands: int, size: int, seed: int) -> np.ndarray:
    data = np.random.default_rng(seed).integers(100, 5000, (bands, size, size))
    data[:, 0, 0] = 0  # one nodata pixel
    return data


@pytest.fixture(scope="module")
def eurosat_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three classes, one 13-band 16x16 image per class and split; split files list .jpg names
    as the real ones do."""
    root = tmp_path_factory.mktemp("eurosat")
    for s, split in enumerate(SPLITS):
        names = []
        for c, name in enumerate(EUROSAT_CLASSES):
            file = f"{name}_{s + 1}.tif"
            _write(root / EUROSAT_DIR / name / file, _dn(13, 16, 10 * s + c))
            names.append(file.replace(".tif", ".jpg"))
        (root / f"eurosat-{split}.txt").write_text("\n".join(names) + "\n")
    return root


BEN_LABELS = (
    ["Non-irrigated arable land", "Coniferous forest"],
    ["Sea and ocean"],
    ["Discontinuous urban fabric", "Pastures", "Water bodies"],
)


@pytest.fixture(scope="module")
def bigearthnet_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One BigEarthNet v1.0 S2 patch per split: one file per band at its native resolution
    (10 m 120 px, 20 m 60 px, 60 m 20 px) and the labels JSON."""
    root = tmp_path_factory.mktemp("bigearthnet")
    gsd = {b.name: b.gsd_m for b in get_sensor("sentinel2_l2a").bands}
    for s, split in enumerate(SPLITS):
        patch = f"S2A_MSIL2A_20170613T101031_{s}_{s + 40}"
        folder = root / "BigEarthNet-v1.0" / patch
        for b, band in enumerate(BIGEARTHNET_BANDS):
            size = int(1200 / gsd[band])
            data = np.full((1, size, size), 1000 * (s + 1) + b)
            _write(folder / f"{patch}_{band}.tif", data, pixel=gsd[band])
        meta = {"labels": BEN_LABELS[s], "coordinates": {}, "projection": "", "tile_source": ""}
        (folder / f"{patch}_labels_metadata.json").write_text(json.dumps(meta))
        (root / f"bigearthnet-{split}.csv").write_text(f"{patch},S1_{patch}\n")
    return root


def test_band_tables_match_torchgeo() -> None:
    from torchgeo.datasets import EuroSAT

    assert tuple(EuroSAT.all_band_names) == EUROSAT_BANDS
    assert canonical_band("B08A") == "B8A" and canonical_band("b2") == "B02"
    assert list(BIGEARTHNET_BANDS) == get_sensor("sentinel2_l2a").band_names


def test_eurosat_end_to_end(eurosat_root: Path) -> None:
    dm = TorchGeoPatchesDataModule("eurosat", str(eurosat_root), batch_size=3)
    dm.setup()
    assert dm.class_names == EUROSAT_CLASSES and dm.num_classes == 3 and not dm.multilabel
    assert [len(dm.splits[s]) for s in SPLITS] == [3, 3, 3]  # type: ignore[arg-type]
    assert len(dm.full) == 9  # type: ignore[arg-type]
    batch = next(iter(dm.split_dataloader("val")))
    image = batch["image"]
    assert image["values"].shape == (3, 13, 16, 16) and image["values"].dtype == torch.float32
    l1c = get_sensor("sentinel2_l1c")
    file_order = [
        "B01", "B02", "B03", "B04", "B05", "B06", "B07", "B08", "B09", "B10", "B11", "B12", "B8A",
    ]  # fmt: skip
    expected = torch.tensor(l1c.wavelengths(file_order))
    torch.testing.assert_close(image["wavelengths"][0], expected)
    assert batch["label"].dtype == torch.int64 and sorted(batch["label"].tolist()) == [0, 1, 2]
    # Reflectance = DN / 10000; DN 0 is nodata.
    river = int((batch["label"] == 2).nonzero()[0, 0])
    dn = _dn(13, 16, 10 * 1 + 2)
    torch.testing.assert_close(image["values"][river], torch.from_numpy(dn * 1e-4).float())
    assert not image["valid"][river, :, 0, 0].any() and image["valid"][river, :, 1:, :].all()
    assert batch["crs"] == ["EPSG:32632"] * 3
    assert image["transform"][0].tolist() == [10.0, 0.0, ORIGIN[0], 0.0, -10.0, ORIGIN[1]]


def test_eurosat_band_subset(eurosat_root: Path) -> None:
    dm = TorchGeoPatchesDataModule("eurosat", str(eurosat_root), bands=["B04", "B08A", "B02"])
    dm.setup()
    assert dm.train is not None
    sample = dm.train[0]
    l1c = get_sensor("sentinel2_l1c")
    expected = torch.tensor(l1c.wavelengths(["B04", "B8A", "B02"]))
    torch.testing.assert_close(sample["image"]["wavelengths"], expected)
    # AnnualCrop_1 is the first train file: rows 3, 12 and 1 of its DNs.
    dn = _dn(13, 16, 0)[[3, 12, 1]]
    torch.testing.assert_close(sample["image"]["values"], torch.from_numpy(dn * 1e-4).float())
    with pytest.raises(ValueError, match="no band 'B13'"):
        TorchGeoPatchesDataModule("eurosat", str(eurosat_root), bands=["B13"])


def test_missing_or_incomplete_root_names_root_and_layout(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    with pytest.raises(FileNotFoundError, match=rf"root {missing}.*eurosat-train\.txt"):
        TorchGeoPatchesDataModule("eurosat", str(missing)).setup()
    partial = tmp_path / "partial"
    partial.mkdir()
    for split in SPLITS:
        (partial / f"eurosat-{split}.txt").write_text("Forest_1.jpg\n")
    with pytest.raises(FileNotFoundError, match=rf"root {partial}.*otherDatasets"):
        TorchGeoPatchesDataModule("eurosat", str(partial)).setup()
    with pytest.raises(FileNotFoundError, match=rf"root {missing}.*bigearthnet-train\.csv"):
        TorchGeoPatchesDataModule("bigearthnet", str(missing)).setup()


def test_bigearthnet_multilabel_end_to_end(bigearthnet_root: Path) -> None:
    from torchgeo.datasets import BigEarthNet

    dm = TorchGeoPatchesDataModule("bigearthnet", str(bigearthnet_root), batch_size=2)
    dm.setup()
    assert dm.multilabel and dm.num_classes == 19
    assert dm.class_names == tuple(BigEarthNet.class_sets[19])
    assert dm.train is not None and dm.test is not None
    sample = dm.train[0]
    image = sample["image"]
    assert image["values"].shape == (12, 120, 120)
    torch.testing.assert_close(
        image["wavelengths"], torch.tensor(get_sensor("sentinel2_l2a").wavelengths())
    )
    # Every band file holds 1000 + band index: each resampled band keeps its own value.
    torch.testing.assert_close(image["values"][:, 60, 60], (1000 + torch.arange(12.0)) * 1e-4)
    assert image["valid"].all()
    assert image["transform"].tolist() == [10.0, 0.0, ORIGIN[0], 0.0, -10.0, ORIGIN[1]]
    torchgeo_label = BigEarthNet(str(bigearthnet_root), "train", bands="s2")[0]["label"]
    assert sample["label"].dtype == torch.float32
    torch.testing.assert_close(sample["label"], torchgeo_label.float())
    assert sample["label"].sum() == 2  # arable land, coniferous forest
    batch = next(iter(dm.predict_dataloader()))
    assert batch["label"].shape == (2, 19) and batch["image"]["values"].shape == (2, 12, 120, 120)


def test_bigearthnet_43_classes_band_subset_and_missing_band(bigearthnet_root: Path) -> None:
    dm = TorchGeoPatchesDataModule(
        "bigearthnet", str(bigearthnet_root), bands=["B8A", "B02"], bigearthnet_classes=43
    )
    dm.setup()
    assert dm.num_classes == 43 and dm.test is not None
    sample = dm.test[0]
    assert sample["label"].shape == (43,) and sample["label"].sum() == 3
    torch.testing.assert_close(sample["image"]["values"][:, 5, 5], torch.tensor([0.3008, 0.3001]))
    with pytest.raises(ValueError, match="no band 'B10'"):
        TorchGeoPatchesDataModule("bigearthnet", str(bigearthnet_root), bands=["B10"])
    # A band file missing from a patch folder is named, not silently shifted.
    patch = next((bigearthnet_root / "BigEarthNet-v1.0").glob("*_0_40"))
    removed = patch / f"{patch.name}_B05.tif"
    removed.rename(removed.with_suffix(".bak"))
    try:
        dm = TorchGeoPatchesDataModule("bigearthnet", str(bigearthnet_root))
        dm.setup()
        assert dm.train is not None
        with pytest.raises(ValueError, match=rf"{patch.name}.*expected 12 bands"):
            dm.train[0]
    finally:
        removed.with_suffix(".bak").rename(removed)


def test_convert_sample_on_a_torchgeo_shaped_dict() -> None:
    sensor = get_sensor("sentinel2_l2a")
    image = torch.tensor([[[0.0, 2500.0]], [[float("nan"), 10000.0]]])  # [2, 1, 2]
    out = convert_sample(
        {"image": image, "label": torch.tensor([0, 1, 1])},
        torch.tensor([0.49, 0.56]),
        sensor,
        multilabel=True,
    )
    assert out["image"]["valid"].tolist() == [[[False, True]], [[False, True]]]
    torch.testing.assert_close(out["image"]["values"], torch.tensor([[[0.0, 0.25]], [[0.0, 1.0]]]))
    assert out["label"].tolist() == [0.0, 1.0, 1.0] and out["crs"] == ""
    assert out["image"]["transform"].tolist() == [1.0, 0.0, 0.0, 0.0, 1.0, 0.0]
    single = convert_sample(
        {"image": image, "label": torch.tensor(4)}, torch.ones(2), sensor, False
    )
    assert single["label"].dtype == torch.int64 and single["label"].shape == ()
    with pytest.raises(ValueError, match=r"expected a \[3, H, W\] image"):
        convert_sample({"image": image, "label": torch.tensor(0)}, torch.ones(3), sensor, False)
