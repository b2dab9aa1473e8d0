"""The trimodal (light curve, spectrum, metadata) variable-star datamodule."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from domains.astronomy.synthetic import write_variable_star_folder
from domains.astronomy.trimodal import VariableStarDataModule, default_root


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("trimodal") / "stars"
    return write_variable_star_folder(root, 44, seed=1, missing_spectrum=0.4, missing_metadata=0.2)


def _module(root: Path, **kwargs: object) -> VariableStarDataModule:
    args: dict[str, object] = {"batch_size": 8, "min_class_count": 1, "cache": False}
    return VariableStarDataModule(root=str(root), **(args | kwargs))  # type: ignore[arg-type]


def test_samples_have_three_modalities_and_presence_flags(folder: Path) -> None:
    module = _module(folder, num_pixels=256, length=32)
    module.setup()
    assert module.full is not None and len(module.full) == 44
    assert module.num_classes == 11 and module.num_bands == 3
    assert len(module.metadata_feature_names) == 10
    with_spectrum = {p.stem for p in (folder / "spectra").iterdir()}
    metadata = pd.read_csv(folder / "metadata.csv").set_index("object_id")
    seen_missing = {"spectrum": 0, "metadata": 0}
    for i in range(len(module.full)):
        sample = module.full[i]
        oid = sample["object_id"]
        has_spectrum = bool(sample["present"]["spectrum"])
        has_metadata = bool(sample["present"]["metadata"])
        assert has_spectrum == (oid in with_spectrum)
        assert has_metadata == bool(metadata.loc[oid].notna().any())
        spectrum = sample["spectrum"]
        assert spectrum["flux"].shape == spectrum["wavelength"].shape == (256,)
        assert (spectrum["ivar"] > 0).any() == has_spectrum
        assert sample["metadata"]["mask"].any() == has_metadata
        assert torch.isfinite(sample["metadata"]["values"]).all()
        assert sample["photometry"]["time"].shape == (32,)
        seen_missing["spectrum"] += not has_spectrum
        seen_missing["metadata"] += not has_metadata
    assert seen_missing["spectrum"] > 0 and seen_missing["metadata"] > 0
    batch = next(iter(module.train_dataloader()))
    assert batch["present"]["spectrum"].dtype == torch.bool
    assert batch["present"]["spectrum"].shape == (8,)


def test_splits_are_stratified_and_disjoint(folder: Path) -> None:
    module = _module(folder, val_fraction=0.25, test_fraction=0.25)
    train, val, test = module.split_indices()
    assert len(np.intersect1d(train, val)) == len(np.intersect1d(train, test)) == 0
    assert len(train) + len(val) + len(test) == 44
    assert set(module.targets[train]) == set(range(11))  # every class in training


def test_bad_spectrum_file_is_named(folder: Path, tmp_path: Path) -> None:
    root = tmp_path / "copy"
    shutil.copytree(folder, root)
    bad = sorted((root / "spectra").iterdir())[0]
    bad.write_text("wavelength,flux,ivar\n4000,abc,1\n")
    with pytest.raises(ValueError, match=bad.name):
        _module(root).setup()
    bad.write_text("wavelength,flux,ivar\n1,2,1\n2,3,1\n")  # nanometres written as Angstrom?
    with pytest.raises(ValueError, match=f"{bad.name}.*no valid pixel"):
        _module(root).setup()


def test_bad_metadata_file_is_named(folder: Path, tmp_path: Path) -> None:
    root = tmp_path / "copy"
    shutil.copytree(folder, root)
    frame = pd.read_csv(root / "metadata.csv")
    frame["parallax"] = "unknown"
    frame.to_csv(root / "metadata.csv", index=False)
    with pytest.raises(ValueError, match=r"metadata\.csv.*parallax"):
        _module(root).setup()


def test_parquet_metadata_and_labels_match_their_csv(folder: Path, tmp_path: Path) -> None:
    root = tmp_path / "parquet"
    shutil.copytree(folder, root)
    for name in ("metadata", "labels"):
        pd.read_csv(root / f"{name}.csv", dtype={"object_id": str}).to_parquet(
            root / f"{name}.parquet"
        )
        (root / f"{name}.csv").unlink()
    from_csv = _module(folder, num_pixels=64, length=16)
    from_parquet = _module(
        root, metadata="metadata.parquet", labels="labels.parquet", num_pixels=64, length=16
    )
    from_csv.setup()
    from_parquet.setup()
    assert from_parquet.class_names == from_csv.class_names
    np.testing.assert_array_equal(from_parquet.targets, from_csv.targets)
    assert from_csv.full is not None and from_parquet.full is not None
    for i in (0, 5, 43):
        a, b = from_csv.full[i], from_parquet.full[i]
        assert a["object_id"] == b["object_id"]
        torch.testing.assert_close(a["metadata"], b["metadata"], equal_nan=True)


def test_generated_default_is_written_once_into_the_cache() -> None:
    module = VariableStarDataModule(num_samples=22, batch_size=4, min_class_count=1)
    assert module.root == default_root(22, 0, 0.3, 0.1)
    assert module.root.is_relative_to(os.environ["FOUNDATIONS_CACHE"])  # the test cache
    module.setup()
    assert (module.root / "dataset.json").is_file()
    again = VariableStarDataModule(num_samples=22, batch_size=4, min_class_count=1)
    again.setup()  # from the array caches
    assert again.full is not None and module.full is not None
    first, second = module.full[3], again.full[3]
    torch.testing.assert_close(first["spectrum"]["flux"], second["spectrum"]["flux"])
    assert first["object_id"] == second["object_id"]


def test_periods_reach_the_photometry_of_every_sample() -> None:
    module = VariableStarDataModule(num_samples=22, batch_size=4, min_class_count=1, periods=True)
    module.setup()
    assert module.full is not None
    photometry = module.full[5]["photometry"]
    assert {"period", "power", "median", "scale"} <= set(photometry)
    assert float(photometry["period"]) > 0 and 0 <= float(photometry["power"]) <= 1
    plain = VariableStarDataModule(num_samples=22, batch_size=4, min_class_count=1)
    plain.setup()
    assert plain.full is not None and "period" not in plain.full[5]["photometry"]
