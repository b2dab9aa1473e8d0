"""Data plumbing shared by every domain: samplers and loader settings."""

from foundations.data.samplers import EpochShuffleSampler
from foundations.data.splits import LabelledSplits, Split

__all__ = ["EpochShuffleSampler", "LabelledSplits", "Split"]
