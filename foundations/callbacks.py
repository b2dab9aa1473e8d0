"""Callbacks the CLI installs by default."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch
from lightning.pytorch.callbacks import BasePredictionWriter


class EmbeddingWriter(BasePredictionWriter):
    """Writes what ``predict_step`` returns (embeddings, labels) to ``embeddings.npz``.

    Keys are the keys of the prediction dicts, concatenated over batches in dataloader order.
    The file goes to ``output_dir`` or, by default, ``<trainer.default_root_dir>/predictions``;
    under multi-process prediction each rank writes ``embeddings.rank<N>.npz``. NumPy ``.npz``
    needs no pickle to read.

    Args:
        output_dir: Folder for the file; ``None`` uses the trainer's root dir.
    """

    def __init__(self, output_dir: str | None = None) -> None:
        super().__init__(write_interval="epoch")
        self.output_dir = output_dir
        self.last_path: Path | None = None

    def write_on_epoch_end(
        self,
        trainer: L.Trainer,
        pl_module: L.LightningModule,
        predictions: Sequence[Any],
        batch_indices: Sequence[Any],
    ) -> None:
        batches = [p for p in predictions if isinstance(p, dict)]
        if not batches:
            return
        arrays = {
            key: torch.cat([batch[key].detach().float().cpu() for batch in batches]).numpy()
            if batches[0][key].is_floating_point()
            else torch.cat([batch[key].detach().cpu() for batch in batches]).numpy()
            for key in batches[0]
        }
        folder = Path(self.output_dir or Path(trainer.default_root_dir) / "predictions")
        folder.mkdir(parents=True, exist_ok=True)
        name = (
            "embeddings.npz"
            if trainer.world_size == 1
            else f"embeddings.rank{trainer.global_rank}.npz"
        )
        self.last_path = folder / name
        np.savez(self.last_path, allow_pickle=False, **arrays)
