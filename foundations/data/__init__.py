"""Data plumbing shared by every domain: samplers and loader settings."""

from foundations.data.labelled import LabelledSplitsDataModule
from foundations.data.partition import grouped_split, random_split, spatial_block_split
from foundations.data.samplers import EpochShuffleSampler
from foundations.data.splits import LabelledSplits, Split

__all__ = [
    "EpochShuffleSampler",
    "LabelledSplits",
    "LabelledSplitsDataModule",
    "Split",
    "grouped_split",
    "random_split",
    "spatial_block_split",
]
