"""A second classical feature function for the toy benchmark (several baselines in one run)."""

from __future__ import annotations

from typing import Any

from foundations.data.labelled import SplitFeatures, split_features
from foundations.toy.baselines import fourier_magnitude


def coarse_fourier_features(datamodule: Any) -> SplitFeatures:
    """The 4 x 4 lowest Fourier magnitudes instead of 8 x 8."""
    return split_features(datamodule, lambda batch: fourier_magnitude(batch["image"], keep=4))
