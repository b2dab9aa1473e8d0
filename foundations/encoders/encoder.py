"""Encoder: tokenizer -> (token dropping) -> transformer trunk -> pooled embedding."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from foundations.encoders.pooling import AttentionPool, PoolKind, masked_max, masked_mean
from foundations.encoders.tokens import TokenBatch
from foundations.encoders.trunk import TransformerTrunk


@dataclass
class EncoderOutput:
    """What :meth:`Encoder.encode_tokens` returns.

    Attributes:
        pooled: One embedding per sample ``[B, D]``.
        tokens: Output tokens ``[B, K, D]`` (the class token excluded), aligned with the
            ``TokenBatch`` that went in, after any token selection.
        padding_mask: ``[B, K]`` bool for ``tokens``, or ``None``.
    """

    pooled: Tensor
    tokens: Tensor
    padding_mask: Tensor | None


class Encoder(nn.Module):
    """A modality encoder usable on its own, in any method, or loaded from the hub.

    Args:
        tokenizer: Domain tokenizer module returning :class:`TokenBatch`; its ``embed_dim``
            sets the trunk width.
        modality: The sample key this encoder reads (``"image"``, ``"volume"``, ...).
        depth: Transformer blocks.
        num_heads: Attention heads.
        mlp_ratio: MLP width relative to the token width.
        pool: ``"cls"`` (a learned class token), ``"mean"`` over real tokens, ``"max"``
            (feature-wise over real tokens: for tasks decided by one local finding, such as a
            small lesion in a volume, where a mean dilutes it), or ``"attention"`` (a learned
            query).
        drop_path_rate: Stochastic depth.
        grad_checkpointing: Trade compute for memory in the trunk.
        init_values: LayerScale initial value in the trunk's blocks (``None``: no LayerScale,
            as before; imported DINOv2 checkpoints carry LayerScale weights).
        norm_eps: Epsilon of the trunk's LayerNorms (1e-5; 1e-6 for imported timm/DINOv2 ViTs).
    """

    def __init__(
        self,
        tokenizer: nn.Module,
        modality: str = "image",
        depth: int = 4,
        num_heads: int = 4,
        mlp_ratio: float = 4.0,
        pool: PoolKind = "cls",
        drop_path_rate: float = 0.0,
        grad_checkpointing: bool = False,
        init_values: float | None = None,
        norm_eps: float = 1e-5,
    ) -> None:
        super().__init__()
        embed_dim = int(getattr(tokenizer, "embed_dim", 0))
        if embed_dim <= 0:
            raise ValueError(f"{type(tokenizer).__name__} must define a positive `embed_dim`")
        self.tokenizer = tokenizer
        self.modality = modality
        self.embed_dim = embed_dim
        self.pool_kind: PoolKind = pool
        self.trunk = TransformerTrunk(
            embed_dim,
            depth,
            num_heads,
            mlp_ratio=mlp_ratio,
            drop_path_rate=drop_path_rate,
            grad_checkpointing=grad_checkpointing,
            init_values=init_values,
            norm_eps=norm_eps,
        )
        self.cls_token: nn.Parameter | None = None
        self.attention_pool: AttentionPool | None = None
        if pool == "cls":
            self.cls_token = nn.Parameter(torch.zeros(1, 1, embed_dim))
            nn.init.trunc_normal_(self.cls_token, std=0.02)
        elif pool == "attention":
            self.attention_pool = AttentionPool(embed_dim, num_heads)
        elif pool not in ("mean", "max"):
            raise ValueError(f"pool must be 'cls', 'mean', 'max' or 'attention', got {pool!r}")

    @property
    def out_dim(self) -> int:
        return self.embed_dim

    def tokenize(self, inputs: Any) -> TokenBatch:
        return self.tokenizer(inputs)

    def encode_tokens(self, batch: TokenBatch, keep_index: Tensor | None = None) -> EncoderOutput:
        """Encode tokens, optionally keeping only ``keep_index`` ``[B, K]`` of them.

        Dropping happens before the trunk, so attention costs O(K^2) rather than O(N^2).
        """
        if keep_index is not None:
            batch = batch.select(keep_index)
        x = batch.tokens if batch.pos is None else batch.tokens + batch.pos
        padding_mask = batch.padding_mask
        num_prefix = 0
        if self.cls_token is not None:
            x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1).to(x.dtype), x], dim=1)
            num_prefix = 1
            if padding_mask is not None:
                prefix = padding_mask.new_zeros(padding_mask.shape[0], 1)
                padding_mask = torch.cat([prefix, padding_mask], dim=1)
        x = self.trunk(x, padding_mask)
        tokens = x[:, num_prefix:]
        token_padding = batch.padding_mask
        if self.cls_token is not None:
            pooled = x[:, 0]
        elif self.attention_pool is not None:
            pooled = self.attention_pool(tokens, token_padding)
        elif self.pool_kind == "max":
            pooled = masked_max(tokens, token_padding)
        else:
            pooled = masked_mean(tokens, token_padding)
        return EncoderOutput(pooled=pooled, tokens=tokens, padding_mask=token_padding)

    def forward(self, inputs: Any) -> Tensor:
        """Embed a batch of this encoder's modality into ``[B, D]``."""
        return self.encode_tokens(self.tokenize(inputs)).pooled
