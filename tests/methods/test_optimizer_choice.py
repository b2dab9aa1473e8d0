"""The optimiser every method builds, under the trainer settings the recipes use."""

from __future__ import annotations

import pytest
import torch
from conftest import fit, tiny_encoder

from foundations.methods import MAE


@pytest.mark.parametrize(
    ("precision", "clip", "fused"),
    [
        ("32-true", None, True),
        ("32-true", 1.0, True),
        ("bf16-mixed", None, True),
        # The full-size recipes: Lightning refuses to clip a fused optimiser's gradients here.
        ("bf16-mixed", 1.0, False),
    ],
)
def test_gradient_clipping_under_mixed_precision_trains(
    precision: str, clip: float | None, fused: bool
) -> None:
    torch.manual_seed(0)
    model = MAE(tiny_encoder(), mask_ratio=0.75, decoder_dim=32, decoder_depth=1)
    before = [p.detach().clone() for p in model.parameters()]
    trainer = fit(model, steps=2, precision=precision, gradient_clip_val=clip)
    optimizer = trainer.optimizers[0]
    assert optimizer.defaults["fused"] is fused
    assert trainer.global_step == 2
    assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))
