"""Data plumbing shared by every domain: samplers, loader settings and streaming shards."""

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
from foundations.data.streaming import StreamingDataModule, write_shards

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
