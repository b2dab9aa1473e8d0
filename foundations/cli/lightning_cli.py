"""``foundations fit|validate|test|predict``: a LightningCLI over YAML recipes."""

from __future__ import annotations

from typing import Any

import lightning as L
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.cli import LightningCLI

LIGHTNING_VERBS = ("fit", "validate", "test", "predict")


class FoundationsCLI(LightningCLI):
    """LightningCLI in subclass mode: any LightningModule / LightningDataModule by class path.

    Differences from the stock CLI: runs are seeded (``seed_everything: 0`` unless the recipe
    says otherwise), a ``last.ckpt`` is always kept so ``--ckpt_path last`` resumes an
    interrupted run, and the resolved config is saved next to the logs.
    """

    def __init__(self, args: list[str] | None = None, run: bool = True, **kwargs: Any) -> None:
        trainer_defaults = {
            "default_root_dir": "runs",
            "callbacks": [ModelCheckpoint(save_last=True)],
        }
        super().__init__(
            model_class=L.LightningModule,
            datamodule_class=L.LightningDataModule,
            subclass_mode_model=True,
            subclass_mode_data=True,
            seed_everything_default=0,
            trainer_defaults=trainer_defaults,
            save_config_kwargs={"overwrite": True},
            args=args,
            run=run,
            **kwargs,
        )


def run_lightning(args: list[str]) -> FoundationsCLI:
    """Run a Lightning verb, e.g. ``run_lightning(["fit", "-c", "recipe.yaml"])``."""
    return FoundationsCLI(args=args)
