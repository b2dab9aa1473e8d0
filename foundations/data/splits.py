"""The contract between labelled datamodules and evaluation."""

from __future__ import annotations

from typing import Literal, Protocol, runtime_checkable

from torch.utils.data import DataLoader

Split = Literal["train", "val", "test"]


@runtime_checkable
class LabelledSplits(Protocol):
    """A datamodule whose fixed splits can be read in order, for probes and benchmarks.

    Unlike ``train_dataloader`` (shuffled, last batch dropped), ``split_dataloader`` yields
    every sample of the split exactly once, in a fixed order, with its ``label``.
    """

    def split_dataloader(self, split: Split) -> DataLoader: ...
