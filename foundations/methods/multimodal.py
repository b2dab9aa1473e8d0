"""Multimodal alignment: N encoders pulled into one space with pairwise CLIP or SigLIP."""

from __future__ import annotations

from typing import Any, Literal

from torch import Tensor, nn

from foundations.methods.base import SSLMethod
from foundations.methods.joint_embedding import PRESENT_KEY, JointEmbedding
from foundations.methods.views import batch_size_of, make_view
from foundations.objectives.multimodal import MultiModalAlignmentLoss

__all__ = ["PRESENT_KEY", "MultiModalAlignment"]


def _out_dim(name: str, encoder: nn.Module) -> int:
    """The embedding width of an encoder, checking it also names its ``modality``."""
    width = getattr(encoder, "out_dim", None)
    if getattr(encoder, "modality", None) is None or width is None:
        raise TypeError(
            f"encoder {name!r} ({type(encoder).__name__}) must expose `modality` (the sample "
            "key it reads) and `out_dim` (its embedding width)"
        )
    return int(width)


class MultiModalAlignment(SSLMethod):
    """CLIP-style alignment of any number of modalities (AstroM3, ConVIRT, ...).

    A batch holds each modality under its encoder's ``modality`` key. Samples that lack a
    modality are marked in ``batch["present"][modality]`` (a ``[B]`` bool tensor; a missing entry
    means all present) and carry placeholder inputs; they are left out of every pair involving
    that modality, so the others still train.

    Args:
        encoders: Encoders by name; each reads ``batch[encoder.modality]``. Any module with a
            ``modality`` (str) and an ``out_dim`` (int) attribute, returning ``[B, out_dim]``:
            an :class:`~foundations.encoders.Encoder` or, e.g., a domain's text encoder.
        embed_dim: Width of the shared space (a linear projection per encoder).
        loss: ``"clip"`` (softmax) or ``"siglip"`` (sigmoid) pairwise objective.
        augment: Optional view policy per encoder name.
        chunk_size: SigLIP column chunk size to bound memory (``None``: no chunking).
    """

    def __init__(
        self,
        encoders: dict[str, nn.Module],
        embed_dim: int = 128,
        loss: Literal["clip", "siglip"] = "clip",
        augment: dict[str, nn.Module] | None = None,
        chunk_size: int | None = None,
        lr: float = 1e-3,
        weight_decay: float = 0.05,
        warmup_ratio: float = 0.1,
        final_lr_ratio: float = 0.01,
    ) -> None:
        super().__init__(lr, weight_decay, warmup_ratio, final_lr_ratio)
        self.save_config("encoders", "augment")
        if len(encoders) < 2:
            raise ValueError(f"alignment needs at least two encoders, got {list(encoders)}")
        widths = {name: _out_dim(name, encoder) for name, encoder in encoders.items()}
        self.encoders = nn.ModuleDict(encoders)
        self.projections = nn.ModuleDict(
            {name: nn.Linear(width, embed_dim, bias=False) for name, width in widths.items()}
        )
        self.augment = nn.ModuleDict(augment or {})
        pair_kwargs: dict[str, Any] = {"chunk_size": chunk_size} if loss == "siglip" else {}
        self.criterion = MultiModalAlignmentLoss(list(encoders), pair_loss=loss, **pair_kwargs)

    def modalities(self) -> dict[str, str]:
        """Sample key read by each encoder, by encoder name."""
        return {name: str(encoder.modality) for name, encoder in self.encoders.items()}

    def embedding_encoder(self) -> nn.Module:
        return next(iter(self.encoders.values()))

    def embedding_views(self) -> nn.Module | None:
        name = next(iter(self.encoders))
        return self.augment[name] if name in self.augment else None  # noqa: SIM401

    def joint_embedding_encoder(self) -> JointEmbedding:
        """Every modality's encoder side by side (:class:`JointEmbedding`), sharing weights."""
        return JointEmbedding(self.encoders)

    def embed(self, batch: dict[str, Any]) -> dict[str, Tensor]:
        """Projected embeddings of every modality present in ``batch``, by encoder name."""
        out = {}
        for name, key in self.modalities().items():
            if key not in batch:
                continue
            augment = self.augment[name] if name in self.augment else None  # noqa: SIM401
            inputs = make_view(augment if self.training else None, batch[key])
            out[name] = self.projections[name](self.encoders[name](inputs))
        return out

    def _present(self, batch: dict[str, Any]) -> dict[str, Tensor]:
        flags = batch.get(PRESENT_KEY, {})
        return {name: flags[key].bool() for name, key in self.modalities().items() if key in flags}

    def shared_step(self, batch: dict[str, Any], stage: str) -> Tensor:
        embeddings = self.embed(batch)
        present = self._present(batch)
        loss, pairs = self.criterion.forward_with_pairs(embeddings, present)
        first = next(iter(self.modalities().values()))
        self.log_loss(stage, loss, batch_size_of(batch[first]), **pairs)
        return loss
