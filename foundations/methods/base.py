"""Shared LightningModule plumbing for self-supervised methods.

Every method gets AdamW with per-step linear warm-up + cosine decay, no weight decay on norms,
biases and learned tokens, exact-resume random-number state in its checkpoints, and a
``predict_step`` that returns embeddings. Subclasses implement :meth:`shared_step`.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Any

import lightning as L
import torch
from lightning.pytorch.core.mixins.hparams_mixin import _given_hyperparameters
from lightning.pytorch.plugins.precision import MixedPrecision
from torch import Tensor, nn

from foundations.methods.rng import (
    capture_rng_states,
    gather_rng_states,
    restore_rng_states,
    seed_this_rank,
)
from foundations.methods.sharding import shard_method
from foundations.schedules import warmup_cosine_scheduler

_NO_DECAY_KEYWORDS = ("pos", "cls_token", "mask_token", "query", "logit_scale", "logit_bias")


_WRAPPER_PREFIXES = ("_fsdp_wrapped_module.", "_checkpoint_wrapped_module.", "_orig_mod.")


def unwrapped_name(name: str) -> str:
    """A parameter's name without the prefixes FSDP, activation checkpointing and
    ``torch.compile`` insert."""
    for prefix in _WRAPPER_PREFIXES:
        name = name.replace(prefix, "")
    return name


def parameter_groups(
    module: nn.Module, weight_decay: float, ndims: Mapping[str, int] | None = None
) -> list[dict[str, Any]]:
    """Split trainable parameters into decayed weights and undecayed norms/biases/tokens.

    Args:
        module: The module whose parameters are optimised.
        weight_decay: Decay of the weight matrices.
        ndims: Dimensions of each parameter before wrapping, by unwrapped name. FSDP hands the
            optimiser flattened 1-D shards, which would all look like biases; with the shapes
            recorded before wrapping, matrices are still decayed.
    """
    decay, no_decay = [], []
    for name, param in module.named_parameters():
        if not param.requires_grad:
            continue
        ndim = (ndims or {}).get(unwrapped_name(name), param.ndim)
        if ndim <= 1 or any(key in name for key in _NO_DECAY_KEYWORDS):
            no_decay.append(param)
        else:
            decay.append(param)
    return [
        {"params": decay, "weight_decay": weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]


class SSLMethod(L.LightningModule):
    """Base class: optimisation, checkpoint RNG state and embedding prediction.

    Args:
        lr: Peak learning rate of AdamW.
        weight_decay: AdamW weight decay on weight matrices.
        warmup_ratio: Fraction of all optimiser steps spent in linear warm-up.
        final_lr_ratio: Learning rate at the end of the cosine, relative to ``lr``.
        betas: AdamW betas.
    """

    def __init__(
        self,
        lr: float = 1e-3,
        weight_decay: float = 0.05,
        warmup_ratio: float = 0.1,
        final_lr_ratio: float = 0.01,
        betas: tuple[float, float] = (0.9, 0.95),
    ) -> None:
        super().__init__()
        self.lr = lr
        self.weight_decay = weight_decay
        self.warmup_ratio = warmup_ratio
        self.final_lr_ratio = final_lr_ratio
        self.betas = betas

    def save_config(self, *module_args: str) -> None:
        """Record the constructor arguments so a checkpoint rebuilds its own architecture.

        Built by the CLI, the arguments are the recipe's config (encoders as class paths), so
        ``SSLMethod.load_from_checkpoint(path)`` needs no recipe. Built in Python, the module
        arguments named in ``module_args`` are objects and are left out (they would be pickled).
        Call it from ``__init__`` of a subclass.
        """
        frame = inspect.currentframe()
        caller = frame.f_back if frame is not None else None
        from_config = _given_hyperparameters.get() is not None
        self.save_hyperparameters(ignore=[] if from_config else list(module_args), frame=caller)

    # -- to implement -------------------------------------------------------------------------
    def shared_step(self, batch: dict[str, Any], stage: str) -> Tensor:
        """Compute (and log) the training objective for one batch."""
        raise NotImplementedError

    def embedding_encoder(self) -> nn.Module:
        """The encoder whose pooled output is the model's embedding (for predict / eval)."""
        encoder = getattr(self, "encoder", None)
        if not isinstance(encoder, nn.Module):
            raise NotImplementedError(f"{type(self).__name__} must define embedding_encoder()")
        return encoder

    def embedding_views(self) -> nn.Module | None:
        """The view policy the embedding encoder was pretrained on, or ``None``.

        Evaluation can average embeddings over random draws of it
        (:class:`~evaluation.view_average.ViewAveragedEncoder`).
        """
        augment = getattr(self, "augment", None)
        if isinstance(augment, nn.ModuleDict) or not isinstance(augment, nn.Module):
            return None
        return augment

    # -- Lightning hooks ----------------------------------------------------------------------
    def training_step(self, batch: dict[str, Any], batch_idx: int) -> Tensor:
        return self.shared_step(batch, "train")

    def validation_step(self, batch: dict[str, Any], batch_idx: int) -> Tensor:
        return self.shared_step(batch, "val")

    def test_step(self, batch: dict[str, Any], batch_idx: int) -> Tensor:
        return self.shared_step(batch, "test")

    def predict_step(self, batch: dict[str, Any], batch_idx: int) -> dict[str, Tensor]:
        encoder = self.embedding_encoder()
        modality = getattr(encoder, "modality", "image")
        out = {"embedding": encoder(batch[modality])}
        if "label" in batch:
            out["label"] = batch["label"]
        return out

    def log_loss(self, stage: str, loss: Tensor, batch_size: int, **extra: Tensor) -> None:
        on_step = stage == "train"
        self.log(
            f"{stage}/loss",
            loss,
            prog_bar=True,
            on_step=on_step,
            on_epoch=not on_step,
            batch_size=batch_size,
            sync_dist=not on_step,
        )
        for name, value in extra.items():
            self.log(
                f"{stage}/{name}",
                value,
                on_step=on_step,
                on_epoch=not on_step,
                batch_size=batch_size,
                sync_dist=not on_step,
            )

    def setup(self, stage: str) -> None:
        # Runs before a strategy wraps the model (FSDP1 flattens parameters; FSDP2 keeps their
        # shapes); see parameter_groups.
        self._parameter_ndims = {name: p.ndim for name, p in self.named_parameters()}

    def configure_model(self) -> None:
        """Shard the method with FSDP2 under Lightning's ``ModelParallelStrategy``.

        That strategy hands the module its device mesh before calling this hook; under every
        other strategy (DDP, a single device) there is none and the model is left as it is.
        Sharding twice is a no-op, so the hook may run more than once.
        """
        mesh = self._device_mesh
        if mesh is not None:
            shard_method(self, mesh["data_parallel"])

    def configure_optimizers(self) -> Any:
        # The fused kernel (CPU and CUDA) is one launch instead of a loop over tensors: 4.5x
        # faster optimiser steps on CPU (benchmarks/rs_ssl_step.py --optimizer adamw-fused).
        # Lightning refuses to clip the gradients of a fused optimiser under mixed precision
        # (the kernel unscales fp16 gradients itself), so those runs take the unfused one.
        optimizer = torch.optim.AdamW(
            parameter_groups(self, self.weight_decay, getattr(self, "_parameter_ndims", None)),
            lr=self.lr,
            betas=self.betas,
            fused=not self._clips_under_mixed_precision(),
        )
        scheduler = warmup_cosine_scheduler(
            optimizer,
            self.trainer.estimated_stepping_batches,
            self.warmup_ratio,
            self.final_lr_ratio,
        )
        return {"optimizer": optimizer, "lr_scheduler": scheduler}

    def _clips_under_mixed_precision(self) -> bool:
        trainer = getattr(self, "_trainer", None)
        return (
            trainer is not None
            and bool(trainer.gradient_clip_val)
            and isinstance(trainer.precision_plugin, MixedPrecision)
        )

    @property
    def total_steps(self) -> int:
        """Optimiser steps of the whole run (for momentum and temperature schedules)."""
        trainer = getattr(self, "_trainer", None)
        if trainer is None:
            return 1
        return max(1, int(trainer.estimated_stepping_batches))

    # Lightning checkpoints do not hold random-number state; without it a resumed run draws
    # different augmentations and masks than an uninterrupted one. See foundations.methods.rng:
    # "rng_states" is this rank's (rank 0's in the file, as before), "rng_states_per_rank" has
    # every rank's under multi-process training.
    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        states = capture_rng_states()
        checkpoint["rng_states"] = states
        per_rank = gather_rng_states(states)
        if per_rank is not None:
            checkpoint["rng_states_per_rank"] = per_rank

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        self._resumed_rng_states = checkpoint.get("rng_states")
        self._resumed_rng_per_rank = checkpoint.get("rng_states_per_rank")

    def on_train_start(self) -> None:
        """Give each rank its own random stream (see :mod:`foundations.methods.rng`).

        One process: a resumed run continues the checkpoint's stream (rank 0's, when the
        checkpoint came from several processes); a fresh run keeps the seeded stream. Several
        processes: each rank continues its own stream when the checkpoint has one per rank for
        this world size; otherwise (fresh run, or a changed number of processes) each rank is
        reseeded from ``(seed, rank, global_step)``.
        """
        states = getattr(self, "_resumed_rng_states", None)
        per_rank = getattr(self, "_resumed_rng_per_rank", None)
        self._resumed_rng_states = self._resumed_rng_per_rank = None
        world_size, rank = self.trainer.world_size, self.trainer.global_rank
        if per_rank is not None and len(per_rank) == world_size:
            restore_rng_states(per_rank[rank])
        elif world_size > 1:
            seed_this_rank(rank, self.trainer.global_step)
        elif states is not None:
            restore_rng_states(states)
