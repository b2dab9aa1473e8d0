"""DINO's self-distillation loss with centering, sharpening and a temperature warm-up."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from foundations.objectives import distributed


class DINOLoss(nn.Module):
    """Cross-entropy between a centred, sharpened teacher and the student, as in DINO [0].

    For every teacher view (the global crops) and every student view with a different view
    index, the cross-entropy between the teacher distribution
    ``softmax((t - center) / teacher_temp)`` and the student distribution
    ``softmax(s / student_temp)`` is averaged over samples and then over view pairs. The
    teacher temperature rises linearly from ``warmup_teacher_temp`` at epoch 0 to
    ``teacher_temp`` at epoch ``warmup_teacher_temp_epochs - 1``, then stays constant. Teacher
    outputs are treated as constants (detached).

    After the loss is computed, and only in training mode, the ``center`` buffer is updated
    with an exponential moving average of the teacher outputs' mean over views, samples and
    ranks. The mean uses the all-reduced sample count, so it is exact even when ranks hold
    batches of different sizes; for the same reason the loss is normalised by the global
    number of samples (see :mod:`foundations.objectives.distributed`). Matches
    ``lightly.loss.DINOLoss``; reimplemented for that count-exact distributed behaviour, a
    single collective per call and no center update during evaluation.

    - [0] DINO, 2021, https://arxiv.org/abs/2104.14294

    Args:
        output_dim: Dimension of the projection head output.
        warmup_teacher_temp: Teacher temperature at epoch 0.
        teacher_temp: Teacher temperature after the warm-up.
        warmup_teacher_temp_epochs: Length of the linear warm-up, in epochs.
        student_temp: Student temperature.
        center_momentum: EMA momentum of the center.

    Raises:
        ValueError: If a temperature is not positive or ``center_momentum`` is outside
            ``[0, 1]``.

    Examples:
        >>> loss_fn = DINOLoss(output_dim=65536)
        >>> teacher_out = [teacher(v) for v in global_views]
        >>> student_out = [student(v) for v in global_views + local_views]
        >>> loss = loss_fn(teacher_out, student_out, epoch=current_epoch)
    """

    center: Tensor

    def __init__(
        self,
        output_dim: int,
        warmup_teacher_temp: float = 0.04,
        teacher_temp: float = 0.04,
        warmup_teacher_temp_epochs: int = 30,
        student_temp: float = 0.1,
        center_momentum: float = 0.9,
    ) -> None:
        super().__init__()
        if min(warmup_teacher_temp, teacher_temp, student_temp) <= 0:
            raise ValueError("Temperatures must be positive.")
        if not 0.0 <= center_momentum <= 1.0:
            raise ValueError(f"center_momentum must be in [0, 1], got {center_momentum}.")
        self.warmup_teacher_temp = warmup_teacher_temp
        self.teacher_temp = teacher_temp
        self.warmup_teacher_temp_epochs = warmup_teacher_temp_epochs
        self.student_temp = student_temp
        self.center_momentum = center_momentum
        self.register_buffer("center", torch.zeros(1, output_dim))

    def teacher_temperature(self, epoch: int) -> float:
        """Teacher temperature of the linear warm-up schedule.

        Args:
            epoch: Current epoch, starting at 0.

        Returns:
            The temperature, as ``numpy.linspace(warmup, final, warmup_epochs)[epoch]`` during
            the warm-up (like the DINO code) and ``teacher_temp`` afterwards.
        """
        if epoch >= self.warmup_teacher_temp_epochs:
            return self.teacher_temp
        if self.warmup_teacher_temp_epochs == 1:
            return self.warmup_teacher_temp
        progress = max(epoch, 0) / (self.warmup_teacher_temp_epochs - 1)
        return self.warmup_teacher_temp + progress * (self.teacher_temp - self.warmup_teacher_temp)

    def forward(
        self, teacher_out: list[Tensor], student_out: list[Tensor], epoch: int = 0
    ) -> Tensor:
        """Compute the loss and, in training mode, update the center.

        Args:
            teacher_out: Teacher outputs ``[B, output_dim]``, one per teacher (global) view.
            student_out: Student outputs ``[B, output_dim]``, one per view; view ``i`` of the
                student is the same crop as view ``i`` of the teacher.
            epoch: Current epoch, for the teacher temperature warm-up.

        Returns:
            Scalar loss.

        Raises:
            ValueError: If there is no pair of different views or the shapes differ.
        """
        if len(teacher_out) * len(student_out) - min(len(teacher_out), len(student_out)) == 0:
            raise ValueError(
                "DINOLoss needs a teacher and a student view with different indices, got "
                f"{len(teacher_out)} teacher and {len(student_out)} student view(s)."
            )
        teacher = torch.stack(teacher_out).detach()
        student = torch.stack(student_out)
        if teacher.shape[1:] != student.shape[1:] or teacher.shape[-1] != self.center.shape[-1]:
            raise ValueError(
                f"Teacher and student outputs must be [B, {self.center.shape[-1]}], got "
                f"{list(teacher.shape[1:])} and {list(student.shape[1:])}."
            )
        # One collective for both the center update and the loss normaliser.
        batch = torch.tensor([teacher.shape[1]], dtype=torch.float32, device=teacher.device)
        local_stats = torch.cat([teacher.sum(dim=(0, 1), dtype=torch.float32), batch])
        global_stats = distributed.all_reduce_sum(local_stats)
        global_batch = global_stats[-1]

        teacher_probs = F.softmax((teacher - self.center) / self.teacher_temperature(epoch), -1)
        student_logp = F.log_softmax(student / self.student_temp, dim=-1)
        # Elementwise rather than one einsum: stays in float32 under autocast, like DINO's code.
        loss = student.new_zeros((), dtype=torch.float32)
        n_terms = 0
        for t_index, t_probs in enumerate(teacher_probs):
            for s_index, s_logp in enumerate(student_logp):
                if t_index != s_index:
                    loss = loss - (t_probs * s_logp).sum()
                    n_terms += 1
        loss = loss * distributed.world_size() / (n_terms * global_batch)

        if self.training:
            self._update_center(global_stats[:-1] / (global_batch * teacher.shape[0]))
        return loss

    @torch.no_grad()
    def _update_center(self, batch_center: Tensor) -> None:
        """Exponential moving average of the center towards ``batch_center``."""
        batch_center = batch_center.to(self.center.dtype).view_as(self.center)
        self.center.mul_(self.center_momentum).add_(batch_center, alpha=1 - self.center_momentum)
