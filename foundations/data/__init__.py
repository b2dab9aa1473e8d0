"""Data plumbing shared by every domain: samplers, loader settings and streaming shards."""

from typing import TYPE_CHECKING, Any

from foundations.data.labelled import SPLIT_NAMES, LabelledSplitsDataModule, split_features
from foundations.data.partition import (
    check_fractions,
    grouped_split,
    random_split,
    spatial_block_split,
    stratified_split,
)
from foundations.data.samplers import EpochShuffleSampler
from foundations.data.splits import LabelledSplits, Split

if TYPE_CHECKING:
    from foundations.data.streaming import StreamingDataModule, write_shards

# Streaming pulls in LitData and boto3 (0.1 s); every domain datamodule imports this package,
# so the streaming names load on first use.
_STREAMING_NAMES = ("StreamingDataModule", "write_shards")

__all__ = [
    "SPLIT_NAMES",
    "EpochShuffleSampler",
    "LabelledSplits",
    "LabelledSplitsDataModule",
    "Split",
    "StreamingDataModule",
    "check_fractions",
    "grouped_split",
    "random_split",
    "spatial_block_split",
    "split_features",
    "stratified_split",
    "write_shards",
]


def __getattr__(name: str) -> Any:
    if name in _STREAMING_NAMES:
        from foundations.data import streaming

        return getattr(streaming, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
