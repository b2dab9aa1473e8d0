"""Transformer trunk: a stack of timm ViT blocks running on SDPA attention."""

from __future__ import annotations

from functools import partial

import torch
from timm.models.vision_transformer import Block
from torch import Tensor, nn
from torch.utils.checkpoint import checkpoint


def padding_to_attn_mask(padding_mask: Tensor | None, dtype: torch.dtype) -> Tensor | None:
    """Turn a ``[B, N]`` padding mask (``True`` = pad) into an additive ``[B, 1, 1, N]`` mask.

    An additive float mask works on both of timm's attention paths (fused SDPA and eager).
    """
    if padding_mask is None or not bool(padding_mask.any()):
        return None
    bias = torch.zeros(padding_mask.shape, dtype=dtype, device=padding_mask.device)
    bias = bias.masked_fill(padding_mask, torch.finfo(dtype).min)
    return bias[:, None, None, :]


class TransformerTrunk(nn.Module):
    """Pre-norm transformer blocks from timm (``F.scaled_dot_product_attention`` inside).

    Args:
        embed_dim: Token width D.
        depth: Number of blocks.
        num_heads: Attention heads per block.
        mlp_ratio: Hidden width of each MLP relative to D.
        qkv_bias: Bias in the query/key/value projection.
        drop_path_rate: Maximum stochastic-depth rate, increased linearly over depth.
        init_values: LayerScale initial value (``None`` disables LayerScale).
        grad_checkpointing: Recompute block activations in backward to save memory.
        norm_eps: Epsilon of every LayerNorm (PyTorch's 1e-5 by default; timm's and DINOv2's
            ViTs use 1e-6, which imported checkpoints need to give the same outputs).
    """

    def __init__(
        self,
        embed_dim: int,
        depth: int,
        num_heads: int,
        mlp_ratio: float = 4.0,
        qkv_bias: bool = True,
        drop_path_rate: float = 0.0,
        init_values: float | None = None,
        grad_checkpointing: bool = False,
        norm_eps: float = 1e-5,
    ) -> None:
        super().__init__()
        if embed_dim % num_heads:
            raise ValueError(f"embed_dim {embed_dim} is not divisible by num_heads {num_heads}")
        rates = torch.linspace(0, drop_path_rate, depth).tolist() if depth else []
        self.blocks = nn.ModuleList(
            Block(
                dim=embed_dim,
                num_heads=num_heads,
                mlp_ratio=mlp_ratio,
                qkv_bias=qkv_bias,
                drop_path=rate,
                init_values=init_values,
                norm_layer=partial(nn.LayerNorm, eps=norm_eps),  # type: ignore[arg-type]
            )
            for rate in rates
        )
        self.norm = nn.LayerNorm(embed_dim, eps=norm_eps)
        self.grad_checkpointing = grad_checkpointing

    def forward(self, x: Tensor, padding_mask: Tensor | None = None) -> Tensor:
        """Run the blocks.

        Args:
            x: Tokens ``[B, N, D]``.
            padding_mask: ``[B, N]`` bool, ``True`` for padding tokens, which no token attends to.

        Returns:
            Normalised tokens ``[B, N, D]``.
        """
        attn_mask = padding_to_attn_mask(padding_mask, x.dtype)
        for block in self.blocks:
            if self.grad_checkpointing and self.training:
                x = checkpoint(block, x, attn_mask, use_reentrant=False)
            else:
                x = block(x, attn_mask=attn_mask)
        return self.norm(x)
