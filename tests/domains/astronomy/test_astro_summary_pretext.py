"""MAE(summary_weight=...): the pooled embedding learns to predict the folded light curve."""

from __future__ import annotations

import math

import pytest
import torch

from domains.astronomy.tokenizer import ObservationTokenizer
from foundations.encoders.encoder import Encoder
from foundations.methods import MAE


def _light_curves(batch: int = 16, length: int = 64, seed: int = 0) -> dict[str, torch.Tensor]:
    """Sinusoids and eclipse-like dips at random periods, irregularly sampled."""
    gen = torch.Generator().manual_seed(seed)
    time = torch.sort(torch.rand(batch, length, generator=gen) * 200.0, dim=1).values
    period = 0.3 + torch.rand(batch, generator=gen) * 10.0
    phase = torch.remainder(time / period[:, None], 1.0)
    dips = (phase < 0.1).float() * 2.0
    waves = torch.sin(2 * math.pi * phase)
    value = torch.where(torch.arange(batch)[:, None] % 2 == 0, dips, waves)
    return {
        "time": time,
        "value": value + 0.05 * torch.randn(batch, length, generator=gen),
        "error": torch.full((batch, length), 0.05),
        "band": torch.zeros(batch, length, dtype=torch.long),
        "mask": torch.ones(batch, length, dtype=torch.bool),
        "period": period,
        "power": torch.rand(batch, generator=gen),
        "scale": torch.ones(batch),
        "median": torch.zeros(batch),
    }


def _mae(summary_bins: int, summary_weight: float) -> MAE:
    tokenizer = ObservationTokenizer(embed_dim=32, object_features=True, summary_bins=summary_bins)
    encoder = Encoder(tokenizer, depth=1, num_heads=2, pool="mean", modality="photometry")
    return MAE(
        encoder,
        mask_ratio=0.5,
        decoder_dim=32,
        decoder_depth=1,
        decoder_heads=2,
        norm_target=False,
        huber_delta=1.0,
        summary_weight=summary_weight,
    )


def test_summary_loss_decreases_and_joins_the_training_loss() -> None:
    torch.manual_seed(0)
    model = _mae(summary_bins=8, summary_weight=0.5)
    inputs = _light_curves()
    torch.manual_seed(1)
    reconstruction, summary = model.masked_losses(inputs)
    assert summary is not None
    torch.manual_seed(1)
    torch.testing.assert_close(model.reconstruction_loss(inputs), reconstruction + 0.5 * summary)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    first = summary.item()
    for _ in range(60):
        optimizer.zero_grad()
        model.reconstruction_loss(inputs).backward()
        optimizer.step()
    _, last = model.masked_losses(inputs)
    assert last is not None and last.item() < 0.5 * first


def test_without_summary_weight_there_is_no_head_and_no_summary_loss() -> None:
    model = _mae(summary_bins=8, summary_weight=0.0)
    assert model.summary_head is None
    assert model.masked_losses(_light_curves())[1] is None


def test_summary_weight_needs_a_tokenizer_with_a_summary_target() -> None:
    with pytest.raises(ValueError, match="ObservationTokenizer has none"):
        _mae(summary_bins=0, summary_weight=1.0)
