"""DINO: self-distillation with an EMA teacher, centring and sharpening (Caron et al., 2021)."""

from __future__ import annotations

import copy
from typing import Any

import torch
from lightly.loss import KoLeoLoss
from lightly.models.modules import DINOProjectionHead
from lightly.models.utils import deactivate_requires_grad, update_momentum
from lightly.utils.scheduler import cosine_schedule
from torch import Tensor, nn

from foundations.encoders.encoder import Encoder
from foundations.methods.base import SSLMethod
from foundations.methods.views import batch_size_of, make_view
from foundations.objectives.dino import DINOLoss


class DINO(SSLMethod):
    """Self-distillation without labels.

    The teacher sees the two global views, the student sees those and ``num_local_views`` local
    views. The teacher is an EMA of the student with a cosine momentum schedule.

    Args:
        encoder: The student encoder (the teacher is a copy).
        augment: View policy for the global views.
        local_augment: View policy for local views (smaller crops); defaults to ``augment``.
        num_local_views: Number of local views per sample.
        hidden_dim: DINO head hidden width.
        bottleneck_dim: DINO head bottleneck width.
        output_dim: Number of prototypes (DINO head output).
        student_temp: Student softmax temperature.
        teacher_temp: Teacher temperature after warm-up.
        warmup_teacher_temp: Teacher temperature at epoch 0.
        warmup_teacher_temp_epochs: Epochs of linear teacher-temperature warm-up.
        center_momentum: EMA momentum of the teacher-output centre.
        momentum_start: Teacher EMA momentum at step 0, cosine to ``momentum_end``.
        momentum_end: Teacher EMA momentum at the last step.
        freeze_last_layer_epochs: Epochs during which the head's last layer is not updated.
        head_batch_norm: Batch normalisation in the projection heads' MLP. Small encoders on
            homogeneous images (radiographs) start with nearly identical outputs for every
            sample and collapse within a few steps without it.
        koleo_weight: Weight of the KoLeo regulariser (DINOv2, lightly's ``KoLeoLoss``) on the
            student's global-view embeddings, which keeps them spread over the sphere; 0 turns
            it off.
    """

    def __init__(
        self,
        encoder: Encoder,
        augment: nn.Module | None = None,
        local_augment: nn.Module | None = None,
        num_local_views: int = 0,
        hidden_dim: int = 512,
        bottleneck_dim: int = 128,
        output_dim: int = 1024,
        student_temp: float = 0.1,
        teacher_temp: float = 0.04,
        warmup_teacher_temp: float = 0.04,
        warmup_teacher_temp_epochs: int = 0,
        center_momentum: float = 0.9,
        momentum_start: float = 0.996,
        momentum_end: float = 1.0,
        freeze_last_layer_epochs: int = 1,
        head_batch_norm: bool = False,
        koleo_weight: float = 0.0,
        lr: float = 5e-4,
        weight_decay: float = 0.04,
        warmup_ratio: float = 0.1,
        final_lr_ratio: float = 0.01,
    ) -> None:
        super().__init__(lr, weight_decay, warmup_ratio, final_lr_ratio)
        self.save_config("encoder", "augment", "local_augment")
        self.encoder = encoder
        self.augment = augment
        self.local_augment = local_augment if local_augment is not None else augment
        self.num_local_views = num_local_views
        self.head = DINOProjectionHead(
            encoder.out_dim,
            hidden_dim,
            bottleneck_dim,
            output_dim,
            batch_norm=head_batch_norm,
            freeze_last_layer=freeze_last_layer_epochs,
        )
        self.teacher = copy.deepcopy(encoder)
        self.teacher_head = DINOProjectionHead(
            encoder.out_dim, hidden_dim, bottleneck_dim, output_dim, batch_norm=head_batch_norm
        )
        self.teacher_head.load_state_dict(self.head.state_dict())
        deactivate_requires_grad(self.teacher)
        deactivate_requires_grad(self.teacher_head)
        self.criterion = DINOLoss(
            output_dim=output_dim,
            warmup_teacher_temp=warmup_teacher_temp,
            teacher_temp=teacher_temp,
            warmup_teacher_temp_epochs=warmup_teacher_temp_epochs,
            student_temp=student_temp,
            center_momentum=center_momentum,
        )
        if koleo_weight < 0:
            raise ValueError(f"koleo_weight must be >= 0, got {koleo_weight}")
        self.koleo_weight = koleo_weight
        self.koleo = KoLeoLoss()
        self.momentum_start = momentum_start
        self.momentum_end = momentum_end

    def shared_step(self, batch: dict[str, Any], stage: str) -> Tensor:
        inputs = batch[self.encoder.modality]
        global_views = [make_view(self.augment, inputs) for _ in range(2)]
        local_views = [make_view(self.local_augment, inputs) for _ in range(self.num_local_views)]
        with torch.no_grad():
            teacher_out = [self.teacher_head(self.teacher(view)) for view in global_views]
        embeddings = [self.encoder(view) for view in global_views + local_views]
        student_out = [self.head(embedding) for embedding in embeddings]
        loss = self.criterion(teacher_out, student_out, epoch=self.current_epoch)
        extra: dict[str, Tensor] = {}
        if self.koleo_weight > 0:
            spread = (self.koleo(embeddings[0]) + self.koleo(embeddings[1])) / 2
            loss = loss + self.koleo_weight * spread
            extra["koleo"] = spread
        self.log_loss(stage, loss, batch_size_of(inputs), **extra)
        return loss

    def on_after_backward(self) -> None:
        self.head.cancel_last_layer_gradients(self.current_epoch)

    def on_train_batch_end(self, outputs: Any, batch: Any, batch_idx: int) -> None:
        momentum = cosine_schedule(
            self.global_step, self.total_steps, self.momentum_start, self.momentum_end
        )
        update_momentum(self.encoder, self.teacher, momentum)
        update_momentum(self.head, self.teacher_head, momentum)
