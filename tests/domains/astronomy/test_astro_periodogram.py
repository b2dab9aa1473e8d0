"""The classical baseline: its periodogram agrees with astropy's Lomb-Scargle on the same grid."""

from __future__ import annotations

import numpy as np
import pytest
from astropy.timeseries import LombScargle

from domains.astronomy.baselines import MIN_ERROR, best_period


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
