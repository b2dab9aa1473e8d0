"""PatchFolderDataModule: the generated default, user folders, splits, batches and errors."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import rasterio
import torch
from affine import Affine

from domains.remote_sensing.patches import PatchFolderDataModule
from domains.remote_sensing.synthetic import (
    CLASS_NAMES,
    GENERATOR_VERSION,
    S2_L2A_WAVELENGTHS,
    write_patch_folder,
)
from foundations.data import LabelledSplits
from foundations.io import cache_root

N, SIZE = 80, 16


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_patch_folder(tmp_path_factory.mktemp("rs") / "patches", N, size=SIZE, seed=0)


def _copy(folder: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(folder, tmp_path / "copy"))


def _write_csv(root: Path, text: str) -> None:
    (root / "labels.csv").write_text(text)


def test_default_is_generated_once_in_the_cache_and_reused() -> None:
    data = PatchFolderDataModule(num_samples=40, size=SIZE, batch_size=8, seed=5)
    name = f"synthetic-v{GENERATOR_VERSION}-n40-s{SIZE}-seed5"
    assert data.root == cache_root() / "remote_sensing" / name
    data.prepare_data()
    assert len(list(data.root.glob("*/*.tif"))) == 40
    stamps = {path: path.stat().st_mtime_ns for path in data.root.rglob("*")}
    again = PatchFolderDataModule(num_samples=40, size=SIZE, batch_size=8, seed=5)
    again.prepare_data()
    again.setup()
    assert len(again.full or []) == 40 and again.class_names == CLASS_NAMES
    assert {path: path.stat().st_mtime_ns for path in data.root.rglob("*")} == stamps
    assert not [p for p in data.root.parent.iterdir() if p.name.startswith(".")]


def test_splits_are_disjoint_stratified_and_fixed(folder: Path) -> None:
    data = PatchFolderDataModule(str(folder), batch_size=8, seed=1)
    data.setup()
    train, val, test = data.split_indices()
    assert len(train) + len(val) + len(test) == N and len(val) == len(test) == 16
    assert not set(train) & set(val) and not set(train) & set(test) and not set(val) & set(test)
    labels = data.patch_index.targets
    assert np.bincount(labels[test], minlength=8).tolist() == [2] * 8
    other = PatchFolderDataModule(str(folder), batch_size=8, seed=1)
    np.testing.assert_array_equal(other.split_indices()[2], test)
    assert isinstance(data, LabelledSplits)
    seen = torch.cat([batch["label"] for batch in data.split_dataloader("test")])
    np.testing.assert_array_equal(seen.numpy(), labels[test])


def test_batches_follow_the_contract(folder: Path) -> None:
    data = PatchFolderDataModule(str(folder), batch_size=8)
    data.setup()
    assert data.num_classes == 8
    batches = list(data.train_dataloader())
    assert len(batches) == len(data.train or []) // 8  # last incomplete batch dropped
    batch = batches[0]
    image = batch["image"]
    assert image["values"].shape == (8, 12, SIZE, SIZE) and image["values"].dtype == torch.float32
    assert image["valid"].shape == (8, 12, SIZE, SIZE) and image["valid"].dtype == torch.bool
    assert image["wavelengths"].shape == (8, 12)
    torch.testing.assert_close(image["wavelengths"][0], torch.tensor(S2_L2A_WAVELENGTHS))
    assert image["transform"].shape == (8, 6) and image["transform"].dtype == torch.float64
    assert batch["crs"] == ["EPSG:32633"] * 8
    assert batch["label"].shape == (8,) and batch["label"].dtype == torch.int64
    assert torch.all(image["values"][~image["valid"]] == 0)
    assert 0 < image["values"][image["valid"]].mean() < 1  # scaled back to reflectance
    for loader in (data.val_dataloader(), data.test_dataloader(), data.predict_dataloader()):
        assert sum(len(b["label"]) for b in loader) == len(loader.dataset)  # type: ignore[arg-type]


def test_sensor_wavelengths_override(folder: Path) -> None:
    wavelengths = [0.4 + 0.1 * i for i in range(12)]
    data = PatchFolderDataModule(str(folder), sensor_wavelengths=wavelengths, batch_size=8)
    data.setup()
    sample = (data.full or [])[0]
    torch.testing.assert_close(sample["image"]["wavelengths"], torch.tensor(wavelengths))


def test_wrong_band_count_names_the_file(folder: Path) -> None:
    data = PatchFolderDataModule(str(folder), sensor_wavelengths=[0.49, 0.56, 0.665])
    data.setup()
    assert data.full is not None
    first = data.full.paths[0]
    with pytest.raises(ValueError, match=rf"{re.escape(first.name)}.*12 bands but 3"):
        data.full[0]


def test_missing_file_names_the_file(folder: Path, tmp_path: Path) -> None:
    root = _copy(folder, tmp_path)
    victim = sorted(root.glob("Forest/*.tif"))[0]
    victim.unlink()
    with pytest.raises(FileNotFoundError, match=re.escape(victim.name)):
        PatchFolderDataModule(str(root)).setup()


def test_corrupt_tif_names_the_file(folder: Path, tmp_path: Path) -> None:
    root = _copy(folder, tmp_path)
    victim = root / (root / "labels.csv").read_text().splitlines()[1].split(",")[0]
    victim.write_bytes(b"not a tiff at all")
    data = PatchFolderDataModule(str(root))
    data.setup()
    with pytest.raises(ValueError, match=rf"{re.escape(victim.name)}.*not a readable GeoTIFF"):
        (data.full or [])[0]


def test_unknown_class_names_the_row(folder: Path, tmp_path: Path) -> None:
    root = _copy(folder, tmp_path)
    _write_csv(root, "path,label\nForest/Forest_1.tif,Jungle\n")
    with pytest.raises(ValueError, match=r"line 2 \(Forest/Forest_1.tif\): unknown class 'Jungle'"):
        PatchFolderDataModule(str(root)).setup()


def test_missing_csv_or_column_is_reported(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"labels\.csv"):
        PatchFolderDataModule(str(tmp_path)).setup()
    _write_csv(tmp_path, "file,label\na.tif,x\n")
    with pytest.raises(ValueError, match="needs columns 'path'"):
        PatchFolderDataModule(str(tmp_path)).setup()


def test_multilabel_csv(folder: Path, tmp_path: Path) -> None:
    data = PatchFolderDataModule(str(folder), batch_size=8, multilabel=True)
    data.setup()
    targets = data.patch_index.targets
    assert targets.shape == (N, 8) and targets.dtype == np.float32
    assert set(np.unique(targets)) <= {0.0, 1.0} and targets.sum(axis=1).min() >= 1
    assert targets.sum(axis=1).max() > 1
    label = next(iter(data.val_dataloader()))["label"]
    assert label.shape == (8, 8) and label.dtype == torch.float32
    # A hand-written CSV without classes.txt: class order is the sorted names found.
    root = tmp_path / "user"
    (root / "a").mkdir(parents=True)
    for name in ("x.tif", "y.tif"):
        with rasterio.open(
            root / "a" / name, "w", driver="GTiff", dtype="float32", count=2, height=4, width=4,
            crs="EPSG:4326", transform=Affine(0.1, 0, 10, 0, -0.1, 50),
        ) as dst:  # fmt: skip
            dst.write(np.full((2, 4, 4), 0.25, dtype=np.float32))
    _write_csv(root, "path,labels\na/x.tif,water;urban\na/y.tif,\n")
    user = PatchFolderDataModule(
        str(root), sensor_wavelengths=[0.5, 0.8], multilabel=True, val_fraction=0, test_fraction=0
    )
    user.setup()
    assert user.class_names == ("urban", "water")
    sample = (user.full or [])[0]
    torch.testing.assert_close(sample["label"], torch.tensor([1.0, 1.0]))
    torch.testing.assert_close(sample["image"]["values"], torch.full((2, 4, 4), 0.25))
    assert sample["crs"] == "EPSG:4326" and bool(sample["image"]["valid"].all())
