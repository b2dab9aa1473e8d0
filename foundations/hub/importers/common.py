"""What every importer returns, and the parts of the mapping they share."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor

from foundations.encoders import Encoder
from foundations.hub.architecture import build_module

LEARNED_TOKENIZER = "foundations.encoders.learned_patch.LearnedPatchTokenizer"
ENCODER = "foundations.encoders.Encoder"


@dataclass
class Imported:
    """A public checkpoint converted into a foundations :class:`Encoder`.

    Attributes:
        encoder: The encoder in eval mode, weights loaded.
        architecture: Its ``{"class_path", "init_args"}`` for the card.
        modality: Card modality spec.
        normalisation: Card normalisation (what the source expects its inputs scaled by).
        parent: Card parent: the source format and model.

    Use :meth:`push` to publish it on a hub.
    """

    encoder: Encoder
    architecture: dict[str, Any]
    modality: dict[str, Any] = field(default_factory=dict)
    normalisation: dict[str, Any] = field(default_factory=dict)
    parent: dict[str, Any] = field(default_factory=dict)

    def push(
        self, name: str, hub: str | None = None, version: str | None = None, **card: Any
    ) -> Any:
        """Publish on a hub (see :func:`foundations.hub.push_encoder`; ``card`` adds fields)."""
        from foundations.hub.publish import push_encoder

        card.setdefault("modality", self.modality)
        card.setdefault("normalisation", self.normalisation)
        card.setdefault("parent", self.parent)
        card.setdefault("training", {"source": self.parent})
        return push_encoder(self.encoder, self.architecture, name, hub, version, **card)


def vit_architecture(
    *,
    in_channels: int,
    input_size: list[int],
    patch_size: list[int],
    embed_dim: int,
    depth: int,
    num_heads: int,
    mlp_ratio: float,
    pool: str,
    norm_eps: float,
    layer_scale: bool,
    modality: str,
) -> dict[str, Any]:
    """The architecture of a plain ViT on :class:`LearnedPatchTokenizer`."""
    return {
        "class_path": ENCODER,
        "init_args": {
            "tokenizer": {
                "class_path": LEARNED_TOKENIZER,
                "init_args": {
                    "in_channels": in_channels,
                    "input_size": list(input_size),
                    "patch_size": list(patch_size),
                    "embed_dim": embed_dim,
                    "spatial_dims": len(input_size),
                },
            },
            "modality": modality,
            "depth": depth,
            "num_heads": num_heads,
            "mlp_ratio": mlp_ratio,
            "pool": pool,
            "init_values": 1.0 if layer_scale else None,
            "norm_eps": norm_eps,
        },
    }


def build_imported(
    architecture: dict[str, Any], state: Mapping[str, Tensor], source: str
) -> Encoder:
    """Build the architecture and load the mapped weights strictly (a missed key is an error).

    Raises:
        ValueError: Naming ``source`` and the keys when the mapping does not cover the encoder.
    """
    encoder = build_module(architecture, source)
    assert isinstance(encoder, Encoder)
    try:
        encoder.load_state_dict(dict(state), strict=True)
    except RuntimeError as error:
        raise ValueError(f"{source}: converted weights do not fit: {error}") from error
    return encoder.eval()


def zeros_like_bias(weight: Tensor) -> Tensor:
    """A zero bias for a projection that has none (adding zeros gives identical outputs)."""
    return torch.zeros(weight.shape[0], dtype=weight.dtype)
