"""The raw-input baseline: flattened numbers, pooled only when they are too many."""

from __future__ import annotations

import pytest
import torch

from evaluation.raw import RawInputs


def test_small_inputs_are_flattened_unchanged() -> None:
    images = torch.rand(2, 3, 8, 8)
    torch.testing.assert_close(RawInputs()(images), images.flatten(1))


def test_large_rasters_are_pooled_per_band() -> None:
    raster = torch.rand(2, 12, 64, 64)
    features = RawInputs()(raster)
    assert features.shape == (2, 12 * 18 * 18)


def test_large_volumes_are_pooled_in_3d() -> None:
    volume = torch.zeros(2, 1, 32, 32, 32)
    volume[1, :, :16, :16, :16] = 1.0
    features = RawInputs()(volume)
    assert features.shape == (2, 16**3)
    assert features[0].sum() == 0 and features[1].reshape(16, 16, 16)[:8, :8, :8].eq(1).all()


def test_invalid_values_are_zeroed() -> None:
    values = torch.ones(1, 2, 4, 4)
    valid = torch.zeros_like(values, dtype=torch.bool)
    assert RawInputs()({"values": values, "valid": valid}).sum() == 0


def test_time_series_pool_space_not_time() -> None:
    values = torch.rand(2, 12, 6, 32, 32)
    series = {"values": values, "valid": torch.ones_like(values, dtype=torch.bool)}
    series["dates"] = torch.arange(12.0)
    features = RawInputs()(series)
    assert features.shape == (2, 72 * 7 * 7)


def test_light_curves_are_not_raw_features() -> None:
    photometry = {"time": torch.zeros(2, 5), "value": torch.zeros(2, 5)}
    assert not RawInputs.accepts(photometry)
    assert RawInputs.accepts(torch.zeros(2, 3)) and RawInputs.accepts({"values": torch.zeros(2, 3)})
    with pytest.raises(TypeError, match="tensor or a dict with 'values'"):
        RawInputs()(photometry)
