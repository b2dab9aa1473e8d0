"""SimCLR: two augmented views, a projection head and NT-Xent (Chen et al., 2020)."""

from __future__ import annotations

from typing import Any

from lightly.models.modules import SimCLRProjectionHead
from torch import Tensor, nn

from foundations.encoders.encoder import Encoder
from foundations.methods.base import SSLMethod
from foundations.methods.views import batch_size_of, make_view
from foundations.objectives.ntxent import NTXentLoss


class SimCLR(SSLMethod):
    """Contrastive pretraining of one encoder.

    Args:
        encoder: The modality encoder being trained.
        augment: The domain's view policy, applied on-device to ``batch[encoder.modality]``.
        hidden_dim: Projection head hidden width.
        projection_dim: Projection head output width.
        temperature: NT-Xent temperature.
        **optim: Optimiser settings of :class:`SSLMethod` (``lr``, ``weight_decay``, ...).
    """

    def __init__(
        self,
        encoder: Encoder,
        augment: nn.Module | None = None,
        hidden_dim: int = 512,
        projection_dim: int = 128,
        temperature: float = 0.1,
        lr: float = 1e-3,
        weight_decay: float = 0.05,
        warmup_ratio: float = 0.1,
        final_lr_ratio: float = 0.01,
    ) -> None:
        super().__init__(lr, weight_decay, warmup_ratio, final_lr_ratio)
        self.save_config("encoder", "augment")
        self.encoder = encoder
        self.augment = augment
        self.projection = SimCLRProjectionHead(encoder.out_dim, hidden_dim, projection_dim)
        self.criterion = NTXentLoss(temperature=temperature)

    def shared_step(self, batch: dict[str, Any], stage: str) -> Tensor:
        inputs = batch[self.encoder.modality]
        z0 = self.projection(self.encoder(make_view(self.augment, inputs)))
        z1 = self.projection(self.encoder(make_view(self.augment, inputs)))
        loss = self.criterion(z0, z1)
        self.log_loss(stage, loss, batch_size_of(inputs))
        return loss
