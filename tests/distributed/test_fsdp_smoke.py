"""FSDP smoke test of a full-size recipe's strategy, shrunk; it needs a CUDA device.

On the CPU it cannot run in this stack, for two separate reasons (checked with Lightning 2.6.6
and torch 2.14):

1. Lightning's ``FSDPStrategy`` refuses the CPU accelerator while building the Trainer:
   ``ValueError: The strategy `fsdp` requires a GPU accelerator, but received
   `accelerator='cpu'`.``
2. Bypassing that check (a subclass of the strategy) reaches torch's FSDP, which refuses CPU
   modules: ``RuntimeError: FSDP needs a non-CPU accelerator device, but no accelerator device
   is detected.``

What FSDP changes for our code is tested on the CPU in ``test_rank_streams.py`` (flattened
parameters keep their weight decay).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from foundations.cli.lightning_cli import run_lightning

RECIPE = Path(__file__).resolve().parents[2] / "recipes" / "core" / "mae_toy.yaml"

CPU_REASON = (
    "FSDP needs CUDA here: Lightning 2.6 FSDPStrategy raises 'The strategy `fsdp` requires a "
    "GPU accelerator' for accelerator='cpu', and torch's FSDP raises 'FSDP needs a non-CPU "
    "accelerator device' for CPU modules"
)


@pytest.mark.skipif(not torch.cuda.is_available(), reason=CPU_REASON)
def test_fsdp_trains_and_checkpoints_on_one_gpu(tmp_path: Path) -> None:
    cli = run_lightning(
        ["fit", "-c", str(RECIPE),
         "--trainer.accelerator", "gpu", "--trainer.devices", "1",
         "--trainer.strategy", "fsdp", "--trainer.precision", "bf16-mixed",
         "--trainer.max_epochs", "1", "--trainer.limit_train_batches", "3",
         "--trainer.limit_val_batches", "0", "--trainer.logger", "false",
         "--trainer.enable_progress_bar", "false",
         "--trainer.default_root_dir", str(tmp_path)]
    )  # fmt: skip
    assert cli.trainer.global_step == 3
    assert (tmp_path / "checkpoints" / "last.ckpt").exists()
    groups = cli.trainer.optimizers[0].param_groups
    assert groups[0]["weight_decay"] > 0 and groups[0]["params"], "matrices lost weight decay"
