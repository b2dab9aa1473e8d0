"""The tokenizer contract: one modality in, a batch of tokens out."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Protocol, runtime_checkable

import torch
from torch import Tensor


@dataclass
class TokenBatch:
    """Tokens of one modality, ready for a transformer trunk.

    Attributes:
        tokens: Content embeddings ``[B, N, D]`` without positional information.
        pos: Positional embeddings ``[B, N, D]`` (or broadcastable ``[1, N, D]``) that the
            encoder adds to ``tokens``. Kept separate so a masked-modelling decoder can place
            mask tokens at the positions of dropped tokens. ``None`` when positions are
            already inside ``tokens``.
        padding_mask: ``[B, N]`` bool, ``True`` where a token is padding. ``None`` when every
            sequence has all ``N`` tokens.
        target: Masked-modelling target per token ``[B, N, P]`` (for example patchified pixel
            values), or ``None`` when the tokenizer has no reconstruction target.
        target_mask: ``[B, N, P]`` bool, ``True`` where a target value is valid (for example
            not nodata). ``None`` means every target value is valid.
    """

    tokens: Tensor
    pos: Tensor | None = None
    padding_mask: Tensor | None = None
    target: Tensor | None = None
    target_mask: Tensor | None = None

    @property
    def batch_size(self) -> int:
        return self.tokens.shape[0]

    @property
    def num_tokens(self) -> int:
        return self.tokens.shape[1]

    def select(self, index: Tensor) -> TokenBatch:
        """Keep the tokens at ``index`` (``[B, K]`` long) in every per-token field."""

        def take(x: Tensor | None) -> Tensor | None:
            return None if x is None else gather_tokens(x, index)

        return replace(
            self,
            tokens=gather_tokens(self.tokens, index),
            pos=take(self.pos),
            padding_mask=take(self.padding_mask),
            target=take(self.target),
            target_mask=take(self.target_mask),
        )


def gather_tokens(x: Tensor, index: Tensor) -> Tensor:
    """``x[b, index[b]]`` for a per-token ``x`` ``[B or 1, N]`` or ``[B or 1, N, P]``.

    Args:
        x: Per-token values; a broadcast table ``[1, N, ...]`` (positions) is expanded.
        index: ``[B, K]`` long token positions.

    Returns:
        ``[B, K]`` or ``[B, K, P]``.
    """
    if x.shape[0] != index.shape[0]:  # broadcast positional table [1, N, D]
        x = x.expand(index.shape[0], *x.shape[1:])
    if x.dim() == 2:
        return torch.gather(x, 1, index)
    return torch.gather(x, 1, index.unsqueeze(-1).expand(-1, -1, x.shape[-1]))


@runtime_checkable
class Tokenizer(Protocol):
    """Turns one modality of a batch into :class:`TokenBatch`.

    Tokenizers are domain-owned ``nn.Module``s: a 2D patch embedding conditioned on band
    wavelengths, a 3D patch embedding with anisotropic patches, one token per observation of an
    irregular time series... They expose the token width as ``embed_dim``.
    """

    embed_dim: int

    def __call__(self, inputs: Any) -> TokenBatch: ...
