"""Datamodules: the phantom folder (contract, patient splits, cache) and MedMNIST archives."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
import torch

import domains.medical.datamodules as datamodules
import domains.medical.io as medical_io
from domains.medical.datamodules import MedMNISTDataModule, VolumeFolderDataModule
from domains.medical.phantoms import LESION_CLASSES, write_phantom_folder
from foundations.data import LabelledSplits, split_features

PNEUMONIAMNIST = (
    Path(__file__).parents[4] / "shared" / "data" / "pneumoniamnist" / "pneumoniamnist.npz"
)


@pytest.fixture(scope="module")
def phantom_module() -> VolumeFolderDataModule:
    module = VolumeFolderDataModule(num_samples=24, seed=0, batch_size=4, with_reports=True)
    module.prepare_data()
    module.setup()
    return module


def test_phantom_batches_follow_the_contract(phantom_module: VolumeFolderDataModule) -> None:
    assert isinstance(phantom_module, LabelledSplits)
    assert phantom_module.root.name == "phantoms-v2-n24-seed0"
    assert phantom_module.class_names == LESION_CLASSES
    assert phantom_module.num_classes == 4 and phantom_module.task == "multiclass"
    batch = next(iter(phantom_module.train_dataloader()))
    volume = batch["volume"]
    assert volume["values"].shape == (4, 1, 32, 32, 32) and volume["values"].dtype == torch.float32
    assert volume["spacing"].shape == (4, 3) and volume["spacing"].dtype == torch.float32
    assert volume["affine"].shape == (4, 4, 4) and volume["affine"].dtype == torch.float64
    assert float(volume["values"].min()) >= 0.0 and float(volume["values"].max()) <= 1.0
    extent = volume["spacing"] * 32  # resized, physically: 48 x 48 x (48..64 mm)
    assert torch.all((extent[:, 0] > 33) & (extent[:, 0] < 49) & (extent[:, 2] > 40))
    assert batch["label"].dtype == torch.int64 and batch["label"].shape == (4,)
    assert isinstance(batch["patient"], list) and isinstance(batch["patient"][0], str)
    assert isinstance(batch["report"], list) and len(batch["report"]) == 4


def test_patient_splits_are_disjoint(phantom_module: VolumeFolderDataModule) -> None:
    patients = phantom_module.volume_index.patients
    train, val, test = phantom_module.split_indices()
    assert len(train) + len(val) + len(test) == 24
    groups = [set(patients[rows]) for rows in (train, val, test)]
    assert all(groups) and not (
        groups[0] & groups[1] or groups[0] & groups[2] or groups[1] & groups[2]
    )
    features = split_features(phantom_module, lambda b: b["volume"]["values"].flatten(1).numpy())
    assert [len(features[s][1]) for s in ("train", "val", "test")] == [
        len(train),
        len(val),
        len(test),
    ]
    seen = [p for b in phantom_module.split_dataloader("val") for p in b["patient"]]
    assert set(seen) == groups[1]


def test_cache_is_reused(
    phantom_module: VolumeFolderDataModule, monkeypatch: pytest.MonkeyPatch
) -> None:
    def fail(*args: object, **kwargs: object) -> None:
        raise AssertionError("a cached volume was read again")

    monkeypatch.setattr(medical_io, "read_nifti", fail)
    monkeypatch.setattr(datamodules, "read_volume", fail)
    again = VolumeFolderDataModule(num_samples=24, seed=0, batch_size=4)
    again.prepare_data()
    again.setup()
    assert again.cache_dir == phantom_module.cache_dir
    first = next(iter(phantom_module.split_dataloader("test")))["volume"]["values"]
    second = next(iter(again.split_dataloader("test")))["volume"]["values"]
    torch.testing.assert_close(first, second)
    other = VolumeFolderDataModule(num_samples=24, seed=0, window="bone")  # new settings
    with pytest.raises(AssertionError, match="read again"):
        other.setup()


def test_user_folder_uncached_and_errors(tmp_path: Path) -> None:
    root = write_phantom_folder(tmp_path / "data", 6, seed=5)
    with open(root / "labels.csv", newline="") as file:
        rows = list(csv.DictReader(file))
    with open(root / "unlabelled.csv", "w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["path"])  # no patient column: every file is its own patient
        writer.writerows([row["path"]] for row in rows)
    module = VolumeFolderDataModule(
        root=str(root),
        labels_csv="unlabelled.csv",
        size=16,
        cache=False,
        batch_size=2,
        val_fraction=0.2,
        test_fraction=0.2,
        window="mr",
    )
    module.setup()
    sample = module.full[0]  # type: ignore[index]
    assert "label" not in sample and sample["volume"]["values"].shape == (1, 16, 16, 16)
    assert module.cache_dir is None and module.class_names == ()
    assert sample["patient"] == rows[0]["path"]

    with pytest.raises(ValueError, match="with_reports needs a 'report' column"):
        VolumeFolderDataModule(
            root=str(root), labels_csv="unlabelled.csv", with_reports=True
        ).setup()
    (root / rows[0]["path"]).unlink()
    with pytest.raises(FileNotFoundError, match=rows[0]["path"].split("/")[-1]):
        VolumeFolderDataModule(root=str(root)).setup()
    with pytest.raises(ValueError, match="batch_size must be positive"):
        VolumeFolderDataModule(batch_size=0)


def _fake_medmnist(path: Path, shape: tuple[int, ...], labels: int = 1, classes: int = 3) -> Path:
    rng = np.random.default_rng(0)
    arrays = {}
    for split, n in (("train", 10), ("val", 4), ("test", 6)):
        arrays[f"{split}_images"] = rng.integers(0, 256, (n, *shape), dtype=np.uint8)
        arrays[f"{split}_labels"] = rng.integers(0, classes, (n, labels)).astype(np.uint8)
    np.savez(path, **arrays)
    return path


def test_medmnist_2d_3d_and_multilabel(tmp_path: Path) -> None:
    module = MedMNISTDataModule(str(_fake_medmnist(tmp_path / "gray.npz", (28, 28))), batch_size=4)
    module.setup()
    assert [len(module.splits[s]) for s in ("train", "val", "test")] == [10, 4, 6]  # type: ignore[arg-type]
    assert len(module.full) == 20  # type: ignore[arg-type]
    batch = next(iter(module.train_dataloader()))
    assert batch["image"]["values"].shape == (4, 1, 28, 28)
    assert batch["image"]["values"].dtype == torch.float32
    assert float(batch["image"]["values"].max()) <= 1.0
    torch.testing.assert_close(batch["image"]["spacing"], torch.ones(4, 2))
    assert batch["label"].dtype == torch.int64 and batch["label"].shape == (4,)
    assert module.task == "multiclass" and module.num_classes == 3

    rgb = MedMNISTDataModule(str(_fake_medmnist(tmp_path / "rgb.npz", (28, 28, 3))), size=32)
    rgb.setup()
    assert rgb.splits["val"][0]["image"]["values"].shape == (3, 32, 32)

    volumes = MedMNISTDataModule(
        str(_fake_medmnist(tmp_path / "3d.npz", (8, 8, 8), classes=2)), size=12
    )
    volumes.setup()
    volume = volumes.splits["test"][0]["volume"]
    assert volume["values"].shape == (1, 12, 12, 12) and volume["affine"].dtype == torch.float64
    torch.testing.assert_close(volume["spacing"], torch.ones(3))
    assert volumes.task == "binary"

    chest = MedMNISTDataModule(
        str(_fake_medmnist(tmp_path / "chest.npz", (28, 28), labels=14, classes=2))
    )
    chest.setup()
    label = chest.splits["train"][0]["label"]
    assert label.dtype == torch.float32 and label.shape == (14,)
    assert chest.task == "multilabel" and chest.num_classes == 14


@pytest.mark.skipif(not PNEUMONIAMNIST.is_file(), reason="shared PneumoniaMNIST not present")
def test_real_pneumoniamnist() -> None:
    module = MedMNISTDataModule(
        str(PNEUMONIAMNIST), batch_size=256, class_names=["normal", "pneumonia"]
    )
    module.setup()
    assert [len(module.splits[s]) for s in ("train", "val", "test")] == [4708, 524, 624]  # type: ignore[arg-type]
    assert module.task == "binary" and module.class_names == ("normal", "pneumonia")
    batch = next(iter(module.split_dataloader("test")))
    assert batch["image"]["values"].shape == (256, 1, 28, 28)
    assert set(batch["label"].unique().tolist()) == {0, 1}
