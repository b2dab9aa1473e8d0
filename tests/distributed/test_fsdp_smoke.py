"""Domain recipes train fully sharded (FSDP2) on two gloo processes on the CPU, and resume.

The runs go through the ``foundations`` CLI in a subprocess with ``recipes/strategies/fsdp.yaml``
added, as a user would start them; the probe callback (:mod:`ddp_rank_probe`) records per rank
the losses, what the rank stores of the sharded parameters, the weight-decay groups and the EMA
update of momentum methods. Lightning's ``FSDPStrategy`` (FSDP1) refuses the CPU; the strategy
file uses ``ModelParallelStrategy`` (FSDP2), which runs on gloo.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from test_ddp_recipe import STEPS_PER_EPOCH, check_trained, probes, run_fit, shrunk_fit_args

from foundations.cli.lightning_cli import FoundationsCLI, run_lightning
from foundations.methods.sharding import FullyShardedStrategy

ROOT = Path(__file__).resolve().parents[2]
RECIPES = ROOT / "recipes"
FSDP = RECIPES / "strategies" / "fsdp.yaml"
ENCODER = "--model.init_args.encoder.init_args"
MAE_SMALL = [f"{ENCODER}.depth", "1", "--model.init_args.decoder_depth", "1"]
# The last momentum of the cosine schedule is momentum_end: checkable, unlike the default 1.0.
MOCO_SMALL = [f"{ENCODER}.depth", "1", "--model.init_args.momentum_end", "0.9"]


def fsdp_args(
    recipe: str, root: Path, devices: int, epochs: int, extra: list[str], ckpt: Path | None = None
) -> list[str]:
    """``fit`` arguments of a shrunk recipe, fully sharded over ``devices`` CPU processes."""
    extra = ["--trainer.precision", "32-true", *extra]
    return shrunk_fit_args([RECIPES / recipe, FSDP], root, devices, epochs, extra, ckpt)


def check_sharded(records: list[dict[str, Any]]) -> None:
    """Both ranks trained the same model, each storing about half of it, decaying matrices."""
    for record in records:
        check_trained(record, start_step=0)
        shards = record["shards"]
        assert shards["sharded_params"] > 0
        assert set(shards["unsharded_ndims"]) <= {0}  # only scalars stay whole (CLIP's scale)
        assert shards["fsdp_units"] > 1  # the method and at least one transformer block
        assert shards["local_numel"] < 0.6 * shards["global_numel"]
        decay, no_decay = record["optimizer_groups"]
        assert decay["weight_decay"] > 0 and decay["params"] > 0
        assert no_decay["weight_decay"] == 0 and no_decay["params"] > 0
    assert records[0]["start_weights"] == records[1]["start_weights"]
    assert records[0]["end_weights"] == records[1]["end_weights"]
    total = sum(record["shards"]["local_numel"] for record in records)
    assert total >= records[0]["shards"]["global_numel"]  # shards cover (pad) the model


def test_fsdp_simclr_trains_sharded_and_resumes_on_one_process(tmp_path: Path) -> None:
    recipe, small = "remote_sensing/simclr_synthetic.yaml", [f"{ENCODER}.depth", "2"]
    two = tmp_path / "two"
    run_fit(fsdp_args(recipe, two, devices=2, epochs=1, extra=small))
    first = probes(two, 2, 0)
    check_sharded(first)
    checkpoint = two / "checkpoints" / "last.ckpt"
    assert checkpoint.is_file()  # one full file from rank 0 (save_distributed_checkpoint: false)

    # One process, plain (no FSDP), continues from the 2-process checkpoint in this process.
    one = tmp_path / "one"
    args = fsdp_args(recipe, one, devices=1, epochs=2, extra=small, ckpt=checkpoint)
    run_lightning([*args, "--trainer.strategy", "auto"])
    (single,) = probes(one, 1, 1)
    check_trained(single, start_step=STEPS_PER_EPOCH)
    assert single["start_weights"] == first[0]["end_weights"]
    assert single["shards"]["sharded_params"] == 0


def test_fsdp_mae_trains_sharded_with_tokenize_and_encode_tokens(tmp_path: Path) -> None:
    # MAE calls encoder.tokenize / encode_tokens, not forward; the decoder has its own trunk.
    run_fit(fsdp_args("remote_sensing/mae_synthetic.yaml", tmp_path, 2, 1, MAE_SMALL))
    check_sharded(probes(tmp_path, 2, 0))
    assert (tmp_path / "checkpoints" / "last.ckpt").is_file()


def test_fsdp_moco_updates_the_sharded_momentum_encoder_and_resumes_a_sharded_checkpoint(
    tmp_path: Path,
) -> None:
    recipe = "core/moco_toy.yaml"
    sharded = [*MOCO_SMALL, "--trainer.strategy.init_args.save_distributed_checkpoint", "true"]
    two, one = tmp_path / "two", tmp_path / "one"
    run_fit(fsdp_args(recipe, two, 2, 1, sharded))
    first = probes(two, 2, 0)
    check_sharded(first)
    for record in first:  # ema == m * ema + (1 - m) * online on every element, m = momentum_end
        assert record["ema"]["momentum"] == pytest.approx(0.9, abs=1e-4)
        assert record["ema"]["max_error"] < 1e-5
    checkpoint = two / "checkpoints" / "last.ckpt"
    assert checkpoint.is_dir() and len(list(checkpoint.glob("*.distcp"))) == 2

    # The per-rank shards resume on one process under the same strategy.
    run_fit(fsdp_args(recipe, one, 1, 2, sharded, ckpt=checkpoint))
    (single,) = probes(one, 1, 1)
    check_trained(single, start_step=STEPS_PER_EPOCH)
    assert single["start_weights"] == first[0]["end_weights"]


def test_fsdp_trimodal_clip_trains_three_sharded_encoders_with_gradient_clipping(
    tmp_path: Path,
) -> None:
    # Three encoders and the objective's scalar logit_scale, replicated and kept in sync.
    clip = ["--trainer.gradient_clip_val", "1.0", "--data.init_args.num_samples", "240"]
    run_fit(fsdp_args("astronomy/clip_trimodal.yaml", tmp_path, 2, 1, clip))
    records = probes(tmp_path, 2, 0)
    check_sharded(records)
    assert records[0]["shards"]["unsharded_ndims"] == [0, 0, 0]  # a logit_scale per pair
    assert records[0]["shards"]["fsdp_units"] == 1 + 2 + 2 + 1  # method + trunk blocks


FULL_SIZE = {
    "medical/mae_vitb_ct.yaml": 12 + 4,  # encoder + decoder blocks
    "remote_sensing/mae_vitb_scenes.yaml": 12 + 8,
    "astronomy/clip_trimodal_full.yaml": 8 + 8 + 4,  # photometry, spectrum, metadata
}


@pytest.mark.parametrize("recipe", list(FULL_SIZE))
def test_full_size_recipe_takes_the_fsdp_strategy_file(recipe: str, tmp_path: Path) -> None:
    from foundations.methods.sharding import transformer_blocks

    args = ["-c", str(RECIPES / recipe), "-c", str(FSDP), "--data.init_args.path", str(tmp_path)]
    cpu = ["--trainer.accelerator", "cpu", "--trainer.devices", "2"]
    cli = FoundationsCLI(args=[*args, *cpu], run=False)
    strategy = cli.trainer.strategy
    assert isinstance(strategy, FullyShardedStrategy)
    assert strategy._save_distributed_checkpoint is False
    assert cli.trainer.precision == "bf16-mixed"  # the recipe's other settings are kept
    assert len(transformer_blocks(cli.model)) == FULL_SIZE[recipe]


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_fsdp_trains_and_checkpoints_on_one_gpu(tmp_path: Path) -> None:
    cli = run_lightning(
        ["fit", "-c", str(RECIPES / "core" / "mae_toy.yaml"), "-c", str(FSDP),
         "--trainer.accelerator", "gpu", "--trainer.devices", "1",
         "--trainer.precision", "bf16-mixed",
         "--trainer.max_epochs", "1", "--trainer.limit_train_batches", "3",
         "--trainer.limit_val_batches", "0", "--trainer.logger", "false",
         "--trainer.enable_progress_bar", "false",
         "--trainer.default_root_dir", str(tmp_path)]
    )  # fmt: skip
    assert cli.trainer.global_step == 3
    assert (tmp_path / "checkpoints" / "last.ckpt").exists()
    groups = cli.trainer.optimizers[0].param_groups
    assert groups[0]["weight_decay"] > 0 and groups[0]["params"], "matrices lost weight decay"
