"""The classical baseline: its periodogram agrees with astropy's Lomb-Scargle on the same grid;
the folded profile bins, aligns and fills as documented."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from astropy.timeseries import LombScargle

from domains.astronomy.baselines import MIN_ERROR, best_period, folded_profile


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_best_period_matches_astropy_on_its_autopower_grid(seed: int) -> None:
    rng = np.random.default_rng(seed)
    time = rng.uniform(0, 400, 150)
    period = rng.uniform(0.3, 20)
    value = 0.7 * np.sin(2 * np.pi * time / period) + rng.normal(0, 0.4, time.size)
    error = rng.uniform(0.2, 0.6, time.size)
    found, power = best_period(time, value, error, maximum_frequency=5.0, max_period=200.0)
    frequency, reference = LombScargle(time, value, np.maximum(error, MIN_ERROR)).autopower(
        minimum_frequency=1 / 200.0, maximum_frequency=5.0, samples_per_peak=5, method="slow"
    )
    best = int(np.argmax(reference))
    assert found == pytest.approx(1 / frequency[best], rel=1e-6)
    assert power == pytest.approx(reference[best], abs=1e-6)
    assert found == pytest.approx(period, rel=0.02)


def test_best_period_of_too_few_points_is_the_placeholder() -> None:
    assert best_period(np.array([1.0, 2.0]), np.zeros(2), np.ones(2)) == (1.0, 0.0)
    assert best_period(np.ones(5), np.arange(5.0), np.ones(5)) == (1.0, 0.0)


def test_folded_profile_shape_alignment_and_empty_bins() -> None:
    period, bins = 2.0, 8
    # Float64 times off the bin edges, so that no observation sits on a boundary.
    time = torch.arange(0.0, 40.0, 0.05, dtype=torch.float64)[None] + 0.0123
    # An eclipse (fainter: larger magnitude) once per 2 * period, in the third phase bin.
    phase = torch.remainder(time / (2 * period), 1.0)
    value = torch.where((phase >= 0.25) & (phase < 0.375), 3.0, 0.0)
    mask = torch.ones_like(time, dtype=torch.bool)
    profile = folded_profile(time, value, mask, torch.tensor([period]), bins=bins)
    expected = torch.zeros(1, bins)
    expected[0, 0] = 3.0
    torch.testing.assert_close(profile, expected)
    # The phase origin does not matter: shifting the times by whole bins gives the same profile.
    shifted = folded_profile(
        time + 3 * 2 * period / bins, value, mask, torch.tensor([period]), bins
    )
    torch.testing.assert_close(shifted, profile)
    # Empty bins take the median of the filled ones; an object without observations is zeros.
    sparse = torch.tensor([[0.0, 1.0, 2.0, 0.0]]).repeat(2, 1)
    sparse_time = torch.tensor([[0.1, 1.1, 2.1, 3.1]]).repeat(2, 1)
    sparse_mask = torch.tensor([[True, True, True, False], [False] * 4])
    out = folded_profile(sparse_time, sparse, sparse_mask, torch.tensor([2.0, 2.0]), bins=8)
    assert out[0].tolist() == [2.0, 1.0, 1.0, 1.0, 0.0, 1.0, 1.0, 1.0]
    assert out[1].tolist() == [0.0] * 8


def test_folded_profile_rejects_bad_arguments() -> None:
    time = torch.zeros(1, 4)
    mask = torch.ones(1, 4, dtype=torch.bool)
    with pytest.raises(ValueError, match="bins"):
        folded_profile(time, time, mask, torch.ones(1), bins=1)
    with pytest.raises(ValueError, match="fold_factor"):
        folded_profile(time, time, mask, torch.ones(1), fold_factor=0.0)
    with pytest.raises(ValueError, match="periods must be positive"):
        folded_profile(time, time, mask, torch.zeros(1))
