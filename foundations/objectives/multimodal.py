"""Alignment of any number of modalities through pairwise contrastive losses."""

from __future__ import annotations

from itertools import combinations
from typing import Any, Literal, cast

import torch
from torch import Tensor, nn

from foundations.objectives.clip import CLIPLoss
from foundations.objectives.pair import PairLoss
from foundations.objectives.siglip import SigLIPLoss

PAIR_SEPARATOR = "__"


def pair_key(first: str, second: str) -> str:
    """Key of a modality pair in :attr:`MultiModalAlignmentLoss.pairs`.

    Args:
        first: Modality that comes first in the ``modalities`` list.
        second: The other modality.

    Returns:
        ``"first__second"``, e.g. ``"photometry__spectrum"``.
    """
    return f"{first}{PAIR_SEPARATOR}{second}"


class MultiModalAlignmentLoss(nn.Module):
    """Contrastive alignment of several modalities, one pair loss per unordered pair.

    Each pair of modalities gets its own :class:`CLIPLoss` or :class:`SigLIPLoss` (with its own
    learnable temperature), stored in :attr:`pairs` under :func:`pair_key`. A sample takes part
    in a pair only if both modalities are present, so partially observed samples still align
    the modalities they have. The total is the mean over the pairs that have at least one valid
    sample on any rank; with two modalities and everything present it equals the pair loss.

    All ranks must pass the same set of modalities. Pairs skipped because a modality is absent
    from ``embeddings`` leave their temperature without gradient, so DDP then needs
    ``find_unused_parameters=True``.

    Args:
        modalities: Names of the modalities, at least two, without ``"__"``.
        pair_loss: ``"clip"`` or ``"siglip"``.
        **pair_kwargs: Keyword arguments of every pair loss (e.g. ``init_temperature``).

    Raises:
        ValueError: If the modalities are fewer than two, repeated or contain ``"__"``, or
            ``pair_loss`` is unknown.

    Examples:
        >>> loss_fn = MultiModalAlignmentLoss(["image", "photometry", "spectrum"])
        >>> loss = loss_fn(
        ...     {"image": z_img, "photometry": z_phot, "spectrum": z_spec},
        ...     present={"spectrum": has_spectrum},
        ... )
    """

    def __init__(
        self,
        modalities: list[str],
        pair_loss: Literal["clip", "siglip"] = "clip",
        **pair_kwargs: Any,
    ) -> None:
        super().__init__()
        if len(modalities) < 2 or len(set(modalities)) != len(modalities):
            raise ValueError(f"Need at least two distinct modalities, got {modalities}.")
        if any(PAIR_SEPARATOR in m for m in modalities):
            raise ValueError(f"Modality names must not contain {PAIR_SEPARATOR!r}: {modalities}.")
        loss_classes: dict[str, type[CLIPLoss] | type[SigLIPLoss]] = {
            "clip": CLIPLoss,
            "siglip": SigLIPLoss,
        }
        if pair_loss not in loss_classes:
            raise ValueError(f"pair_loss must be 'clip' or 'siglip', got {pair_loss!r}.")
        self.modalities = list(modalities)
        self.pairs = nn.ModuleDict(
            {
                pair_key(first, second): loss_classes[pair_loss](**pair_kwargs)
                for first, second in combinations(self.modalities, 2)
            }
        )

    def forward(
        self, embeddings: dict[str, Tensor], present: dict[str, Tensor] | None = None
    ) -> Tensor:
        """Compute the total alignment loss.

        Args:
            embeddings: ``[B, D]`` embeddings per modality; modalities missing here are skipped.
            present: ``[B]`` bool per modality, True where the sample has it; a modality
                without an entry is present in every sample.

        Returns:
            Scalar loss, the mean over pairs with at least one valid sample (a graph-connected
            zero when there is none).

        Raises:
            ValueError: If fewer than two known modalities are given, or an unknown one.
        """
        return self.forward_with_pairs(embeddings, present)[0]

    def pair_losses(
        self, embeddings: dict[str, Tensor], present: dict[str, Tensor] | None = None
    ) -> dict[str, Tensor]:
        """Compute the loss of every pair, e.g. for logging.

        Args:
            embeddings: As in :meth:`forward`.
            present: As in :meth:`forward`.

        Returns:
            Loss per :func:`pair_key` of the pairs whose two modalities are in ``embeddings``
            (zero for pairs without valid samples).

        Raises:
            ValueError: As in :meth:`forward`.
        """
        return self.forward_with_pairs(embeddings, present)[1]

    def forward_with_pairs(
        self, embeddings: dict[str, Tensor], present: dict[str, Tensor] | None = None
    ) -> tuple[Tensor, dict[str, Tensor]]:
        """Compute the total and the per-pair losses in one pass.

        Args:
            embeddings: As in :meth:`forward`.
            present: As in :meth:`forward`.

        Returns:
            The total of :meth:`forward` and the dictionary of :meth:`pair_losses`.

        Raises:
            ValueError: As in :meth:`forward`.
        """
        unknown = set(embeddings) - set(self.modalities)
        if unknown:
            raise ValueError(f"Unknown modalities {sorted(unknown)}; known: {self.modalities}.")
        present = present or {}
        losses: dict[str, Tensor] = {}
        counts: list[Tensor] = []
        for first, second in combinations(self.modalities, 2):
            if first not in embeddings or second not in embeddings:
                continue
            key = pair_key(first, second)
            valid = _both(present.get(first), present.get(second))
            pair = cast(PairLoss, self.pairs[key])
            loss, count = pair.loss_and_count(embeddings[first], embeddings[second], valid)
            losses[key] = loss
            counts.append(count)
        if not losses:
            raise ValueError(
                f"Need embeddings of at least two modalities, got {sorted(embeddings)}."
            )
        has_pairs = (torch.stack(counts) > 0).to(next(iter(losses.values())).dtype)
        total = (torch.stack(list(losses.values())) * has_pairs).sum()
        return total / has_pairs.sum().clamp(min=1), losses


def _both(first: Tensor | None, second: Tensor | None) -> Tensor | None:
    """Samples having both modalities; None means all."""
    if first is None:
        return second
    if second is None:
        return first
    return first.bool() & second.bool()
