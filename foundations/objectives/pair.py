"""What CLIP and SigLIP share: the pair-loss interface and input preparation."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class PairLoss(nn.Module):
    """A loss aligning two row-paired embedding batches, some of whose rows may be invalid.

    Subclasses implement :meth:`loss_and_count`; :meth:`forward` returns its loss.
    """

    def forward(self, a: Tensor, b: Tensor, valid: Tensor | None = None) -> Tensor:
        """Compute the loss.

        Args:
            a: Embeddings of the first modality, ``[B, D]``.
            b: Embeddings of the second modality, ``[B, D]``, row ``i`` pairs with ``a[i]``.
            valid: ``[B]`` bool, True where the sample has both modalities; None means all.

        Returns:
            Scalar loss. A zero that is still connected to the graph when no sample is valid
            on any rank.

        Raises:
            ValueError: If the shapes of the inputs do not match.
        """
        return self.loss_and_count(a, b, valid)[0]

    def loss_and_count(
        self, a: Tensor, b: Tensor, valid: Tensor | None = None
    ) -> tuple[Tensor, Tensor]:
        """Compute the loss and the number of samples with both modalities.

        Args:
            a: Embeddings of the first modality, ``[B, D]``.
            b: Embeddings of the second modality, ``[B, D]``.
            valid: ``[B]`` bool mask of samples having both modalities; None means all.

        Returns:
            The loss as in :meth:`forward` and the number of valid samples, over all
            ranks when gathering (a scalar tensor without gradient, computed without a host
            synchronisation).

        Raises:
            ValueError: If the shapes of the inputs do not match.
        """
        raise NotImplementedError


def prepare_pair(a: Tensor, b: Tensor, valid: Tensor | None) -> tuple[Tensor, Tensor, Tensor]:
    """Validate a pair of embedding batches, zero the invalid rows and L2-normalise.

    Zeroing (rather than only masking the logits) keeps NaN or inf in the embeddings of
    samples lacking a modality out of the loss and of the gradients.

    Args:
        a: ``[B, D]`` embeddings.
        b: ``[B, D]`` embeddings.
        valid: ``[B]`` mask of samples having both modalities, or None for all.

    Returns:
        The normalised ``a`` and ``b`` and the ``[B]`` bool validity mask.

    Raises:
        ValueError: If the shapes do not match.
    """
    if a.ndim != 2 or a.shape != b.shape:
        raise ValueError(f"Expected two [B, D] tensors, got {a.shape} and {b.shape}.")
    if valid is None:
        valid = torch.ones(a.shape[0], dtype=torch.bool, device=a.device)
    elif valid.shape != (a.shape[0],):
        raise ValueError(f"valid must have shape [{a.shape[0]}], got {list(valid.shape)}.")
    else:
        valid = valid.to(device=a.device, dtype=torch.bool)
        a = a.masked_fill(~valid[:, None], 0.0)
        b = b.masked_fill(~valid[:, None], 0.0)
    return F.normalize(a, dim=1), F.normalize(b, dim=1), valid
