"""SigLIP's pairwise sigmoid loss, optionally computed in memory-bounded chunks."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.checkpoint import checkpoint

from foundations.objectives import distributed
from foundations.objectives.pair import PairLoss, prepare_pair


class SigLIPLoss(PairLoss):
    """Sigmoid loss for language-image (or any two-modality) pre-training, SigLIP [0].

    Every (anchor, candidate) pair of L2-normalised embeddings is an independent binary
    classification: ``-log sigmoid(y * (exp(logit_scale) * <a, b> + logit_bias))`` with
    ``y = +1`` for the two modalities of the same sample and ``-1`` otherwise. As in SigLIP and
    ``open_clip.SigLipLoss`` the terms are summed over all candidates and divided by the number
    of anchor rows. Samples with ``valid=False`` are neither anchors nor candidates. Under DDP
    the local rows are anchors against the gathered rows of all ranks (see
    :mod:`foundations.objectives.distributed`); open_clip's neighbour exchange is not reused
    because it has no masking and a different distributed normalisation.

    With ``chunk_size`` the ``[B, world_size * B]`` logits are computed ``chunk_size`` columns at
    a time under activation checkpointing, so that neither the forward nor the backward pass
    holds more than one chunk of logits; the loss is the same as unchunked.

    - [0] SigLIP, 2023, https://arxiv.org/abs/2303.15343

    Args:
        init_temperature: Initial ``exp(logit_scale)`` (SigLIP's ``t'``, 10 in the paper).
        init_bias: Initial ``logit_bias`` (-10 in the paper).
        learnable: Whether ``logit_scale`` and ``logit_bias`` receive gradients.
        chunk_size: Number of candidate columns per chunk; None computes all at once.
        gather_distributed: Use the embeddings of all ranks as candidates under DDP. If False,
            each rank computes the loss of its own batch as if it were alone.

    Raises:
        ValueError: If ``init_temperature`` or ``chunk_size`` is not positive.

    Examples:
        >>> loss_fn = SigLIPLoss(chunk_size=4096)
        >>> loss = loss_fn(image_emb, text_emb)
    """

    def __init__(
        self,
        init_temperature: float = 10.0,
        init_bias: float = -10.0,
        learnable: bool = True,
        chunk_size: int | None = None,
        gather_distributed: bool = True,
    ) -> None:
        super().__init__()
        if init_temperature <= 0:
            raise ValueError(f"init_temperature must be positive, got {init_temperature}.")
        if chunk_size is not None and chunk_size <= 0:
            raise ValueError(f"chunk_size must be positive, got {chunk_size}.")
        self.logit_scale = nn.Parameter(
            torch.tensor(math.log(init_temperature)), requires_grad=learnable
        )
        self.logit_bias = nn.Parameter(torch.tensor(float(init_bias)), requires_grad=learnable)
        self.chunk_size = chunk_size
        self.gather_distributed = gather_distributed

    def loss_and_count(
        self, a: Tensor, b: Tensor, valid: Tensor | None = None
    ) -> tuple[Tensor, Tensor]:
        """:meth:`PairLoss.loss_and_count` with the sigmoid (SigLIP) loss."""
        a, b, valid = prepare_pair(a, b, valid)
        all_b, all_valid, offset = b, valid, 0
        world = distributed.world_size() if self.gather_distributed else 1
        if world > 1:
            all_b = distributed.gather(b)
            all_valid = distributed.gather_no_grad(valid)
            offset = distributed.rank() * a.shape[0]

        scale, bias = self.logit_scale.exp(), self.logit_bias
        step = self.chunk_size or all_b.shape[0]
        loss_sum = torch.zeros((), device=a.device)
        for start in range(0, all_b.shape[0], step):
            block = slice(start, start + step)
            args = (a, all_b[block], scale, bias, valid, all_valid[block], start - offset)
            if self.chunk_size is not None and torch.is_grad_enabled():
                loss_sum = loss_sum + checkpoint(_block_loss, *args, use_reentrant=False)
            else:
                loss_sum = loss_sum + _block_loss(*args)
        count = all_valid.sum()
        return loss_sum * world / count.clamp(min=1), count


def _block_loss(
    a: Tensor,
    b: Tensor,
    scale: Tensor,
    bias: Tensor,
    valid_rows: Tensor,
    valid_cols: Tensor,
    col_offset: int,
) -> Tensor:
    """Summed sigmoid loss of anchors ``a`` against one block of candidate columns ``b``.

    Args:
        a: Normalised anchors ``[B, D]``.
        b: Normalised candidates ``[C, D]``.
        scale: ``exp(logit_scale)``.
        bias: ``logit_bias``.
        valid_rows: ``[B]`` bool mask of valid anchors.
        valid_cols: ``[C]`` bool mask of valid candidates.
        col_offset: Index of the block's first column relative to anchor 0, so that column
            ``j`` is the positive of row ``j + col_offset``.

    Returns:
        Scalar sum of the terms of valid (anchor, candidate) pairs.
    """
    logits = scale * a @ b.T + bias
    rows = torch.arange(a.shape[0], device=a.device)[:, None]
    cols = torch.arange(b.shape[0], device=a.device)[None, :] + col_offset
    signs = torch.where(rows == cols, 1.0, -1.0).to(logits.dtype)
    terms = -F.logsigmoid(signs * logits)
    keep = valid_rows[:, None] & valid_cols[None, :]
    return torch.where(keep, terms, 0.0).sum()
