"""Tests for the one-token-per-observation light-curve tokenizer."""

from __future__ import annotations

import pytest
import torch

from domains.astronomy.folding import folded_profile
from domains.astronomy.tokenizer import ObservationTokenizer, sinusoidal_time_encoding
from foundations.encoders.encoder import Encoder


def _batch(batch: int = 2, length: int = 12, num_bands: int = 2, seed: int = 0):
    gen = torch.Generator().manual_seed(seed)
    time = torch.sort(torch.rand(batch, length, generator=gen) * 500.0, dim=1).values
    return {
        "time": time,
        "value": torch.randn(batch, length, generator=gen),
        "error": torch.rand(batch, length, generator=gen) * 0.2 + 0.01,
        "band": torch.randint(0, num_bands, (batch, length), generator=gen),
        "mask": torch.ones(batch, length, dtype=torch.bool),
    }


def test_shapes_and_fields() -> None:
    tokenizer = ObservationTokenizer(embed_dim=32, num_bands=2)
    inputs = _batch()
    inputs["mask"][1, 8:] = False
    out = tokenizer(inputs)
    assert out.tokens.shape == (2, 12, 32)
    assert out.pos is not None and out.pos.shape == (2, 12, 32)
    assert out.padding_mask is not None
    assert torch.equal(out.padding_mask, ~inputs["mask"])
    assert out.target is not None and out.target.shape == (2, 12, 1)
    assert out.target_mask is not None and torch.equal(out.target_mask[..., 0], inputs["mask"])
    assert torch.equal(out.target[0, :, 0], inputs["value"][0])
    assert tokenizer.target_dim == 1 and tokenizer.embed_dim == 32


def test_shape_mismatch_and_bad_band_raise() -> None:
    tokenizer = ObservationTokenizer(embed_dim=16, num_bands=2)
    inputs = _batch()
    inputs["error"] = inputs["error"][:, :5]
    with pytest.raises(ValueError, match="one shape"):
        tokenizer(inputs)
    inputs = _batch()
    del inputs["band"]
    with pytest.raises(ValueError, match="missing"):
        tokenizer(inputs)
    inputs = _batch()
    inputs["band"][0, 0] = 5
    with pytest.raises(ValueError, match="num_bands"):
        tokenizer(inputs)
    with pytest.raises(ValueError, match="even"):
        ObservationTokenizer(embed_dim=15)


def test_padding_with_garbage_does_not_change_embedding() -> None:
    torch.manual_seed(0)
    encoder = Encoder(
        ObservationTokenizer(embed_dim=32, num_bands=2), modality="photometry", pool="mean"
    ).eval()
    inputs = _batch(length=10)
    padded = {key: torch.cat([value, value[:, :6]], dim=1) for key, value in inputs.items()}
    padded["mask"][:, 10:] = False
    padded["value"][:, 10:] = float("nan")
    padded["error"][:, 10:] = -3.0
    padded["time"][:, 10:] = 1e9
    padded["band"][:, 10:] = 99
    with torch.no_grad():
        plain, extended = encoder(inputs), encoder(padded)
    assert torch.isfinite(extended).all()
    torch.testing.assert_close(plain, extended, atol=1e-5, rtol=1e-5)


def test_time_shift_rotates_positions_and_keeps_content() -> None:
    tokenizer = ObservationTokenizer(embed_dim=32, num_bands=2, max_period_days=1000.0)
    inputs = _batch()
    inputs["time"] = inputs["time"].double()  # float32 times would blur 0.01-day phases
    shifted = dict(inputs, time=inputs["time"] + 123.25)
    a, b = tokenizer(inputs), tokenizer(shifted)
    torch.testing.assert_close(a.tokens, b.tokens)
    assert a.pos is not None and b.pos is not None
    assert not torch.allclose(a.pos, b.pos)
    # Inner products between positions depend only on time differences.
    gram_a = a.pos @ a.pos.transpose(1, 2)
    gram_b = b.pos @ b.pos.transpose(1, 2)
    torch.testing.assert_close(gram_a, gram_b, atol=1e-4, rtol=1e-4)
    # Each (sin, cos) pair rotates by 2 pi dt / P.
    half = 16
    angle = (2 * torch.pi * torch.remainder(123.25 * tokenizer.inverse_periods, 1.0)).float()
    sin_a, cos_a = a.pos[..., :half], a.pos[..., half:]
    expected_sin = sin_a * torch.cos(angle) + cos_a * torch.sin(angle)
    torch.testing.assert_close(b.pos[..., :half], expected_sin, atol=1e-4, rtol=1e-4)


def test_phase_is_precise_at_large_times() -> None:
    inverse = torch.tensor([1.0 / 0.01], dtype=torch.float64)
    pos = sinusoidal_time_encoding(torch.tensor([2_450_000.0025], dtype=torch.float64), inverse)
    # 2_450_000.0025 days is a quarter of a 0.01-day period past a whole number of cycles.
    torch.testing.assert_close(pos, torch.tensor([[1.0, 0.0]]), atol=1e-3, rtol=0)


def test_band_embedding_is_used() -> None:
    tokenizer = ObservationTokenizer(embed_dim=16, num_bands=3)
    inputs = _batch(num_bands=3)
    other = dict(inputs, band=(inputs["band"] + 1) % 3)
    a, b = tokenizer(inputs), tokenizer(other)
    assert not torch.allclose(a.tokens, b.tokens)
    diff = a.tokens - b.tokens
    weight = tokenizer.band_embed.weight
    torch.testing.assert_close(diff, weight[inputs["band"]] - weight[other["band"]])


def test_summary_target_is_the_folded_profile_of_the_real_observations() -> None:
    tokenizer = ObservationTokenizer(
        embed_dim=16, num_bands=2, object_features=True, fold_factor=2, summary_bins=8
    )
    inputs = _batch(length=40)
    inputs["mask"][1, 30:] = False
    inputs["time"][1, 30:] = torch.nan
    inputs["period"] = torch.tensor([3.0, 0.7])
    target = tokenizer.summary_target(inputs)
    assert target.shape == (2, 8) and tokenizer.summary_dim == 8
    expected = folded_profile(
        inputs["time"], inputs["value"], inputs["mask"], inputs["period"].double(), 8, 2.0
    )
    torch.testing.assert_close(target, expected)


def test_summary_target_needs_bins_and_periods() -> None:
    inputs = _batch()
    with pytest.raises(ValueError, match="summary_bins=0"):
        ObservationTokenizer(embed_dim=16, num_bands=2).summary_target(inputs)
    with pytest.raises(ValueError, match="'period'"):
        ObservationTokenizer(embed_dim=16, num_bands=2, summary_bins=4).summary_target(inputs)
    with pytest.raises(ValueError, match="summary_bins must be >= 0"):
        ObservationTokenizer(embed_dim=16, summary_bins=-1)
