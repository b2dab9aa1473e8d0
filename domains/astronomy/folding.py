"""The folded light curve as a fixed-length vector: a classical feature and a pretext target.

Shared by the folded-shape baseline (:mod:`domains.astronomy.baselines`) and the light-curve
tokenizer, whose phase encoding folds with :func:`fold_phase` and whose
:meth:`~domains.astronomy.tokenizer.ObservationTokenizer.summary_target` is
:func:`folded_profile`.
"""

from __future__ import annotations

import torch


def fold_phase(time: torch.Tensor, period: torch.Tensor, fold_factor: float) -> torch.Tensor:
    """Phase in ``[0, 1)`` of every time folded at ``fold_factor * period``, float64 ``[B, L]``.

    Args:
        time: Times in days, ``[B, L]``.
        period: Periods in days, ``[B]``.
        fold_factor: Fold at this multiple of ``period``.
    """
    return torch.remainder(time.double() / (fold_factor * period.double()[:, None]), 1.0)


def folded_profile(
    time: torch.Tensor,
    value: torch.Tensor,
    mask: torch.Tensor,
    period: torch.Tensor,
    bins: int = 32,
    fold_factor: float = 2.0,
) -> torch.Tensor:
    """Binned shape of every light curve folded at ``fold_factor * period``, ``[B, bins]``.

    Each bin holds the mean value of the real observations whose phase falls in it; empty bins
    take the median of the object's filled bins. Rows are rolled so that the bin with the
    largest mean comes first (minimum light, for magnitudes), which makes the profile
    independent of the arbitrary phase origin. Objects without observations get zeros.

    Args:
        time: Times in days, ``[B, L]`` (anything, NaN included, where ``mask`` is False).
        value: Normalised values, ``[B, L]`` (likewise).
        mask: ``[B, L]``, True for real observations.
        period: Periods in days, ``[B]`` (> 0).
        bins: Number of phase bins.
        fold_factor: Fold at this multiple of ``period``.

    Returns:
        float32 ``[B, bins]``.

    Raises:
        ValueError: On ``bins < 2``, a non-positive ``fold_factor`` or period.
    """
    if bins < 2:
        raise ValueError(f"bins must be at least 2, got {bins}")
    if not fold_factor > 0:
        raise ValueError(f"fold_factor must be positive, got {fold_factor}")
    period = period.double()
    if not bool((period > 0).all()):
        raise ValueError(f"periods must be positive, got {period[period <= 0].tolist()[:5]}")
    mask = mask.bool()
    # padded observations may hold anything, NaN included
    time = torch.where(mask, time.double(), 0.0)
    value = torch.where(mask, value.double(), 0.0)
    phase = fold_phase(time, period, fold_factor)
    index = (phase * bins).long().clamp(max=bins - 1)
    real = mask.double()
    total = torch.zeros(len(time), bins, dtype=torch.float64, device=time.device)
    total.scatter_add_(1, index, value * real)
    count = torch.zeros_like(total).scatter_add_(1, index, real)
    profile = torch.where(count > 0, total / count.clamp_min(1.0), torch.nan)
    fill = torch.nanmedian(profile, dim=1, keepdim=True).values.nan_to_num(0.0)
    profile = torch.where(count > 0, profile, fill)
    start = profile.argmax(dim=1, keepdim=True)
    rolled = (torch.arange(bins, device=time.device)[None] + start) % bins
    return profile.gather(1, rolled).float()
