"""``StreamingDataModule``: train and evaluate from shards of ``foundations data shard``."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import lightning as L
import torch
from litdata import StreamingDataLoader

from foundations.data.splits import Split
from foundations.data.streaming.dataset import BufferedStreamingDataset
from foundations.data.streaming.manifest import (
    ShardFormatError,
    is_remote,
    read_manifest,
    split_dir,
)

SPLITS: tuple[Split, ...] = ("train", "val", "test")


class TrainerEpochLoader(StreamingDataLoader):
    """A ``StreamingDataLoader`` whose shuffling epoch is the trainer's epoch.

    The stock loader counts its own iterations, so a run resumed at an epoch boundary (whose
    loader Lightning builds before restoring the loop) would replay the first epoch's order;
    this one takes the epoch Lightning gives samplers (``set_epoch``) when iteration starts.
    Mid-epoch restores keep LitData's own state.

    Args:
        dataset: The streaming dataset.
        epoch: Returns the trainer's (0-based) epoch, or None outside a trainer.
        **kwargs: Passed to ``StreamingDataLoader``.
    """

    def __init__(
        self,
        dataset: BufferedStreamingDataset,
        epoch: Callable[[], int | None] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(dataset, **kwargs)
        self.epoch = epoch

    def __iter__(self) -> Iterator[Any]:
        # A generator, like the parent's: the epoch is read at the first batch, after Lightning
        # has restored its loops (it creates the iterator earlier, in setup_data).
        current = None if self.epoch is None else self.epoch()
        if current is not None and not self.restore:
            self.current_epoch = current  # LitData adds 1: its epochs count from 1
        yield from super().__iter__()


class StreamingDataModule(L.LightningDataModule):
    """Batches streamed from a LitData shard set, from a local folder or an object store.

    ``path`` holds one folder per split (``train``, and optionally ``val`` and ``test``).
    LitData splits the shards between ranks and DataLoader workers (each sample once per
    epoch across all of them), shuffles the shard order and the samples inside each shard
    from ``(seed, epoch)``, and keeps at most a few shards per worker in memory; remote
    shards are downloaded into ``cache_dir`` and evicted beyond ``max_cache_size``. A
    ``shuffle_buffer`` additionally mixes samples of several shards into each batch
    (:class:`BufferedStreamingDataset`). Training batches have equal sizes (last partial
    batch dropped) and the loader's state is checkpointed by Lightning for mid-epoch resume.

    Labelled ``val``/``test`` shards make it a ``LabelledSplits`` datamodule for evaluation:
    :meth:`split_dataloader` yields every sample once in the written order.

    Args:
        path: Root of the shard set: a folder or ``s3://``/``gs://`` URL.
        batch_size: Samples per batch, per device.
        num_workers: DataLoader worker processes (each streams its own shards).
        shuffle: Shuffle training data (shards and samples).
        seed: Seed of the shuffles; the order is a function of ``(seed, epoch)``.
        shuffle_buffer: Decoded samples held per worker to mix shards in a batch; 0 is off.
        max_cache_size: Cache budget for remote shards (``"50GB"``); default LitData's.
        cache_dir: Local cache of remote shards; default LitData's.
        splits: Splits to open. Default: local, every split folder present (train required);
            remote, ``["train"]`` (the store is not listed).

    Raises:
        ValueError: On a non-positive batch size or negative worker count or buffer.
    """

    def __init__(
        self,
        path: str,
        batch_size: int = 32,
        num_workers: int = 0,
        shuffle: bool = True,
        seed: int = 0,
        shuffle_buffer: int = 0,
        max_cache_size: str | None = None,
        cache_dir: str | None = None,
        splits: list[Split] | None = None,
    ) -> None:
        super().__init__()
        if batch_size <= 0 or num_workers < 0 or shuffle_buffer < 0:
            raise ValueError(
                "batch_size must be positive, num_workers and shuffle_buffer >= 0, got "
                f"{batch_size}, {num_workers}, {shuffle_buffer}"
            )
        self.save_hyperparameters()
        self.path = path
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.shuffle = shuffle
        self.seed = seed
        self.shuffle_buffer = shuffle_buffer
        self.max_cache_size = max_cache_size
        self.cache_dir = cache_dir
        self.requested_splits = splits
        self.manifests: dict[str, dict[str, Any]] = {}
        self.datasets: dict[str, BufferedStreamingDataset] = {}
        self._ordered: dict[str, BufferedStreamingDataset] = {}  # unshuffled train, for probes

    def _available_splits(self) -> list[Split]:
        if self.requested_splits is not None:
            return list(self.requested_splits)
        if is_remote(self.path):
            return ["train"]
        root = Path(self.path)
        if not root.is_dir():
            raise ShardFormatError(
                f"shard folder not found: {root} (write it with `foundations data shard`)"
            )
        present = [split for split in SPLITS if (root / split).is_dir()]
        if "train" not in present:
            raise ShardFormatError(f"{root} has no train/ shard folder (found {present})")
        return present

    def _dataset(self, split: Split, train: bool) -> BufferedStreamingDataset:
        folder = split_dir(self.path, split)
        if not is_remote(folder):
            self.manifests[split] = read_manifest(folder)
        try:
            return BufferedStreamingDataset(
                folder,
                cache_dir=self.cache_dir,
                shuffle=train and self.shuffle,
                seed=self.seed,
                drop_last=True if train else None,
                max_cache_size=self.max_cache_size,
                shuffle_buffer=self.shuffle_buffer if train else 0,
            )
        except (OSError, ValueError, KeyError) as error:
            raise ShardFormatError(f"cannot open shards at {folder}: {error}") from error

    def setup(self, stage: str | None = None) -> None:
        """Open each split's shards (after the distributed environment is up).

        Raises:
            ShardFormatError: Naming the folder or file when shards or manifests are missing
                or inconsistent.
        """
        if self.datasets:
            return
        for split in self._available_splits():
            self.datasets[split] = self._dataset(split, train=split == "train")

    def schema(self, split: Split = "train") -> dict[str, Any]:
        """The sample schema recorded in a local split's manifest."""
        return dict(self.manifests[split]["schema"])

    def _loader(self, dataset: BufferedStreamingDataset | None, split: str, train: bool) -> Any:
        if dataset is None:
            raise RuntimeError(
                f"no {split!r} shards under {self.path}; call setup() first or write them with "
                f"`foundations data shard --split {split}`"
            )
        return TrainerEpochLoader(
            dataset,
            epoch=self._trainer_epoch if train else None,
            batch_size=self.batch_size,
            num_workers=self.num_workers,
            drop_last=train and len(dataset) > self.batch_size,
            pin_memory=torch.cuda.is_available(),
            persistent_workers=self.num_workers > 0,
        )

    def _trainer_epoch(self) -> int | None:
        # The epoch Lightning hands to samplers' set_epoch (also right after a restore).
        if self.trainer is None:
            return None
        progress = self.trainer.fit_loop.epoch_progress.current  # a _ProcessedTracker at runtime
        return int(getattr(progress, "processed", progress.completed))

    def train_dataloader(self) -> Any:
        """Shuffled training batches of equal size."""
        return self._loader(self.datasets.get("train"), "train", train=True)

    def val_dataloader(self) -> Any:
        """Validation batches in the written order; none without ``val`` shards."""
        if "val" not in self.datasets:
            return []
        return self._loader(self.datasets["val"], "val", train=False)

    def test_dataloader(self) -> Any:
        """Test batches in the written order."""
        return self._loader(self.datasets.get("test"), "test", train=False)

    def split_dataloader(self, split: Split) -> Any:
        """Every sample of ``split`` once, in the written order (``LabelledSplits``).

        Raises:
            ValueError: When ``split`` is not train, val or test.
        """
        if split not in SPLITS:
            raise ValueError(f"split must be one of {list(SPLITS)}, got {split!r}")
        if split == "train" and "train" in self.datasets:
            if "train" not in self._ordered:
                self._ordered["train"] = self._dataset("train", train=False)
            return self._loader(self._ordered["train"], "train", train=False)
        return self._loader(self.datasets.get(split), split, train=False)

    def predict_dataloader(self) -> Any:
        """Every training sample once, in the written order."""
        return self.split_dataloader("train")
