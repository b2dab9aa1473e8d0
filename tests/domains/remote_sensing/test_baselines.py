"""Classical spectral features respect the nodata mask."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from domains.remote_sensing.baselines import (
    centre_spectrum,
    mean_spectrum,
    timeseries_mean_spectrum,
    timeseries_mean_spectrum_features,
)
from domains.remote_sensing.timeseries import TimeSeriesDataModule


def test_centre_spectrum_reads_the_centre_pixel() -> None:
    values = torch.zeros(2, 3, 5, 5)
    values[:, :, 2, 2] = torch.tensor([0.1, 0.2, 0.3])
    spectra = centre_spectrum(
        {"values": values, "valid": torch.ones_like(values, dtype=torch.bool)}
    )
    assert np.allclose(spectra, [[0.1, 0.2, 0.3]] * 2)


def test_mean_spectrum_ignores_invalid_pixels() -> None:
    values = torch.full((1, 2, 4, 4), 0.5)
    valid = torch.ones_like(values, dtype=torch.bool)
    values[0, 0, 0, :] = 100.0  # nodata garbage
    valid[0, 0, 0, :] = False
    features = mean_spectrum({"values": values, "valid": valid})
    assert np.allclose(features, [[0.5, 0.5, 0.0, 0.0]])


def test_timeseries_profile_is_date_major_with_padded_dates_zero() -> None:
    values = torch.zeros(2, 3, 2, 4, 4)  # [B, T, C, H, W]
    for step in range(3):
        values[:, step, 0] = 0.1 * (step + 1)
        values[:, step, 1] = 0.5
    valid = torch.ones_like(values, dtype=torch.bool)
    values[0, 0, 1, 0, :] = 100.0  # nodata garbage
    valid[0, 0, 1, 0, :] = False
    date_valid = torch.tensor([[True, True, True], [True, True, False]])
    valid[1, 2] = False  # a padded date: all invalid...
    values[1, 2] = 7.0  # ...whatever it holds
    features = timeseries_mean_spectrum(
        {"values": values, "valid": valid, "date_valid": date_valid}
    )
    assert features.shape == (2, 3 * 2 * 2)
    profile = features.reshape(2, 3, 4)  # date-major: [mean C0, mean C1, std C0, std C1]
    assert np.allclose(profile[:, :, 0], [[0.1, 0.2, 0.3], [0.1, 0.2, 0.0]])
    assert np.allclose(profile[:, :, 1], [[0.5, 0.5, 0.5], [0.5, 0.5, 0.0]])
    assert np.allclose(profile[:, :, 2:], 0.0, atol=1e-6)
    # date_valid alone zeroes a date, even when its pixels are marked valid.
    valid[1, 2] = True
    masked = timeseries_mean_spectrum({"values": values, "valid": valid, "date_valid": date_valid})
    assert np.allclose(masked.reshape(2, 3, 4)[1, 2], 0.0)


def test_timeseries_profile_needs_a_time_axis() -> None:
    values = torch.zeros(2, 3, 4, 4)
    with pytest.raises(ValueError, match=r"\[B, T, C, H, W\]"):
        timeseries_mean_spectrum({"values": values, "valid": values.bool()})


def test_timeseries_profile_features_of_the_synthetic_default() -> None:
    dm = TimeSeriesDataModule(num_samples=21, num_dates=4, size=16, batch_size=8)
    dm.prepare_data()
    dm.setup()
    features = timeseries_mean_spectrum_features(dm)
    sizes = {split: len(dm.split_dataloader(split).dataset) for split in features}
    for split, (x, y) in features.items():
        assert x.shape == (sizes[split], 4 * 2 * 12) and y.shape == (sizes[split],)
    x = np.concatenate([features[s][0] for s in ("train", "val", "test")])
    assert np.isfinite(x).all() and (x != 0).any()
