"""Learning-rate schedule: linear warm-up then cosine decay, as a ``LambdaLR`` factor."""

from __future__ import annotations

import math
from typing import Any

import torch


def warmup_cosine_factor(
    step: int, total_steps: int, warmup_steps: int, final_ratio: float
) -> float:
    """Multiplier of the base learning rate at ``step``.

    Rises linearly from ``1 / warmup_steps`` to 1 over ``warmup_steps``, then follows a half
    cosine down to ``final_ratio`` at ``total_steps``; stays there after.

    Args:
        step: Optimiser step (0-based).
        total_steps: Steps in the whole run.
        warmup_steps: Steps of linear warm-up.
        final_ratio: Final learning rate as a fraction of the base one.

    Returns:
        The factor in ``[final_ratio, 1]`` (or below 1 during warm-up).
    """
    if warmup_steps > 0 and step < warmup_steps:
        return (step + 1) / warmup_steps
    decay_steps = max(1, total_steps - warmup_steps)
    progress = min(1.0, (step - warmup_steps) / decay_steps)
    return final_ratio + (1.0 - final_ratio) * 0.5 * (1.0 + math.cos(math.pi * progress))


def warmup_cosine_scheduler(
    optimizer: torch.optim.Optimizer,
    total_steps: float,
    warmup_ratio: float,
    final_ratio: float,
) -> dict[str, Any]:
    """Lightning's ``lr_scheduler`` entry for :func:`warmup_cosine_factor`, stepped per batch.

    Args:
        optimizer: The optimiser whose groups' learning rates are scaled.
        total_steps: Optimiser steps of the whole run (``trainer.estimated_stepping_batches``,
            a float that is infinite for unbounded runs; then the learning rate stays constant).
        warmup_ratio: Fraction of the steps spent warming up.
        final_ratio: Final learning rate as a fraction of each group's base one.

    Returns:
        ``{"scheduler": LambdaLR, "interval": "step"}``.
    """
    if not math.isfinite(total_steps):
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0)
        return {"scheduler": scheduler, "interval": "step"}
    total = max(1, int(total_steps))
    warmup = int(warmup_ratio * total)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: warmup_cosine_factor(step, total, warmup, final_ratio)
    )
    return {"scheduler": scheduler, "interval": "step"}
