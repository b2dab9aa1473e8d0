"""The folded profile (the folded-shape baseline's feature and the MAE summary target) bins,
aligns and fills as documented, and ignores whatever padding holds."""

from __future__ import annotations

import pytest
import torch

from domains.astronomy.folding import folded_profile


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


def test_folded_profile_ignores_nan_padding() -> None:
    time = torch.tensor([[0.1, 1.1, 2.1, 3.1, 5.0, 6.0]], dtype=torch.float64)
    value = torch.tensor([[0.0, 1.0, 2.0, 3.0, 9.0, 9.0]], dtype=torch.float64)
    mask = torch.tensor([[True, True, True, True, False, False]])
    clean = folded_profile(time, value, mask, torch.tensor([2.0]), bins=4)
    garbage_time = time.clone()
    garbage_time[0, 4:] = torch.nan
    garbage_value = value.clone()
    garbage_value[0, 4:] = torch.nan
    dirty = folded_profile(garbage_time, garbage_value, mask, torch.tensor([2.0]), bins=4)
    assert torch.isfinite(dirty).all()
    torch.testing.assert_close(dirty, clean)
