"""A datamodule base for labelled datasets with fixed train/val/test splits."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from foundations.data.samplers import EpochShuffleSampler
from foundations.data.splits import Split

SPLIT_NAMES: tuple[Split, ...] = ("train", "val", "test")
SplitFeatures = dict[str, tuple[np.ndarray, np.ndarray]]


def split_features(
    datamodule: Any, extract: Callable[[dict[str, Any]], np.ndarray]
) -> SplitFeatures:
    """``extract(batch)`` for every batch of every split, with the labels: ``{split: (X, y)}``.

    Args:
        datamodule: Any ``LabelledSplits`` datamodule, set up.
        extract: Maps a batch to ``[B, F]`` features (hand-made features, raw inputs).

    Returns:
        Features and labels of ``train``, ``val`` and ``test``, in each split's fixed order.
    """
    features: SplitFeatures = {}
    for split in SPLIT_NAMES:
        xs, ys = [], []
        for batch in datamodule.split_dataloader(split):
            xs.append(extract(batch))
            ys.append(torch.as_tensor(batch["label"]).numpy())
        features[split] = (np.concatenate(xs), np.concatenate(ys))
    return features


class LabelledSplitsDataModule(L.LightningDataModule):
    """Loaders for fixed splits; a subclass only fills :attr:`splits` (and :attr:`full`).

    Implements the ``foundations.data.LabelledSplits`` protocol. Training batches are shuffled
    by :class:`EpochShuffleSampler` and a seeded generator, so data loading never touches the
    global random state and a resumed run continues exactly; the last incomplete training batch
    is dropped when the split holds more than one batch (contrastive losses under DDP want equal
    batches). Every other loader yields each sample once, in a fixed order.

    Args:
        batch_size: Samples per batch, per device.
        num_workers: DataLoader worker processes.
        seed: Seed of the training order.
    """

    def __init__(self, batch_size: int, num_workers: int = 0, seed: int = 0) -> None:
        super().__init__()
        if batch_size <= 0 or num_workers < 0:
            raise ValueError(
                f"batch_size must be positive and num_workers >= 0, got {batch_size}, {num_workers}"
            )
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.seed = seed
        self.splits: dict[str, Dataset[Any]] = {}
        self.full: Dataset[Any] | None = None

    @property
    def train(self) -> Dataset[Any] | None:
        return self.splits.get("train")

    @property
    def val(self) -> Dataset[Any] | None:
        return self.splits.get("val")

    @property
    def test(self) -> Dataset[Any] | None:
        return self.splits.get("test")

    def make_loader(self, dataset: Dataset[Any] | None, train: bool = False) -> DataLoader:
        """A loader over ``dataset`` with this module's batch size, workers and seed.

        Raises:
            RuntimeError: When ``setup()`` has not produced the dataset yet.
        """
        if dataset is None:
            raise RuntimeError(f"call {type(self).__name__}.setup() before asking for data")
        size = len(dataset)  # type: ignore[arg-type]
        return DataLoader(
            dataset,
            batch_size=self.batch_size,
            sampler=EpochShuffleSampler(size, self.seed) if train else None,
            generator=torch.Generator().manual_seed(self.seed),
            drop_last=train and size > self.batch_size,
            num_workers=self.num_workers,
            pin_memory=torch.cuda.is_available(),
            persistent_workers=self.num_workers > 0,
        )

    def train_dataloader(self) -> DataLoader:
        """Shuffled training batches."""
        return self.make_loader(self.train, train=True)

    def val_dataloader(self) -> DataLoader:
        """Validation batches in a fixed order."""
        return self.make_loader(self.val)

    def test_dataloader(self) -> DataLoader:
        """Test batches in a fixed order."""
        return self.make_loader(self.test)

    def split_dataloader(self, split: Split) -> DataLoader:
        """Every sample of ``split`` once, in a fixed order (for probes and benchmarks).

        Raises:
            ValueError: When ``split`` is not train, val or test.
        """
        if split not in SPLIT_NAMES:
            raise ValueError(f"split must be one of {list(SPLIT_NAMES)}, got {split!r}")
        return self.make_loader(self.splits.get(split))

    def predict_dataloader(self) -> DataLoader:
        """Every sample of the dataset (all splits), in dataset order."""
        return self.make_loader(self.full)
