"""InfoNCE between queries and momentum keys, as in MoCo v3."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from foundations.objectives import distributed


class InfoNCELoss(nn.Module):
    """MoCo v3's contrastive loss [0]: each query against all keys of the (global) batch.

    Queries and keys are L2-normalised; the positive of query ``i`` is the key of the same
    sample, every other key of the global batch is a negative. The loss is asymmetric: MoCo v3
    symmetrises it in the caller as ``loss(q1, k2) + loss(q2, k1)``. With
    ``scale_by_temperature`` the cross-entropy is multiplied by ``2 * temperature`` as in the
    official code, which keeps the gradient scale independent of the temperature.

    Keys normally come detached from a momentum encoder; if they carry gradients these are
    propagated correctly (also across ranks). lightly has no loss of this exact form (its
    MoCo examples use ``NTXentLoss`` with a memory bank), so it is written here.

    - [0] MoCo v3, 2021, https://arxiv.org/abs/2104.02057

    Args:
        temperature: Softmax temperature.
        gather_distributed: Use the keys of all ranks as candidates under DDP.
        scale_by_temperature: Multiply the loss by ``2 * temperature``.

    Raises:
        ValueError: If ``temperature`` is not positive.

    Examples:
        >>> loss_fn = InfoNCELoss(temperature=0.2)
        >>> loss = loss_fn(q1, k2) + loss_fn(q2, k1)
    """

    def __init__(
        self,
        temperature: float = 0.2,
        gather_distributed: bool = True,
        scale_by_temperature: bool = True,
    ) -> None:
        super().__init__()
        if temperature <= 0:
            raise ValueError(f"temperature must be positive, got {temperature}.")
        self.temperature = temperature
        self.gather_distributed = gather_distributed
        self.scale_by_temperature = scale_by_temperature

    def forward(self, query: Tensor, key: Tensor) -> Tensor:
        """Compute the loss.

        Args:
            query: Query embeddings (online encoder + predictor), ``[B, D]``.
            key: Key embeddings (momentum encoder), ``[B, D]``, row ``i`` pairs with
                ``query[i]``.

        Returns:
            Scalar loss, the mean over the local queries (times ``2 * temperature`` when
            ``scale_by_temperature``).

        Raises:
            ValueError: If the shapes of ``query`` and ``key`` differ or are not 2-D.
        """
        if query.shape != key.shape or query.ndim != 2:
            raise ValueError(f"Expected two [B, D] tensors, got {query.shape} and {key.shape}.")
        query = F.normalize(query, dim=1)
        key = F.normalize(key, dim=1)
        labels = torch.arange(query.shape[0], device=query.device)
        if self.gather_distributed and distributed.is_distributed():
            key = distributed.gather(key)
            labels = labels + distributed.rank() * query.shape[0]

        loss = F.cross_entropy(query @ key.T / self.temperature, labels)
        if self.scale_by_temperature:
            loss = loss * (2 * self.temperature)
        return loss
