"""A run stopped at an epoch boundary and resumed from `last.ckpt` ends bit-identical."""

from __future__ import annotations

from pathlib import Path

import lightning as L
import pytest
import torch
from lightning.pytorch.callbacks import Callback

from foundations.cli.lightning_cli import FoundationsCLI

RECIPES = Path(__file__).resolve().parents[2] / "recipes" / "core"


class StopAfterEpochs(Callback):
    """Stops training after ``epochs`` epochs, as a kill between epochs would."""

    def __init__(self, epochs: int) -> None:
        self.epochs = epochs

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.current_epoch + 1 >= self.epochs:
            trainer.should_stop = True


def run(
    recipe: str, root: Path, stop_after: int | None = None, resume: bool = False
) -> FoundationsCLI:
    args = [
        "-c",
        str(RECIPES / recipe),
        "--trainer.max_epochs",
        "2",
        "--trainer.default_root_dir",
        str(root),
        "--trainer.logger",
        "false",
        "--trainer.enable_progress_bar",
        "false",
        "--trainer.limit_val_batches",
        "0",
        "--data.init_args.num_samples",
        "320",
        "--data.init_args.batch_size",
        "32",
    ]
    cli = FoundationsCLI(args=args, run=False)
    if stop_after is not None:
        cli.trainer.callbacks.append(StopAfterEpochs(stop_after))
    cli.trainer.fit(cli.model, datamodule=cli.datamodule, ckpt_path="last" if resume else None)
    return cli


@pytest.mark.parametrize("recipe", ["moco_toy.yaml", "mae_toy.yaml"])
def test_resume_is_exact(recipe: str, tmp_path: Path) -> None:
    straight = run(recipe, tmp_path / "straight")
    stopped = run(recipe, tmp_path / "interrupted", stop_after=1)
    assert stopped.trainer.global_step == 6
    resumed = run(recipe, tmp_path / "interrupted", resume=True)
    assert resumed.trainer.global_step == straight.trainer.global_step == 12
    expected = straight.model.state_dict()
    for name, value in resumed.model.state_dict().items():
        assert torch.equal(value, expected[name]), f"{name} differs after resuming"
    lr = [group["lr"] for group in resumed.trainer.optimizers[0].param_groups]
    assert lr == [group["lr"] for group in straight.trainer.optimizers[0].param_groups]
