"""Tiny datamodules of each domain's embedded generator, and an exact sample comparison."""

from __future__ import annotations

from typing import Any

import lightning as L
import numpy as np
import torch
from torch.utils.data import Dataset


def tiny_datamodule(domain: str) -> L.LightningDataModule:
    """A few generated samples in the domain's sample layout (seconds to generate)."""
    if domain == "remote_sensing":
        from domains.remote_sensing.patches import PatchFolderDataModule

        return PatchFolderDataModule(num_samples=40, size=16, batch_size=4)
    if domain == "medical":
        from domains.medical.datamodules import VolumeFolderDataModule

        return VolumeFolderDataModule(num_samples=24, size=16, batch_size=4, cache=False)
    if domain == "astronomy":
        from domains.astronomy.trimodal import VariableStarDataModule

        return VariableStarDataModule(
            num_samples=40, length=32, num_pixels=64, batch_size=4, min_class_count=1, cache=False
        )
    raise ValueError(domain)


class IdDataset(Dataset[dict[str, Any]]):
    """``{"id": int64, "x": float16 [3], "nested": {...}}`` samples with known ids."""

    def __init__(self, size: int) -> None:
        self.size = size

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, index: int) -> dict[str, Any]:
        return {
            "id": torch.tensor(index),
            "x": torch.full((3,), float(index), dtype=torch.float16),
            "nested": {"name": f"s{index}", "weight": index / 7},
        }


class IdDataModule(L.LightningDataModule):
    """Train/val/test splits of :class:`IdDataset` with disjoint id ranges."""

    def __init__(self, size: int = 200) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.splits = {"train": IdDataset(size), "val": IdDataset(size // 4)}


def assert_same(actual: Any, expected: Any, path: str = "") -> None:
    """Exact equality of nested samples: keys, kinds, dtypes, shapes and values (NaN == NaN)."""
    if isinstance(expected, dict):
        assert isinstance(actual, dict) and list(actual) == list(expected), path
        for key in expected:
            assert_same(actual[key], expected[key], f"{path}/{key}")
    elif isinstance(expected, torch.Tensor):
        assert isinstance(actual, torch.Tensor), path
        assert actual.dtype == expected.dtype and actual.shape == expected.shape, path
        torch.testing.assert_close(actual, expected, rtol=0, atol=0, equal_nan=True, msg=path)
    elif isinstance(expected, np.ndarray | np.generic):
        expected = np.asarray(expected)
        assert isinstance(actual, np.ndarray) and actual.dtype == expected.dtype, path
        np.testing.assert_array_equal(actual, expected, err_msg=path)
    else:
        assert type(actual) is type(expected) and actual == expected, path
