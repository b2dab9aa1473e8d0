"""``foundations fit|validate|test|predict``: a LightningCLI over YAML recipes."""

from __future__ import annotations

import sys
import warnings
from typing import Any, NoReturn

import lightning as L
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.cli import LightningArgumentParser, LightningCLI

from foundations.callbacks import EmbeddingWriter
from foundations.cli.errors import summarise_parser_error

LIGHTNING_VERBS = ("fit", "validate", "test", "predict")
ONE_CPU_PROCESS_ARGS = (
    "--trainer.accelerator",
    "cpu",
    "--trainer.devices",
    "1",
    "--trainer.strategy",
    "auto",
)
"""Overrides that run any recipe's trainer, a GPU recipe's (DDP, all devices) too, as one CPU
process."""

# Passing `args` is this module's Python API, not a mistake, whatever sys.argv holds.
warnings.filterwarnings("ignore", message="LightningCLI's args parameter is intended")


class RecipeArgumentParser(LightningArgumentParser):
    """Prints one line naming the bad key, not the whole usage, when a recipe is wrong."""

    def error(self, message: str, ex: Exception | None = None) -> NoReturn:
        if not self.exit_on_error:
            super().error(message, ex)
        prog = self.prog.replace(" [options]", "")
        sys.stderr.write(
            f"{prog}: error: {summarise_parser_error(message)}\n"
            f"(run `{prog} --help` for the accepted options)\n"
        )
        sys.exit(2)


class FoundationsCLI(LightningCLI):
    """LightningCLI in subclass mode: any LightningModule / LightningDataModule by class path.

    Differences from the stock CLI: runs are seeded (``seed_everything: 0`` unless the recipe
    says otherwise), a ``last.ckpt`` is always kept so ``--ckpt_path last`` resumes an
    interrupted run, ``predict`` writes ``predictions/embeddings.npz`` under the run folder, and
    the resolved config is saved next to the logs.
    """

    def __init__(self, args: list[str] | None = None, run: bool = True, **kwargs: Any) -> None:
        kwargs.setdefault("parser_class", RecipeArgumentParser)
        trainer_defaults = {
            "default_root_dir": "runs",
            "callbacks": [ModelCheckpoint(save_last=True), EmbeddingWriter()],
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


def run_lightning(args: list[str] | None) -> FoundationsCLI:
    """Run a Lightning verb, e.g. ``run_lightning(["fit", "-c", "recipe.yaml"])``.

    ``None`` reads the verb and options from ``sys.argv``.
    """
    return FoundationsCLI(args=args)
