"""Random token selection for masked modelling (MAE-style token dropping)."""

from __future__ import annotations

import math

import torch
from torch import Tensor


def random_keep_index(
    batch_size: int,
    num_tokens: int,
    mask_ratio: float,
    padding_mask: Tensor | None = None,
    device: torch.device | None = None,
    generator: torch.Generator | None = None,
) -> tuple[Tensor, Tensor]:
    """Choose which tokens the encoder sees.

    Padding tokens are never kept while real tokens remain, so with variable-length inputs the
    encoder sees ``ceil((1 - mask_ratio) * N)`` tokens per sample, real ones first.

    Args:
        batch_size: B.
        num_tokens: N, tokens per sample before dropping.
        mask_ratio: Fraction of tokens to hide, in ``[0, 1)``.
        padding_mask: Optional ``[B, N]`` bool, ``True`` for padding.
        device: Device of the returned indices.
        generator: Optional random generator for reproducible masks.

    Returns:
        ``keep_index`` ``[B, K]`` (sorted, so kept tokens keep their order) and ``mask``
        ``[B, N]`` bool, ``True`` for hidden tokens (the reconstruction targets).

    Raises:
        ValueError: If ``mask_ratio`` is outside ``[0, 1)``.
    """
    if not 0.0 <= mask_ratio < 1.0:
        raise ValueError(f"mask_ratio must be in [0, 1), got {mask_ratio}")
    num_keep = max(1, math.ceil(num_tokens * (1.0 - mask_ratio)))
    noise = torch.rand(batch_size, num_tokens, device=device, generator=generator)
    if padding_mask is not None:
        noise = noise.masked_fill(padding_mask.to(noise.device), 2.0)
    keep_index = noise.argsort(dim=1)[:, :num_keep].sort(dim=1).values
    mask = torch.ones(batch_size, num_tokens, dtype=torch.bool, device=noise.device)
    mask.scatter_(1, keep_index, False)
    if padding_mask is not None:
        mask &= ~padding_mask.to(mask.device)
    return keep_index, mask


def hidden_index(keep_index: Tensor, num_tokens: int) -> Tensor:
    """Positions not in ``keep_index`` ``[B, K]``: ``[B, N - K]``, in increasing order."""
    kept = torch.zeros(keep_index.shape[0], num_tokens, dtype=torch.int8, device=keep_index.device)
    kept.scatter_(1, keep_index, 1)
    return kept.argsort(dim=1, stable=True)[:, : num_tokens - keep_index.shape[1]]
