"""Learning-rate schedule: linear warm-up then cosine decay, as a ``LambdaLR`` factor."""

from __future__ import annotations

import math


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
