"""CLIP's symmetric contrastive loss, with a learnable temperature and missing samples."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from foundations.objectives import distributed
from foundations.objectives.pair import PairLoss, prepare_pair


class CLIPLoss(PairLoss):
    """Symmetric InfoNCE between two modalities, as in CLIP [0] and ``open_clip.ClipLoss``.

    Embeddings are L2-normalised and compared with a learnable ``logit_scale`` (the log of the
    inverse temperature, clamped to ``log(max_logit_scale)`` in the forward pass). The loss is
    the mean of the ``a -> b`` and ``b -> a`` cross-entropies. Samples lacking one of the
    modalities are excluded through ``valid``: they are neither anchors nor candidates, so they
    do not change the loss of the others. It is reimplemented rather than wrapping open_clip
    because open_clip has neither the masking nor this package's distributed convention (see
    :mod:`foundations.objectives.distributed`).

    - [0] CLIP, 2021, https://arxiv.org/abs/2103.00020

    Args:
        init_temperature: Initial softmax temperature.
        learnable_temperature: Whether ``logit_scale`` receives gradients.
        max_logit_scale: Upper bound of ``exp(logit_scale)`` (i.e. ``1 / temperature``).
        gather_distributed: Use the embeddings of all ranks as candidates under DDP. If False,
            each rank computes the loss of its own batch as if it were alone.

    Raises:
        ValueError: If ``init_temperature`` or ``max_logit_scale`` is not positive.

    Examples:
        >>> loss_fn = CLIPLoss()
        >>> loss = loss_fn(image_emb, text_emb, valid=has_text & has_image)
    """

    def __init__(
        self,
        init_temperature: float = 0.07,
        learnable_temperature: bool = True,
        max_logit_scale: float = 100.0,
        gather_distributed: bool = True,
    ) -> None:
        super().__init__()
        if init_temperature <= 0 or max_logit_scale <= 0:
            raise ValueError(
                "init_temperature and max_logit_scale must be positive, got "
                f"{init_temperature} and {max_logit_scale}."
            )
        self.logit_scale = nn.Parameter(
            torch.tensor(math.log(1.0 / init_temperature)), requires_grad=learnable_temperature
        )
        self.max_log_scale = math.log(max_logit_scale)
        self.gather_distributed = gather_distributed

    def loss_and_count(
        self, a: Tensor, b: Tensor, valid: Tensor | None = None
    ) -> tuple[Tensor, Tensor]:
        """:meth:`PairLoss.loss_and_count` with the symmetric softmax (CLIP) loss."""
        a, b, valid = prepare_pair(a, b, valid)
        labels = torch.arange(a.shape[0], device=a.device)
        all_a, all_b, all_valid = a, b, valid
        world = distributed.world_size() if self.gather_distributed else 1
        if world > 1:
            all_a, all_b = distributed.gather(a), distributed.gather(b)
            all_valid = distributed.gather_no_grad(valid)
            labels = labels + distributed.rank() * a.shape[0]
        # Invalid anchors are ignored by the cross-entropy, invalid candidates get ~zero
        # probability; finfo.min rather than -inf keeps an all-masked row free of NaNs.
        labels = labels.masked_fill(~valid, -100)
        scale = self.logit_scale.clamp(max=self.max_log_scale).exp()

        def directed(anchors: Tensor, candidates: Tensor) -> Tensor:
            logits = scale * anchors @ candidates.T
            logits = logits.masked_fill(~all_valid[None, :], torch.finfo(logits.dtype).min)
            return F.cross_entropy(logits, labels, ignore_index=-100, reduction="sum")

        loss_sum = (directed(a, all_b) + directed(b, all_a)) / 2
        count = all_valid.sum()
        return loss_sum * world / count.clamp(min=1), count
