"""Token selection for masked modelling (MAE-style token dropping): random or in blocks."""

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
    scores: Tensor | None = None,
) -> tuple[Tensor, Tensor]:
    """Choose which tokens the encoder sees.

    Padding tokens are never kept while real tokens remain, so with variable-length inputs the
    encoder sees ``ceil((1 - mask_ratio) * N)`` tokens per sample, real ones first. The tokens
    with the lowest ``scores`` are kept: uniform noise by default (MAE's random masking), or
    structured scores such as :func:`cyclic_block_scores`.

    Args:
        batch_size: B.
        num_tokens: N, tokens per sample before dropping.
        mask_ratio: Fraction of tokens to hide, in ``[0, 1)``.
        padding_mask: Optional ``[B, N]`` bool, ``True`` for padding.
        device: Device of the returned indices.
        generator: Optional random generator for reproducible masks.
        scores: Optional ``[B, N]`` keep-priority of each token (lowest kept) in ``[0, 1]``;
            uniform noise when None.

    Returns:
        ``keep_index`` ``[B, K]`` (sorted, so kept tokens keep their order) and ``mask``
        ``[B, N]`` bool, ``True`` for hidden tokens (the reconstruction targets).

    Raises:
        ValueError: If ``mask_ratio`` is outside ``[0, 1)``.
    """
    if not 0.0 <= mask_ratio < 1.0:
        raise ValueError(f"mask_ratio must be in [0, 1), got {mask_ratio}")
    num_keep = max(1, math.ceil(num_tokens * (1.0 - mask_ratio)))
    if scores is None:
        noise = torch.rand(batch_size, num_tokens, device=device, generator=generator)
    else:
        noise = scores.to(device=device or scores.device, dtype=torch.float32)
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


def cyclic_block_scores(key: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """Keep-priorities that hide one contiguous interval of a cyclic coordinate per sample.

    Each sample draws a start ``u`` in ``[0, 1)``; a token's score is ``(key - u) mod 1``, so
    :func:`random_keep_index` keeps the tokens of the interval ``[u, u + keep)`` and hides the
    rest of the cycle, whatever the token order. For light curves with ``key`` the phase,
    the hidden half of the folded curve cannot be copied from observations at the same phase:
    it has to be inferred from the shape of the other half.

    Args:
        key: ``[B, N]`` cyclic coordinate in ``[0, 1)``.
        generator: Optional random generator.

    Returns:
        ``[B, N]`` scores in ``[0, 1)``.
    """
    start = torch.rand(key.shape[0], 1, device=key.device, generator=generator)
    return torch.remainder(key.float() - start, 1.0)
