"""A callback that records, per rank, what the distributed tests check.

Loaded by class path (``--trainer.callbacks+=ddp_rank_probe.RankProbe``) in training processes
started by the tests, with this folder on ``PYTHONPATH``. Each rank writes
``<default_root_dir>/probe/rank<R>-ws<W>-from<E>.json`` at the end of training.
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


def digest(tensor: torch.Tensor) -> str:
    """A short hash of a tensor's bytes."""
    return hashlib.sha1(tensor.detach().cpu().contiguous().numpy().tobytes()).hexdigest()[:16]


def parameter_digest(module: torch.nn.Module) -> str:
    """A hash of every parameter, in name order."""
    parts = [digest(p.float()) for _, p in sorted(module.named_parameters())]
    return hashlib.sha1("".join(parts).encode()).hexdigest()[:16]


class RankProbe(Callback):
    """Records initial weights, sampler shards, random state and losses of this rank."""

    def __init__(self) -> None:
        self.record: dict[str, Any] = {"epochs": {}, "losses": []}

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.record.update(
            rank=trainer.global_rank,
            world_size=trainer.world_size,
            start_epoch=trainer.current_epoch,
            start_step=trainer.global_step,
            start_weights=parameter_digest(pl_module),
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

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.record["end_step"] = trainer.global_step
        self.record["end_weights"] = parameter_digest(pl_module)
        folder = Path(trainer.default_root_dir) / "probe"
        folder.mkdir(parents=True, exist_ok=True)
        name = f"rank{trainer.global_rank}-ws{trainer.world_size}-from{self.record['start_epoch']}"
        (folder / f"{name}.json").write_text(json.dumps(self.record))
