"""Data plumbing shared by every domain: samplers and loader settings."""

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

__all__ = [
    "SPLIT_NAMES",
    "EpochShuffleSampler",
    "LabelledSplits",
    "LabelledSplitsDataModule",
    "Split",
    "check_fractions",
    "grouped_split",
    "random_split",
    "spatial_block_split",
    "split_features",
    "stratified_split",
]
