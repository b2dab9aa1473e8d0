"""One token per catalogue feature (colours, parallax, magnitudes, ...), missing values masked.

:class:`MetadataTokenizer` reads the metadata contract of :mod:`domains.astronomy`::

    sample["metadata"] = {
        "values": FloatTensor[F],  # standardised catalogue features, fixed order
        "mask": BoolTensor[F],     # True = observed; False = missing (value ignored)
    }

(or a bare ``FloatTensor[F]`` in which NaN marks a missing value) and, batched, returns a
:class:`~foundations.encoders.tokens.TokenBatch` with one token per feature, as in the
FT-Transformer's feature tokenizer:

* ``tokens[b, f] = value[b, f] * W[f] + E[f]`` for an observed feature, where ``W[f]`` is the
  feature's value embedding and ``E[f]`` its learned identity embedding (which also tells the
  trunk which feature a token is, so no positional encoding is needed: ``pos`` is ``None``);
* ``tokens[b, f] = M + E[f]`` for a missing one (``M`` a learned "missing" embedding), marked
  ``padding_mask`` True so that the trunk ignores it;
* ``target`` / ``target_mask``: the values ``[B, F, 1]`` and the observed mask, for masked
  modelling.

Values are clipped to ``[-clip, clip]`` (features are expected standardised, e.g. by
:class:`~domains.astronomy.trimodal.VariableStarDataModule`), and missing or non-finite
values are replaced before any arithmetic, so no NaN reaches the outputs.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import Tensor, nn

from foundations.encoders.tokens import TokenBatch


class MetadataTokenizer(nn.Module):
    """Tokenize tabular catalogue features, one token per feature, with missing values.

    Args:
        num_features: Number of features ``F`` (columns, in a fixed order).
        embed_dim: Token width ``D``.
        clip: Observed values are clipped to ``[-clip, clip]``.

    Attributes:
        embed_dim: Token width.
        target_dim: Width of the masked-modelling target per token (1: the value).

    Raises:
        ValueError: On a non-positive ``num_features``, ``embed_dim`` or ``clip``.
    """

    target_dim: int = 1

    def __init__(self, num_features: int, embed_dim: int = 128, clip: float = 10.0) -> None:
        super().__init__()
        if num_features < 1 or embed_dim < 1 or clip <= 0:
            raise ValueError(
                "num_features, embed_dim and clip must be positive, got "
                f"{num_features}, {embed_dim}, {clip}"
            )
        self.num_features = num_features
        self.embed_dim = embed_dim
        self.clip = clip
        self.value_weight = nn.Parameter(torch.randn(num_features, embed_dim) / embed_dim**0.5)
        self.feature_embed = nn.Parameter(torch.zeros(num_features, embed_dim))
        self.missing_embed = nn.Parameter(torch.zeros(embed_dim))
        nn.init.normal_(self.feature_embed, std=0.02)
        nn.init.normal_(self.missing_embed, std=0.02)

    def _values_and_mask(self, inputs: Tensor | Mapping[str, Tensor]) -> tuple[Tensor, Tensor]:
        if isinstance(inputs, Mapping):
            if "values" not in inputs:
                raise ValueError(
                    f"{type(self).__name__} needs a 'values' key (and optionally 'mask'); got "
                    f"{sorted(inputs)}"
                )
            values = inputs["values"]
            mask = inputs.get("mask")
        else:
            values, mask = inputs, None
        if values.dim() != 2 or values.shape[1] != self.num_features:
            raise ValueError(
                f"{type(self).__name__} expects [B, {self.num_features}] values, got "
                f"{tuple(values.shape)}"
            )
        observed = torch.isfinite(values)
        if mask is not None:
            if mask.shape != values.shape:
                raise ValueError(
                    f"mask {tuple(mask.shape)} does not match values {tuple(values.shape)}"
                )
            observed = observed & mask.bool()
        return values, observed

    def forward(self, inputs: Tensor | Mapping[str, Tensor]) -> TokenBatch:
        """Tokenize a batch of catalogue rows.

        Args:
            inputs: ``{"values": [B, F], "mask": [B, F]}`` or a ``[B, F]`` tensor with NaN
                for missing values.

        Returns:
            The :class:`TokenBatch` of the module docstring (``F`` tokens, ``pos`` None).

        Raises:
            ValueError: On a missing ``values`` key or a shape other than ``[B, F]``.
        """
        values, observed = self._values_and_mask(inputs)
        dtype = self.value_weight.dtype
        value = torch.where(observed, values.to(dtype), 0.0).clamp(-self.clip, self.clip)
        embedded = value[..., None] * self.value_weight
        missing = self.missing_embed.expand_as(embedded)
        tokens = torch.where(observed[..., None], embedded, missing) + self.feature_embed
        return TokenBatch(
            tokens=tokens,
            pos=None,
            padding_mask=~observed,
            target=value[..., None],
            target_mask=observed[..., None],
        )
