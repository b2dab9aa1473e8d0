"""Tests for the photometry-table datamodule."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

import domains.astronomy.datamodules as datamodules
from domains.astronomy.datamodules import PhotometryTableDataModule
from domains.astronomy.synthetic import write_variable_star_folder
from domains.astronomy.tokenizer import ObservationTokenizer
from foundations.encoders.encoder import Encoder

CLASS_SIZES = {"A": 10, "B": 10, "C": 3}


def _write(root: Path, unlabelled: int = 2) -> tuple[Path, Path]:
    rng = np.random.default_rng(0)
    rows, labels = [], []
    index = 0
    for name, size in CLASS_SIZES.items():
        for _ in range(size):
            oid = f"star{index}"
            n = int(rng.integers(5, 30))
            for t in np.sort(rng.uniform(2450000, 2451000, n)):
                rows.append((oid, t, 12 + rng.normal(), 0.05))
            labels.append((oid, name))
            index += 1
    for k in range(unlabelled):
        rows.append((f"free{k}", 2450000.0, 12.0, 0.05))
    phot = root / "phot.csv"
    pd.DataFrame(rows, columns=["object_id", "hjd", "mag", "mag_err"]).to_csv(phot, index=False)
    lab = root / "labels.csv"
    pd.DataFrame(labels, columns=["object_id", "class"]).to_csv(lab, index=False)
    return phot, lab


def _module(phot: Path, lab: Path | None, **kwargs: object) -> PhotometryTableDataModule:
    options: dict = {"length": 16, "batch_size": 4, "min_class_count": 5, "seed": 1}
    options.update(kwargs)
    return PhotometryTableDataModule(str(phot), str(lab) if lab else None, **options)


def test_shapes_classes_and_splits(tmp_path: Path) -> None:
    phot, lab = _write(tmp_path)
    dm = _module(phot, lab)
    dm.setup()
    assert dm.class_names == ("A", "B") and dm.num_classes == 2
    assert len(dm.full) == 20  # type: ignore[arg-type]
    assert not any(i.startswith("free") for i in dm.object_ids)
    train, val, test = dm.split_indices()
    assert not set(train) & set(val) and not set(train) & set(test) and not set(val) & set(test)
    assert len(train) + len(val) + len(test) == 20
    for part in (val, test):
        assert sorted(np.unique(dm.targets[part])) == [0, 1]
    batch = next(iter(dm.train_dataloader()))
    assert batch["photometry"]["time"].shape == (4, 16)
    assert batch["photometry"]["mask"].dtype == torch.bool
    assert batch["photometry"]["band"].dtype == torch.int64
    assert batch["label"].shape == (4,) and batch["scale"].shape == (4,)
    assert len(batch["object_id"]) == 4


def test_min_class_count_keeps_small_class(tmp_path: Path) -> None:
    phot, lab = _write(tmp_path)
    dm = _module(phot, lab, min_class_count=3)
    assert dm.class_names == ("A", "B", "C")


def test_cache_is_reused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    phot, lab = _write(tmp_path)
    first = _module(phot, lab)
    first.setup()
    assert first.cache_path().is_file()

    def fail(*args: object, **kwargs: object) -> None:
        raise AssertionError("table re-read despite the cache")

    monkeypatch.setattr(datamodules, "read_photometry_table", fail)
    second = _module(phot, lab)
    second.setup()
    np.testing.assert_array_equal(second.object_ids, first.object_ids)
    a, b = first.full[3], second.full[3]  # type: ignore[index]
    torch.testing.assert_close(a["photometry"], b["photometry"])
    with pytest.raises(AssertionError, match="re-read"):
        _module(phot, lab, length=8).setup()  # other settings: another cache file


def test_unlabelled_module_and_missing_ids(tmp_path: Path) -> None:
    phot, _ = _write(tmp_path)
    dm = _module(phot, None)
    dm.setup()
    assert len(dm.full) == 25 and dm.num_classes == 0  # type: ignore[arg-type]
    assert (dm.targets == -1).all()
    bad = tmp_path / "bad.csv"
    pd.DataFrame({"object_id": ["star0", "ghost"], "class": ["A", "B"]}).to_csv(bad, index=False)
    with pytest.raises(ValueError, match=r"bad\.csv.*ghost"):
        _module(phot, bad).setup()


def test_synthetic_end_to_end(tmp_path: Path) -> None:
    root = write_variable_star_folder(tmp_path / "stars", num_stars=60, seed=0)
    dm = PhotometryTableDataModule(
        str(root / "photometry.csv"),
        str(root / "labels.csv"),
        time_col="time",
        band_col="band",
        length=64,
        batch_size=8,
        min_class_count=2,
    )
    dm.setup()
    assert dm.num_classes >= 2 and dm.num_bands >= 1
    batch = next(iter(dm.train_dataloader()))
    encoder = Encoder(
        ObservationTokenizer(embed_dim=32, num_bands=dm.num_bands),
        modality="photometry",
        depth=1,
        pool="mean",
    )
    with torch.no_grad():
        embedding = encoder(batch["photometry"])
    assert embedding.shape == (8, 32)
    assert torch.isfinite(embedding).all()
