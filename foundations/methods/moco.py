"""MoCo v3: a momentum encoder, a predictor and symmetric InfoNCE (Chen, Xie & He, 2021)."""

from __future__ import annotations

import copy
from typing import Any

import torch
from lightly.models.modules import MoCoProjectionHead
from lightly.models.utils import deactivate_requires_grad, update_momentum
from lightly.utils.scheduler import cosine_schedule
from torch import Tensor, nn

from foundations.encoders.encoder import Encoder
from foundations.methods.base import SSLMethod
from foundations.methods.views import batch_size_of, make_view
from foundations.objectives.infonce import InfoNCELoss


class MoCoV3(SSLMethod):
    """Contrastive pretraining with a momentum (EMA) key encoder.

    Args:
        encoder: The modality encoder being trained (the query encoder).
        augment: The domain's view policy.
        hidden_dim: Projection/prediction head hidden width.
        projection_dim: Output width of the heads.
        temperature: InfoNCE temperature.
        momentum_start: EMA momentum at step 0; follows a cosine to ``momentum_end``.
        momentum_end: EMA momentum at the last step.
    """

    def __init__(
        self,
        encoder: Encoder,
        augment: nn.Module | None = None,
        hidden_dim: int = 1024,
        projection_dim: int = 256,
        temperature: float = 0.2,
        momentum_start: float = 0.99,
        momentum_end: float = 1.0,
        lr: float = 1e-3,
        weight_decay: float = 0.05,
        warmup_ratio: float = 0.1,
        final_lr_ratio: float = 0.01,
    ) -> None:
        super().__init__(lr, weight_decay, warmup_ratio, final_lr_ratio)
        self.save_config("encoder", "augment")
        self.encoder = encoder
        self.augment = augment
        self.projection = MoCoProjectionHead(encoder.out_dim, hidden_dim, projection_dim, 3)
        self.predictor = MoCoProjectionHead(projection_dim, hidden_dim, projection_dim, 2)
        self.momentum_encoder = copy.deepcopy(encoder)
        self.momentum_projection = copy.deepcopy(self.projection)
        deactivate_requires_grad(self.momentum_encoder)
        deactivate_requires_grad(self.momentum_projection)
        self.criterion = InfoNCELoss(temperature=temperature)
        self.momentum_start = momentum_start
        self.momentum_end = momentum_end

    def _query(self, view: Any) -> Tensor:
        return self.predictor(self.projection(self.encoder(view)))

    @torch.no_grad()
    def _key(self, view: Any) -> Tensor:
        return self.momentum_projection(self.momentum_encoder(view))

    def shared_step(self, batch: dict[str, Any], stage: str) -> Tensor:
        inputs = batch[self.encoder.modality]
        v0, v1 = make_view(self.augment, inputs), make_view(self.augment, inputs)
        loss = self.criterion(self._query(v0), self._key(v1))
        loss = loss + self.criterion(self._query(v1), self._key(v0))
        self.log_loss(stage, loss, batch_size_of(inputs))
        return loss

    def on_train_batch_end(self, outputs: Any, batch: Any, batch_idx: int) -> None:
        momentum = cosine_schedule(
            self.global_step, self.total_steps, self.momentum_start, self.momentum_end
        )
        update_momentum(self.encoder, self.momentum_encoder, momentum)
        update_momentum(self.projection, self.momentum_projection, momentum)
