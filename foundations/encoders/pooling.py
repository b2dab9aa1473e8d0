"""Pool a sequence of tokens into one embedding per sample."""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor, nn

PoolKind = Literal["cls", "mean", "max", "attention"]


def masked_mean(tokens: Tensor, padding_mask: Tensor | None) -> Tensor:
    """Mean over real tokens of ``[B, N, D]``; ``padding_mask`` is ``True`` for padding."""
    if padding_mask is None:
        return tokens.mean(dim=1)
    weights = (~padding_mask).to(tokens.dtype).unsqueeze(-1)
    return (tokens * weights).sum(dim=1) / weights.sum(dim=1).clamp_min(1.0)


def masked_max(tokens: Tensor, padding_mask: Tensor | None) -> Tensor:
    """Feature-wise max over real tokens of ``[B, N, D]``; ``padding_mask`` is ``True`` for
    padding. Samples without any real token get zeros."""
    if padding_mask is None:
        return tokens.amax(dim=1)
    filled = tokens.masked_fill(padding_mask.unsqueeze(-1), float("-inf")).amax(dim=1)
    return torch.where(torch.isfinite(filled), filled, torch.zeros_like(filled))


class AttentionPool(nn.Module):
    """One learned query attends over the tokens (as in SigLIP's MAP head).

    Args:
        embed_dim: Token width D.
        num_heads: Attention heads.
    """

    def __init__(self, embed_dim: int, num_heads: int) -> None:
        super().__init__()
        self.query = nn.Parameter(torch.zeros(1, 1, embed_dim))
        nn.init.trunc_normal_(self.query, std=0.02)
        self.attn = nn.MultiheadAttention(embed_dim, num_heads, batch_first=True)
        self.norm = nn.LayerNorm(embed_dim)

    def forward(self, tokens: Tensor, padding_mask: Tensor | None = None) -> Tensor:
        query = self.query.expand(tokens.shape[0], -1, -1)
        pooled, _ = self.attn(
            query, tokens, tokens, key_padding_mask=padding_mask, need_weights=False
        )
        return self.norm(pooled.squeeze(1))
