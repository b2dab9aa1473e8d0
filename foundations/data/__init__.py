"""Data plumbing shared by every domain: samplers and loader settings."""

from foundations.data.samplers import EpochShuffleSampler

__all__ = ["EpochShuffleSampler"]
