"""Small helpers for losses that look across all ranks of a distributed job.

Convention followed by every objective in this package: under DistributedDataParallel each
rank returns a loss such that

- the mean over ranks of the rank losses equals the single-process loss on the concatenated
  batch, and
- after DDP averages the parameter gradients over ranks, they equal the single-process
  gradients.

Contrastive losses get there by using the local rows as anchors and the rows of all ranks as
candidates, gathered with :func:`gather`, whose backward sums the gradients that every rank's
loss sends to a row back onto the rank that owns the row. Losses that average over a number of
terms which may differ between ranks (masked tokens, valid pairs) divide their local sum by the
global count and multiply by the world size, so that the mean over ranks is the global mean.

Gathered objectives require the same batch size on every rank (what ``DistributedSampler``
gives) and must be called by all ranks in the same order, as any collective.

All helpers fall back to the single-process behaviour when ``torch.distributed`` is not
available or not initialised.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.distributed as dist
from torch import Tensor


def is_distributed() -> bool:
    """Whether a ``torch.distributed`` process group with more than one rank is active.

    Returns:
        True when collectives would communicate with other ranks.
    """
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def world_size() -> int:
    """Number of ranks in the default process group.

    Returns:
        The world size, or 1 when ``torch.distributed`` is not initialised.
    """
    if dist.is_available() and dist.is_initialized():
        return dist.get_world_size()
    return 1


def rank() -> int:
    """Rank of this process in the default process group.

    Returns:
        The rank, or 0 when ``torch.distributed`` is not initialised.
    """
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank()
    return 0


class _GatherWithGrad(torch.autograd.Function):
    """All-gather along dim 0 whose backward sums the incoming gradients over ranks.

    ``torch.distributed.nn.functional.all_gather`` does the same but is deprecated in the
    pinned torch (a ``FutureWarning`` at every call) and its suggested replacement lives in a
    private module; this is the same few lines that ``lightly.utils.dist`` uses, and it works on
    every backend because the backward only needs ``all_reduce``.
    """

    @staticmethod
    def forward(ctx: Any, x: Tensor) -> Tensor:
        x = x.contiguous()
        parts = [torch.empty_like(x) for _ in range(dist.get_world_size())]
        dist.all_gather(parts, x)
        ctx.rows = x.shape[0]
        return torch.cat(parts, dim=0)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> Tensor:
        # Every rank's loss may depend on every row; the owner of a row needs the sum.
        grad = grad.contiguous()
        dist.all_reduce(grad, op=dist.ReduceOp.SUM)
        start = dist.get_rank() * ctx.rows
        return grad[start : start + ctx.rows]


def gather(x: Tensor) -> Tensor:
    """Concatenate ``x`` from all ranks along dim 0, keeping gradients.

    The backward pass sums the gradients from all ranks for the rows of this rank, which,
    combined with DDP's gradient averaging, gives single-process gradients (see module
    docstring). Every rank must pass a tensor of the same shape.

    Args:
        x: Local tensor ``[B, ...]``.

    Returns:
        ``[world_size * B, ...]`` with rank ``r``'s rows at ``r * B : (r + 1) * B``; ``x``
        itself when not distributed.
    """
    if not is_distributed():
        return x
    out: Tensor = _GatherWithGrad.apply(x)
    return out


@torch.no_grad()
def gather_no_grad(x: Tensor) -> Tensor:
    """Concatenate ``x`` from all ranks along dim 0 without gradients (e.g. masks).

    Args:
        x: Local tensor ``[B, ...]``, same shape on every rank; bool tensors are supported.

    Returns:
        ``[world_size * B, ...]`` in rank order; ``x.detach()`` when not distributed.
    """
    if not is_distributed():
        return x.detach()
    # Not every backend reduces or gathers bool tensors.
    src = x.detach().to(torch.uint8) if x.dtype == torch.bool else x.detach().contiguous()
    parts = [torch.empty_like(src) for _ in range(dist.get_world_size())]
    dist.all_gather(parts, src)
    out = torch.cat(parts, dim=0)
    return out.bool() if x.dtype == torch.bool else out


@torch.no_grad()
def all_reduce_sum(x: Tensor) -> Tensor:
    """Sum ``x`` over all ranks, without gradients and without modifying ``x``.

    Args:
        x: Local tensor, same shape on every rank.

    Returns:
        A new tensor holding the sum over ranks (a detached copy of ``x`` when not
        distributed).
    """
    out = x.detach().clone()
    if is_distributed():
        dist.all_reduce(out, op=dist.ReduceOp.SUM)
    return out


def global_mean_factor(local_count: Tensor) -> Tensor:
    """Factor turning a local sum into this rank's share of the global mean.

    ``local_sum * global_mean_factor(local_count)`` averaged over ranks equals the global sum
    divided by the global count, however the count is split between ranks. The count is
    clamped to 1 so that an empty sum stays an exact (graph-connected) zero.

    Args:
        local_count: Number of terms in this rank's sum (any numeric dtype, scalar).

    Returns:
        ``world_size / max(global_count, 1)`` as a float scalar tensor, without gradient.
    """
    global_count = all_reduce_sum(local_count.float())
    return world_size() / global_count.clamp(min=1.0)
