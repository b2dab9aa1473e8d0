"""Scene windows for pretraining and labelled-pixel patches, on generated and real rasters."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
import rasterio
import torch
from affine import Affine

from domains.remote_sensing.datamodules import LabelledPixelsDataModule, SceneWindowDataModule
from domains.remote_sensing.sensors import get_sensor
from foundations.data import LabelledSplits

X0, Y0 = 500_000.0, 4_000_000.0
SCALE = get_sensor("landsat7_etm").scale
REAL = Path(__file__).resolve().parents[4] / "shared" / "data" / "landsat7_nc"


def write_tif(
    path: Path,
    data: np.ndarray,
    res: float = 10.0,
    nodata: float | None = None,
    crs: str = "EPSG:32633",
) -> Path:
    data = data[None] if data.ndim == 2 else data
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        count=data.shape[0],
        height=data.shape[1],
        width=data.shape[2],
        dtype=data.dtype,
        crs=crs,
        transform=Affine(res, 0, X0, 0, -res, Y0),
        nodata=nodata,
    ) as dst:
        dst.write(data)
    return path


def bands(tmp_path: Path, size: int = 20, crs: str = "EPSG:32633") -> list[Path]:
    """Three bands (value = 1000 * band + pixel index); all bands nodata at (4, 4)."""
    files = []
    for b in range(3):
        data = (np.arange(size * size, dtype=np.float32).reshape(size, size) + 1000 * b) / 10
        data[4, 4] = -9999
        files.append(write_tif(tmp_path / f"band{b}.tif", data, nodata=-9999, crs=crs))
    return files


def labels_raster(tmp_path: Path, size: int = 20, crs: str = "EPSG:32633") -> Path:
    """Labels 1..3 on every other pixel, nodata elsewhere."""
    labels = np.full((size, size), -99999, np.float32)
    labels[::2, ::2] = (np.arange(size * size).reshape(size, size)[::2, ::2] % 3) + 1
    return write_tif(tmp_path / "labels.tif", labels, nodata=-99999, crs=crs)


def labelled(tmp_path: Path, **kwargs: object) -> LabelledPixelsDataModule:
    options: dict = {"patch_size": 5, "batch_size": 8, **kwargs}
    dm = LabelledPixelsDataModule(
        [str(p) for p in bands(tmp_path)],
        str(labels_raster(tmp_path)),
        "landsat7_etm",
        ["B1", "B2", "B3"],
        **options,
    )
    dm.setup()
    return dm


def test_patches_centred_on_labelled_pixels(tmp_path: Path) -> None:
    dm = labelled(tmp_path)
    full = dm.full
    assert full is not None and isinstance(dm, LabelledSplits)
    # 100 labelled pixels, (4, 4) is nodata in every band and skipped.
    assert len(full) == 99 and dm.num_classes == 3
    for index in range(len(full)):
        sample = full[index]
        row, col = int(full.rows[index]), int(full.cols[index])
        image = sample["image"]
        assert image["values"].shape == (3, 5, 5) and image["valid"][:, 2, 2].all()
        for b in range(3):
            expected = (row * 20 + col + 1000 * b) / 10 * SCALE
            assert image["values"][b, 2, 2].item() == pytest.approx(expected, rel=1e-5)
        assert sample["label"].item() == (row * 20 + col) % 3  # labels 1..3 -> 0..2
        assert image["transform"][2].item() == X0 + (col - 2) * 10
        assert image["transform"][5].item() == Y0 - (row - 2) * 10
        assert not image["values"][~image["valid"]].any()


def test_edge_patches_padded_invalid(tmp_path: Path) -> None:
    full = labelled(tmp_path).full
    assert full is not None
    sample = full[0]  # pixel (0, 0)
    assert (full.rows[0], full.cols[0]) == (0, 0)
    valid = sample["image"]["valid"]
    assert not valid[:, :2, :].any() and not valid[:, :, :2].any() and valid[:, 2:, 2:].all()


def test_keep_invalid_centres_and_offset(tmp_path: Path) -> None:
    dm = labelled(tmp_path, skip_invalid_centres=False, label_offset=0)
    assert dm.full is not None and len(dm.full) == 100 and dm.num_classes == 4
    with pytest.raises(ValueError, match="below label_offset"):
        labelled(tmp_path, label_offset=2)


def test_loaders_and_splits(tmp_path: Path) -> None:
    dm = labelled(tmp_path)
    sizes = {split: len(dm.split_indices[split]) for split in ("train", "val", "test")}
    assert sum(sizes.values()) == 99 and sizes["val"] == sizes["test"] == 20
    seen = []
    for split in ("train", "val", "test"):
        labels = torch.cat([b["label"] for b in dm.split_dataloader(split)])
        assert len(labels) == sizes[split]
        again = torch.cat([b["label"] for b in dm.split_dataloader(split)])
        assert torch.equal(labels, again)
        seen.extend(dm.split_indices[split].tolist())
    assert sorted(seen) == list(range(99))
    train = list(dm.train_dataloader())
    assert all(len(b["label"]) == 8 for b in train) and len(train) == sizes["train"] // 8
    predict = torch.cat([b["label"] for b in dm.predict_dataloader()])
    assert len(predict) == 99
    small = labelled(tmp_path, batch_size=512)
    assert sum(len(b["label"]) for b in small.train_dataloader()) == 59


def test_spatial_split_keeps_blocks_together(tmp_path: Path) -> None:
    dm = labelled(tmp_path, split="spatial", block_size=6)
    assert dm.full is not None
    blocks = (dm.full.rows // 6) * 100 + dm.full.cols // 6
    owner: dict[int, str] = {}
    for split, index in dm.split_indices.items():
        for block in np.unique(blocks[index]):
            assert owner.setdefault(int(block), split) == split
    assert set(owner.values()) == {"train", "val", "test"}


def test_points_labels(tmp_path: Path) -> None:
    geopandas = pytest.importorskip("geopandas")
    from shapely.geometry import Point

    pixels = [(3, 7), (10, 2), (4, 4), (50, 50)]  # (4, 4) is nodata, (50, 50) outside
    frame = geopandas.GeoDataFrame(
        {"id": [2, 1, 3, 1]},
        geometry=[Point(X0 + c * 10 + 5, Y0 - r * 10 - 5) for r, c in pixels],
        crs="EPSG:32633",
    )
    frame.to_file(tmp_path / "points.gpkg")
    dm = LabelledPixelsDataModule(
        [str(p) for p in bands(tmp_path)],
        str(tmp_path / "points.gpkg"),
        "landsat7_etm",
        ["B1", "B2", "B3"],
        patch_size=3,
        val_fraction=0.0,
        test_fraction=0.0,
    )
    dm.setup()
    full = dm.full
    assert full is not None and len(full) == 2
    assert list(zip(full.rows.tolist(), full.cols.tolist(), strict=True)) == [(3, 7), (10, 2)]
    assert full[0]["label"].item() == 1 and full[1]["label"].item() == 0
    assert full[0]["image"]["values"][0, 1, 1].item() == pytest.approx(67.0 / 10 * SCALE)


def test_labels_crs_alias_warns(tmp_path: Path) -> None:
    files = bands(tmp_path, crs="EPSG:32119")
    labels = labels_raster(tmp_path, crs="EPSG:3358")
    dm = LabelledPixelsDataModule(
        [str(p) for p in files], str(labels), "landsat7_etm", ["B1", "B2", "B3"]
    )
    with pytest.warns(UserWarning, match=r"labels.tif"):
        dm.setup()
    assert dm.full is not None and len(dm.full) == 99


def scene_module(path: Path, **kwargs: object) -> SceneWindowDataModule:
    options: dict = {
        "window_size": 8,
        "windows_per_epoch": 16,
        "val_windows": 4,
        "batch_size": 8,
        "band_names": ["B1", "B2", "B3"],
        **kwargs,
    }
    dm = SceneWindowDataModule([str(path)], "landsat7_etm", **options)
    dm.setup()
    return dm


@pytest.fixture
def half_nodata_scene(tmp_path: Path) -> Path:
    """A 3-band 32x32 scene whose left 16 columns are nodata."""
    data = np.random.default_rng(0).uniform(1, 255, (3, 32, 32)).astype(np.float32)
    data[:, :, :16] = -9999
    return write_tif(tmp_path / "scene.tif", data, nodata=-9999)


def epoch_batches(dm: SceneWindowDataModule, epoch: int) -> list[dict]:
    loader = dm.train_dataloader()
    loader.sampler.set_epoch(epoch)  # type: ignore[attr-defined]
    return list(loader)


def test_windows_deterministic_per_seed_and_epoch(half_nodata_scene: Path) -> None:
    first = epoch_batches(scene_module(half_nodata_scene), 0)
    again = epoch_batches(scene_module(half_nodata_scene), 0)
    later = epoch_batches(scene_module(half_nodata_scene), 1)
    other_seed = epoch_batches(scene_module(half_nodata_scene, seed=1), 0)
    assert len(first) == 2 and first[0]["image"]["values"].shape == (8, 3, 8, 8)
    assert first[0]["crs"][0] == "EPSG:32633"
    for a, b in zip(first, again, strict=True):
        assert torch.equal(a["image"]["values"], b["image"]["values"])
        assert torch.equal(a["image"]["transform"], b["image"]["transform"])
    assert not torch.equal(first[0]["image"]["transform"], later[0]["image"]["transform"])
    assert not torch.equal(first[0]["image"]["transform"], other_seed[0]["image"]["transform"])
    val = [list(scene_module(half_nodata_scene).val_dataloader()) for _ in range(2)]
    assert torch.equal(val[0][0]["image"]["values"], val[1][0]["image"]["values"])


def test_workers_draw_the_same_windows(half_nodata_scene: Path) -> None:
    serial = epoch_batches(scene_module(half_nodata_scene), 3)
    parallel = epoch_batches(scene_module(half_nodata_scene, num_workers=2), 3)
    for a, b in zip(serial, parallel, strict=True):
        assert torch.equal(a["image"]["values"], b["image"]["values"])


def test_min_valid_fraction(half_nodata_scene: Path) -> None:
    def fractions(**kwargs: object) -> torch.Tensor:
        batches = epoch_batches(scene_module(half_nodata_scene, windows_per_epoch=64, **kwargs), 0)
        valid = torch.cat([b["image"]["valid"] for b in batches])
        return valid.float().mean(dim=(1, 2, 3))

    assert (fractions(min_valid_fraction=0.0) < 0.5).any()
    assert (fractions(min_valid_fraction=0.9, max_tries=40) >= 0.9).all()
    # Impossible threshold: bounded tries, then the most valid draw is accepted.
    assert len(fractions(min_valid_fraction=1.0, max_tries=2)) == 64


def test_scene_from_band_files_with_mixed_resolution(tmp_path: Path) -> None:
    scene = tmp_path / "scene"
    scene.mkdir()
    write_tif(scene / "x_B1.tif", np.full((16, 16), 10, np.float32))
    write_tif(scene / "x_B2.tif", np.full((16, 16), 20, np.float32))
    write_tif(scene / "x_B3.tif", np.full((8, 8), 30, np.float32), res=20.0)
    dm = scene_module(scene, band_files=["*_B1.tif", "*_B2.tif", "*_B3.tif"])
    values = epoch_batches(dm, 0)[0]["image"]["values"]
    assert torch.allclose(values[:, 2], torch.tensor(30 * SCALE))
    with pytest.raises(FileNotFoundError, match="_B9"):
        scene_module(scene, band_files=["*_B1.tif", "*_B2.tif", "*_B9.tif"])


@pytest.mark.skipif(not REAL.is_dir(), reason=f"{REAL} is absent")
def test_real_landsat7_scene() -> None:
    files = [str(REAL / f"lsat7_2000_{b}.tif") for b in (10, 20, 30, 40, 50, 70)]
    names = ["B1", "B2", "B3", "B4", "B5", "B7"]
    dm = LabelledPixelsDataModule(
        files, str(REAL / "landsat96_labelled_pixels.tif"), "landsat7_etm", names
    )
    with pytest.warns(UserWarning, match="EPSG:32119 vs EPSG:3358"):
        dm.setup()
    full = dm.full
    assert full is not None
    # 2,872 labelled pixels, 168 of them nodata in every band.
    assert len(full) == 2872 - 168 and dm.num_classes == 7
    assert sorted(set(full.labels.tolist())) == list(range(7))
    values, valid = full.values, full.valid
    assert values.shape[0] == 6 and not values[~valid].any()
    assert values.max() <= 1.0 and values[valid].min() >= 0.0
    # B7 is int16 with nodata -32768 and is nodata on far more of the scene.
    invalid = (~valid).float().mean(dim=(1, 2))
    assert invalid[5] > invalid[0] + 0.15
    batch = next(iter(dm.split_dataloader("test")))
    assert batch["image"]["values"].shape == (64, 6, 15, 15)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        spatial = LabelledPixelsDataModule(
            files,
            str(REAL / "landsat96_labelled_pixels.tif"),
            "landsat7_etm",
            names,
            split="spatial",
            skip_invalid_centres=False,
        )
        spatial.setup()
    assert spatial.full is not None and len(spatial.full) == 2872
