"""Classical medical-imaging baselines: intensity statistics as features, for trees or a linear
model (radiomics-style first-order features, plus a coarse image for radiographs)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch.nn import functional as F

from foundations.data.labelled import SplitFeatures, split_features

HISTOGRAM_BINS = 32
PERCENTILES = (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99, 0.999)


def intensity_statistics(values: torch.Tensor) -> np.ndarray:
    """First-order intensity features of each sample, ``[B, F]``.

    A normalised histogram of the (already windowed, ``[0, 1]``) intensities, percentiles, mean
    and standard deviation: what radiomics calls first-order features. Spatial arrangement is
    ignored, which is what makes it a baseline.

    Args:
        values: ``[B, 1, ...]`` normalised intensities of volumes or radiographs.

    Returns:
        float32 features ``[B, HISTOGRAM_BINS + len(PERCENTILES) + 2]``.
    """
    flat = values.float().flatten(1).clamp(0.0, 1.0)
    edges = torch.linspace(0.0, 1.0, HISTOGRAM_BINS + 1)
    bins = torch.bucketize(flat, edges[1:-1])
    histogram = F.one_hot(bins, HISTOGRAM_BINS).float().mean(dim=1)
    quantiles = torch.quantile(flat, torch.tensor(PERCENTILES), dim=1).T
    moments = torch.stack([flat.mean(dim=1), flat.std(dim=1)], dim=1)
    return torch.cat([histogram, quantiles, moments], dim=1).numpy()


def coarse_image(values: torch.Tensor, size: int = 7) -> np.ndarray:
    """Each image average-pooled to ``size x size`` pixels and flattened, ``[B, size**2]``."""
    return F.adaptive_avg_pool2d(values.float(), size).flatten(1).numpy()


def volume_intensity_features(datamodule: Any) -> SplitFeatures:
    """:func:`intensity_statistics` of every volume of every split."""
    return split_features(datamodule, lambda batch: intensity_statistics(batch["volume"]["values"]))


def radiograph_features(datamodule: Any) -> SplitFeatures:
    """:func:`intensity_statistics` plus a 7x7 :func:`coarse_image` of every radiograph."""

    def features(batch: dict[str, Any]) -> np.ndarray:
        values = batch["image"]["values"]
        return np.concatenate([intensity_statistics(values), coarse_image(values)], axis=1)

    return split_features(datamodule, features)
