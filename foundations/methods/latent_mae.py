"""Masked latent prediction: predict an EMA teacher's tokens at hidden positions.

The student sees the visible tokens only (as in MAE); a narrow predictor places mask tokens at
the hidden positions and regresses the teacher's layer-normalised output tokens there, the
teacher being an exponential moving average of the student that encodes every token
(data2vec 2.0, Baevski et al. 2022; I-JEPA, Assran et al. 2023). Regressing contextual
representations rather than raw values is what gives those methods linearly separable
embeddings where MAE's need fine-tuning.
"""

from __future__ import annotations

import copy
from typing import Any

import torch
import torch.nn.functional as F
from lightly.models.utils import deactivate_requires_grad, update_momentum
from lightly.utils.scheduler import cosine_schedule
from torch import Tensor, nn

from foundations.encoders.encoder import Encoder
from foundations.encoders.masking import hidden_index, random_keep_index
from foundations.encoders.tokens import gather_tokens
from foundations.methods.base import SSLMethod
from foundations.methods.mae import MAEDecoder
from foundations.methods.views import batch_size_of, make_view
from foundations.objectives.mae import MAELoss


class MaskedLatentPrediction(SSLMethod):
    """Masked modelling in the teacher's representation space, optionally plus MAE's values.

    Args:
        encoder: The student encoder; the teacher is a copy updated by EMA.
        augment: Optional view policy applied before tokenizing (one view, seen by both).
        mask_ratio: Fraction of tokens hidden from the student.
        predictor_dim: Predictor width.
        predictor_depth: Predictor blocks.
        predictor_heads: Predictor attention heads.
        momentum_start: Teacher EMA momentum at step 0, cosine to ``momentum_end``.
        momentum_end: Teacher EMA momentum at the last step.
        reconstruction_weight: Weight of MAE's value reconstruction at the hidden positions,
            predicted by the same predictor; 0 trains on the latent targets alone.
        huber_delta: Huber threshold of the value reconstruction (see
            :class:`~foundations.objectives.mae.MAELoss`); None keeps squared error.

    Raises:
        ValueError: On a negative ``reconstruction_weight``, or a tokenizer without
            ``target_dim`` when values are reconstructed.
    """

    def __init__(
        self,
        encoder: Encoder,
        augment: nn.Module | None = None,
        mask_ratio: float = 0.5,
        predictor_dim: int = 64,
        predictor_depth: int = 1,
        predictor_heads: int = 4,
        momentum_start: float = 0.996,
        momentum_end: float = 1.0,
        reconstruction_weight: float = 0.0,
        huber_delta: float | None = None,
        lr: float = 1e-3,
        weight_decay: float = 0.05,
        warmup_ratio: float = 0.1,
        final_lr_ratio: float = 0.01,
    ) -> None:
        super().__init__(lr, weight_decay, warmup_ratio, final_lr_ratio, betas=(0.9, 0.95))
        self.save_config("encoder", "augment")
        if reconstruction_weight < 0:
            raise ValueError(f"reconstruction_weight must be >= 0, got {reconstruction_weight}")
        value_dim = 0
        if reconstruction_weight > 0:
            value_dim = int(getattr(encoder.tokenizer, "target_dim", 0) or 0)
            if not value_dim:
                raise ValueError(
                    f"{type(encoder.tokenizer).__name__} has no `target_dim`; "
                    "set reconstruction_weight to 0"
                )
        self.encoder = encoder
        self.augment = augment
        self.mask_ratio = mask_ratio
        self.value_dim = value_dim
        self.reconstruction_weight = reconstruction_weight
        self.predictor = MAEDecoder(
            encoder.out_dim,
            encoder.out_dim + value_dim,
            predictor_dim,
            predictor_depth,
            predictor_heads,
        )
        self.teacher = copy.deepcopy(encoder)
        deactivate_requires_grad(self.teacher)
        self.latent_criterion = MAELoss()
        self.value_criterion = MAELoss(huber_delta=huber_delta)
        self.momentum_start = momentum_start
        self.momentum_end = momentum_end

    def shared_step(self, batch: dict[str, Any], stage: str) -> Tensor:
        inputs = make_view(self.augment, batch[self.encoder.modality])
        tokens = self.encoder.tokenize(inputs)
        if tokens.pos is None:
            raise ValueError(
                f"MaskedLatentPrediction needs a tokenizer that returns `pos`; "
                f"{type(self.encoder.tokenizer).__name__} returned pos=None"
            )
        with torch.no_grad():
            teacher_tokens = self.teacher.encode_tokens(self.teacher.tokenize(inputs)).tokens
            teacher_tokens = F.layer_norm(teacher_tokens, teacher_tokens.shape[-1:])
        keep_index, mask = random_keep_index(
            tokens.batch_size,
            tokens.num_tokens,
            self.mask_ratio,
            tokens.padding_mask,
            device=tokens.tokens.device,
        )
        visible = self.encoder.encode_tokens(tokens, keep_index).tokens
        hidden = hidden_index(keep_index, tokens.num_tokens)
        prediction = self.predictor(visible, keep_index, tokens, predict_index=hidden)
        hidden_mask = gather_tokens(mask, hidden)
        dim = self.encoder.out_dim
        latent = self.latent_criterion(
            prediction[..., :dim], gather_tokens(teacher_tokens, hidden), hidden_mask
        )
        loss = latent
        extra: dict[str, Tensor] = {}
        if self.reconstruction_weight > 0:
            if tokens.target is None:
                raise ValueError(
                    f"{type(self.encoder.tokenizer).__name__} returned no `target`; "
                    "set reconstruction_weight to 0"
                )
            target_mask = tokens.target_mask
            values = self.value_criterion(
                prediction[..., dim:],
                gather_tokens(tokens.target, hidden),
                hidden_mask,
                None if target_mask is None else gather_tokens(target_mask, hidden),
            )
            loss = loss + self.reconstruction_weight * values
            extra = {"latent": latent, "values": values}
        self.log_loss(stage, loss, batch_size_of(inputs), **extra)
        return loss

    def on_train_batch_end(self, outputs: Any, batch: Any, batch_idx: int) -> None:
        momentum = cosine_schedule(
            self.global_step, self.total_steps, self.momentum_start, self.momentum_end
        )
        update_momentum(self.encoder, self.teacher, momentum)
