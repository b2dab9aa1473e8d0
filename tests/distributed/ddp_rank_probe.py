"""A callback that records, per rank, what the distributed tests check.

Loaded by class path (``--trainer.callbacks+=ddp_rank_probe.RankProbe``) in training processes
started by the tests, with this folder on ``PYTHONPATH``. Each rank writes
``<default_root_dir>/probe/rank<R>-ws<W>-from<E>.json`` at the end of training.

Under FSDP2 (``ModelParallelStrategy``) parameters are ``DTensor`` shards: digests are taken of
the gathered full tensors (a collective every rank joins, as all run the same hooks), and the
record also holds what this rank stores locally, the optimiser's weight-decay groups and, for
methods with an EMA copy of the encoder, how exactly the last momentum update matched
``ema = m * ema + (1 - m) * online`` on every element.
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.pytorch.callbacks import Callback
from torch.distributed.tensor import DTensor

# EMA copy -> online module, by attribute name on the method (MoCo v3, DINO).
EMA_PAIRS = {"momentum_encoder": "encoder", "teacher": "encoder"}


def digest(tensor: torch.Tensor) -> str:
    """A short hash of a tensor's bytes."""
    return hashlib.sha1(tensor.detach().cpu().contiguous().numpy().tobytes()).hexdigest()[:16]


def full(tensor: torch.Tensor) -> torch.Tensor:
    """The whole tensor: a ``DTensor`` shard is gathered from every rank."""
    return tensor.full_tensor() if isinstance(tensor, DTensor) else tensor


def parameter_digest(module: torch.nn.Module) -> str:
    """A hash of every parameter (gathered when sharded), in name order."""
    parts = [digest(full(p).float()) for _, p in sorted(module.named_parameters())]
    return hashlib.sha1("".join(parts).encode()).hexdigest()[:16]


def shard_record(module: torch.nn.Module) -> dict[str, Any]:
    """How many parameters are sharded and how many elements this rank stores of them."""
    params = [p for _, p in module.named_parameters()]
    sharded = [p for p in params if isinstance(p, DTensor)]
    return {
        "params": len(params),
        "sharded_params": len(sharded),
        "unsharded_ndims": [p.ndim for p in params if not isinstance(p, DTensor)],
        "global_numel": sum(p.numel() for p in params),
        "local_numel": sum(
            p.to_local().numel() if isinstance(p, DTensor) else p.numel() for p in params
        ),
        "fsdp_units": sum(type(m).__name__.startswith("FSDP") for m in module.modules()),
    }


def ema_pair(module: torch.nn.Module) -> tuple[torch.nn.Module, torch.nn.Module] | None:
    """The (EMA copy, online module) of a momentum method, or ``None``."""
    for ema, online in EMA_PAIRS.items():
        if isinstance(getattr(module, ema, None), torch.nn.Module):
            return getattr(module, ema), getattr(module, online)
    return None


def full_vector(module: torch.nn.Module) -> torch.Tensor:
    """Every parameter, gathered, as one float64 vector."""
    return torch.cat([full(p).detach().double().flatten() for p in module.parameters()])


class RankProbe(Callback):
    """Records initial weights, sampler shards, random state and losses of this rank."""

    def __init__(self) -> None:
        self.record: dict[str, Any] = {"epochs": {}, "losses": []}
        self._before_ema: tuple[torch.Tensor, torch.Tensor] | None = None

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.record.update(
            rank=trainer.global_rank,
            world_size=trainer.world_size,
            start_epoch=trainer.current_epoch,
            start_step=trainer.global_step,
            start_weights=parameter_digest(pl_module),
            shards=shard_record(pl_module),
            optimizer_groups=[
                {"weight_decay": group["weight_decay"], "params": len(group["params"])}
                for group in trainer.optimizers[0].param_groups
            ],
        )

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        loader = trainer.train_dataloader
        sampler = getattr(loader, "sampler", None)
        indices = [int(i) for i in sampler] if sampler is not None else []
        self.record["epochs"][str(trainer.current_epoch)] = {
            "indices": indices,
            "num_samples": len(loader.dataset),
        }

    def on_train_batch_start(
        self, trainer: L.Trainer, pl_module: L.LightningModule, batch: Any, batch_idx: int
    ) -> None:
        if batch_idx == 0:  # the random state the first augmentation of the epoch draws from
            epoch = self.record["epochs"][str(trainer.current_epoch)]
            epoch["rng_at_first_batch"] = digest(torch.get_rng_state())
        self._check_ema(pl_module)

    def on_train_batch_end(
        self,
        trainer: L.Trainer,
        pl_module: L.LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
    ) -> None:
        loss = outputs["loss"] if isinstance(outputs, dict) else outputs
        value = float(loss.detach())
        self.record["losses"].append(value if math.isfinite(value) else str(value))
        pair = ema_pair(pl_module)
        if pair is not None:  # callbacks run before the method's own hook, which updates the EMA
            self._before_ema = (full_vector(pair[0]), full_vector(pair[1]))

    def _check_ema(self, pl_module: L.LightningModule) -> None:
        """Fit ``m`` of the last momentum update and record it with the worst element's error."""
        pair = ema_pair(pl_module)
        if pair is None or self._before_ema is None:
            return
        ema_before, online = self._before_ema
        ema_after = full_vector(pair[0])
        step = ema_before - online
        moved = step.abs() > 1e-6
        momentum = float(((ema_after - online)[moved] / step[moved]).median())
        error = (ema_after - (momentum * ema_before + (1 - momentum) * online)).abs().max()
        self.record["ema"] = {"momentum": momentum, "max_error": float(error)}

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._check_ema(pl_module)
        self.record["end_step"] = trainer.global_step
        self.record["end_weights"] = parameter_digest(pl_module)
        folder = Path(trainer.default_root_dir) / "probe"
        folder.mkdir(parents=True, exist_ok=True)
        name = f"rank{trainer.global_rank}-ws{trainer.world_size}-from{self.record['start_epoch']}"
        (folder / f"{name}.json").write_text(json.dumps(self.record))
