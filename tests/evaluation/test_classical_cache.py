"""Classical baseline features are computed once per dataset, then read from the cache."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from evaluation.cache import EmbeddingCache
from evaluation.runner import classical_features, classical_id
from foundations.toy import baselines
from foundations.toy.datamodule import ShapesDataModule


def test_classical_features_are_cached_per_dataset(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = []
    original = baselines.fourier_features

    def counting(datamodule: Any) -> Any:
        calls.append(datamodule)
        return original(datamodule)

    monkeypatch.setattr(baselines, "fourier_features", counting)
    datamodule = ShapesDataModule(num_samples=64, batch_size=32, root=str(tmp_path / "shapes"))
    datamodule.setup("fit")
    cache = EmbeddingCache(tmp_path / "cache")
    path = "foundations.toy.baselines.fourier_features"
    first = classical_features(path, datamodule, "dataset-a", cache)
    second = classical_features(path, datamodule, "dataset-a", cache)
    assert len(calls) == 1
    for split in ("train", "val", "test"):
        np.testing.assert_array_equal(first[split][0], second[split][0])
        np.testing.assert_array_equal(first[split][1], second[split][1])
    classical_features(path, datamodule, "dataset-b", cache)
    assert len(calls) == 2
    assert classical_id(path).startswith(f"classical:{path}:")
