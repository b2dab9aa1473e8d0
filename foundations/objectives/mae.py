"""Masked-autoencoder reconstruction loss on hidden tokens."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from foundations.objectives import distributed


class MAELoss(nn.Module):
    """Mean squared error on the masked tokens, as in MAE [0].

    The error is averaged over every valid value of every masked token. Without
    ``target_mask`` this is the MAE code's ``((pred - target) ** 2).mean(-1)`` averaged over
    masked patches; with it, padded values (e.g. missing bands or unobserved epochs) are left
    out of the sum and of the count. With ``norm_target`` each patch's target is standardised
    by its own mean and unbiased variance (as ``Tensor.var`` in the MAE code) over its valid
    values.

    Under DDP the count of masked values is summed over ranks, so that the mean over ranks of
    the rank losses equals the single-process loss even when ranks mask different numbers of
    values (see :mod:`foundations.objectives.distributed`).

    - [0] MAE, 2021, https://arxiv.org/abs/2111.06377

    With ``huber_delta`` the squared error becomes the Huber loss (``0.5 e^2`` up to
    ``|e| = delta``, linear beyond), for targets with heavy tails: in survey photometry a few
    per cent of the observations (eclipses, bad frames) otherwise carry most of the squared
    error, and the model spends its capacity on them.

    Args:
        norm_target: Standardise each target patch before comparing.
        eps: Added to the variance in the standardisation.
        huber_delta: Switch from squared to absolute error at this error (target units);
            None keeps the squared error of MAE.

    Raises:
        ValueError: On a non-positive ``huber_delta``.

    Examples:
        >>> loss_fn = MAELoss(norm_target=True)
        >>> loss = loss_fn(decoder_out, patches, mask)
    """

    def __init__(
        self, norm_target: bool = False, eps: float = 1e-6, huber_delta: float | None = None
    ) -> None:
        super().__init__()
        if huber_delta is not None and huber_delta <= 0:
            raise ValueError(f"huber_delta must be positive, got {huber_delta}")
        self.norm_target = norm_target
        self.eps = eps
        self.huber_delta = huber_delta

    def forward(
        self,
        pred: Tensor,
        target: Tensor,
        mask: Tensor,
        target_mask: Tensor | None = None,
    ) -> Tensor:
        """Compute the loss.

        Args:
            pred: Reconstructed patches ``[B, N, P]``.
            target: Original patches ``[B, N, P]``.
            mask: ``[B, N]`` bool, True for the hidden tokens to reconstruct.
            target_mask: ``[B, N, P]`` bool, True for valid target values; None means all.

        Returns:
            Scalar loss (a graph-connected zero when nothing is masked on any rank).

        Raises:
            ValueError: If the shapes do not match.
        """
        if pred.shape != target.shape or pred.ndim != 3 or mask.shape != pred.shape[:2]:
            raise ValueError(
                "Expected pred and target [B, N, P] and mask [B, N], got "
                f"{list(pred.shape)}, {list(target.shape)} and {list(mask.shape)}."
            )
        if target_mask is not None and target_mask.shape != target.shape:
            raise ValueError(
                f"target_mask must match target {list(target.shape)}, got "
                f"{list(target_mask.shape)}."
            )
        weight = mask[..., None].expand_as(pred)
        target = target.detach()
        if target_mask is not None:
            weight = weight & target_mask.bool()
            # Padding may hold anything (NaN included); zero it so no NaN reaches the gradient.
            target = target.masked_fill(~target_mask.bool(), 0.0)
        if self.norm_target:
            target = self._normalise(target, target_mask)
        if self.huber_delta is None:
            error = (pred - target) ** 2
        else:
            error = F.huber_loss(pred, target, reduction="none", delta=self.huber_delta)
        error = torch.where(weight, error, 0.0)
        return error.sum() * distributed.global_mean_factor(weight.sum())

    def _normalise(self, target: Tensor, target_mask: Tensor | None) -> Tensor:
        """Standardise each patch over its valid values (unbiased variance).

        Invalid values of ``target`` must already be zero.
        """
        if target_mask is None:
            mean = target.mean(dim=-1, keepdim=True)
            var = target.var(dim=-1, keepdim=True)
        else:
            valid = target_mask.bool()
            n = valid.sum(dim=-1, keepdim=True)
            mean = target.sum(dim=-1, keepdim=True) / n.clamp(min=1)
            centred = torch.where(valid, target - mean, 0.0)
            var = centred.pow(2).sum(dim=-1, keepdim=True) / (n - 1).clamp(min=1)
        return (target - mean) / (var + self.eps) ** 0.5
