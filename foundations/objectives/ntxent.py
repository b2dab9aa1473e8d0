"""NT-Xent, the normalised temperature-scaled cross-entropy of SimCLR."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from foundations.objectives import distributed


class NTXentLoss(nn.Module):
    """SimCLR's NT-Xent loss over two views of a batch [0].

    Every embedding of both views is an anchor; its positive is the other view of the same
    sample and its negatives are all other embeddings of both views (``2N - 2`` per anchor for
    a global batch of ``N``). Matches ``lightly.loss.NTXentLoss`` without memory bank, written
    here so that the distributed behaviour follows this package's convention (see
    :mod:`foundations.objectives.distributed`) with a single gather.

    - [0] SimCLR, 2020, https://arxiv.org/abs/2002.05709

    Args:
        temperature: Softmax temperature applied to the cosine similarities.
        gather_distributed: Use the embeddings of all ranks as candidates under DDP.

    Raises:
        ValueError: If ``temperature`` is not positive.

    Examples:
        >>> loss_fn = NTXentLoss(temperature=0.1)
        >>> loss = loss_fn(model(view0), model(view1))
    """

    def __init__(self, temperature: float = 0.1, gather_distributed: bool = True) -> None:
        super().__init__()
        if temperature <= 0:
            raise ValueError(f"temperature must be positive, got {temperature}.")
        self.temperature = temperature
        self.gather_distributed = gather_distributed

    def forward(self, z0: Tensor, z1: Tensor) -> Tensor:
        """Compute the loss.

        Args:
            z0: Embeddings of the first view, ``[B, D]``.
            z1: Embeddings of the second view, ``[B, D]``, row ``i`` pairs with ``z0[i]``.

        Returns:
            Scalar loss, the mean over the ``2B`` local anchors.

        Raises:
            ValueError: If the shapes of ``z0`` and ``z1`` differ or are not 2-D.
        """
        if z0.shape != z1.shape or z0.ndim != 2:
            raise ValueError(f"Expected two [B, D] tensors, got {z0.shape} and {z1.shape}.")
        batch_size = z0.shape[0]
        local = F.normalize(torch.cat([z0, z1]), dim=1)
        offset = 0
        candidates = local
        if self.gather_distributed and distributed.is_distributed():
            # Gathered as [rank0: z0, z1, rank1: z0, z1, ...]: one collective for both views.
            candidates = distributed.gather(local)
            offset = distributed.rank() * 2 * batch_size

        logits = local @ candidates.T / self.temperature
        rows = torch.arange(2 * batch_size, device=local.device)
        self_index = offset + rows
        logits[rows, self_index] = torch.finfo(logits.dtype).min
        labels = offset + (rows + batch_size) % (2 * batch_size)
        return F.cross_entropy(logits, labels)
