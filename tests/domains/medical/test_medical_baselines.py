"""Classical medical baselines: first-order intensity features that see what they should."""

from __future__ import annotations

import torch

from domains.medical.baselines import (
    HISTOGRAM_BINS,
    PERCENTILES,
    coarse_image,
    intensity_statistics,
)
from evaluation.benchmark import registered_benchmarks


def test_intensity_statistics_shape_and_histogram() -> None:
    values = torch.zeros(2, 1, 8, 8, 8)
    values[1] = 1.0
    features = intensity_statistics(values)
    assert features.shape == (2, HISTOGRAM_BINS + len(PERCENTILES) + 2)
    assert features[0, 0] == 1.0 and features[0, HISTOGRAM_BINS - 1] == 0.0
    assert features[1, HISTOGRAM_BINS - 1] == 1.0


def test_a_bright_focus_moves_the_top_percentile() -> None:
    values = torch.full((2, 1, 10, 10, 10), 0.3)
    values[1, 0, :2, :2, :3] = 1.0  # 12 voxels of 1000: above the 99th percentile
    top = intensity_statistics(values)[:, HISTOGRAM_BINS + len(PERCENTILES) - 1]
    assert top[0] < 0.31 and top[1] > 0.99


def test_coarse_image_pools_to_a_grid() -> None:
    image = torch.arange(28 * 28, dtype=torch.float32).reshape(1, 1, 28, 28)
    pooled = coarse_image(image)
    assert pooled.shape == (1, 49)
    assert pooled[0, 0] == image[0, 0, :4, :4].mean()


def test_medical_benchmarks_are_registered() -> None:
    benchmarks = registered_benchmarks()
    assert benchmarks["pneumoniamnist"].task == "binary"
    assert benchmarks["pneumoniamnist"].primary_metric == "auroc"
    assert benchmarks["med-phantoms"].split.startswith("grouped by patient")
