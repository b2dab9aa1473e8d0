"""A domain recipe trains on two gloo processes and resumes on one (and, slow, on two).

The runs go through the ``foundations`` CLI in a subprocess, as a user would start them:
Lightning's DDP strategy re-launches the command for rank 1. A probe callback
(:mod:`ddp_rank_probe`) records per rank what is checked: identical initial weights, disjoint
sampler shards, distinct random streams (so augmentations differ between ranks), finite losses,
and the weights and random state each resumed rank starts from.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import torch
from ddp_rank_probe import digest

from foundations.cli.lightning_cli import run_lightning

ROOT = Path(__file__).resolve().parents[2]
RECIPE = ROOT / "recipes" / "remote_sensing" / "simclr_synthetic.yaml"
STEPS_PER_EPOCH = 2


def shrunk_fit_args(
    configs: list[Path],
    root: Path,
    devices: int,
    epochs: int,
    extra: list[str],
    ckpt: Path | None = None,
) -> list[str]:
    """``fit`` arguments of recipe files shrunk to 64 samples, 2 steps per epoch and the probe
    callback, on ``devices`` CPU processes; ``extra`` adds or overrides settings."""
    args = ["fit", *(item for config in configs for item in ("-c", str(config)))]
    args += [
        "--trainer.accelerator", "cpu",
        "--trainer.devices", str(devices),
        "--trainer.max_epochs", str(epochs),
        "--trainer.limit_train_batches", str(STEPS_PER_EPOCH),
        "--trainer.limit_val_batches", "0",
        "--trainer.logger", "false",
        "--trainer.enable_progress_bar", "false",
        "--trainer.enable_model_summary", "false",
        "--trainer.default_root_dir", str(root),
        "--trainer.callbacks+=ddp_rank_probe.RankProbe",
        "--data.init_args.num_samples", "64",
        "--data.init_args.batch_size", "8",
        *extra,
    ]  # fmt: skip
    if ckpt is not None:
        args += ["--ckpt_path", str(ckpt)]
    return args


def recipe_args(root: Path, devices: int, epochs: int, ckpt: Path | None = None) -> list[str]:
    """``fit`` arguments of the tiny recipe on ``devices`` CPU processes."""
    extra = [
        "--trainer.strategy", "ddp" if devices > 1 else "auto",
        "--model.init_args.encoder.init_args.depth", "1",
    ]  # fmt: skip
    return shrunk_fit_args([RECIPE], root, devices, epochs, extra, ckpt)


def run_fit(args: list[str]) -> None:
    """``foundations fit`` in a subprocess, as a user starts it (Lightning relaunches it for
    every further rank)."""
    command = [sys.executable, "-m", "foundations.cli.main", *args]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    env["PYTHONPATH"] = os.pathsep.join([str(Path(__file__).parent), str(ROOT)])
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-5000:]


def fit(root: Path, devices: int, epochs: int, ckpt: Path | None = None) -> None:
    """The tiny recipe through the CLI in a subprocess (DDP relaunches it per rank)."""
    run_fit(recipe_args(root, devices, epochs, ckpt))


def probes(root: Path, world_size: int, start_epoch: int) -> list[dict[str, Any]]:
    """The probe records of one run, in rank order."""
    return [
        json.loads(
            (root / "probe" / f"rank{rank}-ws{world_size}-from{start_epoch}.json").read_text()
        )
        for rank in range(world_size)
    ]


def check_trained(record: dict[str, Any], start_step: int) -> None:
    assert record["start_step"] == start_step
    assert record["end_step"] == start_step + STEPS_PER_EPOCH
    assert len(record["losses"]) == STEPS_PER_EPOCH
    assert all(isinstance(loss, float) and math.isfinite(loss) for loss in record["losses"])
    assert record["end_weights"] != record["start_weights"]


@dataclass(frozen=True)
class TwoProcessRun:
    """The first epoch on two processes: its folder, probe records and checkpoint copy."""

    root: Path
    first: list[dict[str, Any]]
    checkpoint: Path  # a copy: resuming in ``root`` overwrites last.ckpt


@pytest.fixture(scope="module")
def two_process_run(tmp_path_factory: pytest.TempPathFactory) -> TwoProcessRun:
    root = tmp_path_factory.mktemp("ddp") / "two"
    fit(root, devices=2, epochs=1)
    copy = root.parent / "epoch1.ckpt"
    shutil.copy(root / "checkpoints" / "last.ckpt", copy)
    return TwoProcessRun(root, probes(root, 2, 0), copy)


def test_ddp_recipe_trains_with_per_rank_shards_and_streams_and_resumes_on_one_process(
    two_process_run: TwoProcessRun, tmp_path: Path
) -> None:
    first = two_process_run.first
    for record in first:
        check_trained(record, start_step=0)
    # Same initial model, distinct random streams, disjoint shards of the training split.
    assert first[0]["start_weights"] == first[1]["start_weights"]
    assert first[0]["end_weights"] == first[1]["end_weights"]
    epoch0 = [record["epochs"]["0"] for record in first]
    assert epoch0[0]["rng_at_first_batch"] != epoch0[1]["rng_at_first_batch"]
    shards = [set(epoch["indices"]) for epoch in epoch0]
    num_samples = epoch0[0]["num_samples"]
    assert shards[0] | shards[1] == set(range(num_samples))
    assert len(shards[0] & shards[1]) <= len(epoch0[0]["indices"]) * 2 - num_samples  # padding

    saved = torch.load(two_process_run.checkpoint, map_location="cpu", weights_only=True)
    per_rank = saved["rng_states_per_rank"]
    assert len(per_rank) == 2
    assert not torch.equal(per_rank[0]["torch"], per_rank[1]["torch"])

    # A changed number of processes: one process continues from the 2-process checkpoint (in
    # this process: a single-device run needs no launcher, and it saves an interpreter start).
    one = tmp_path / "one"
    run_lightning(recipe_args(one, devices=1, epochs=2, ckpt=two_process_run.checkpoint))
    (single,) = probes(one, 1, 1)
    check_trained(single, start_step=STEPS_PER_EPOCH)
    assert single["start_weights"] == first[0]["end_weights"]
    assert single["epochs"]["1"]["rng_at_first_batch"] == digest(per_rank[0]["torch"])
    assert single["epochs"]["1"]["num_samples"] == num_samples


@pytest.mark.slow
def test_ddp_resume_on_two_processes_continues_every_rank(two_process_run: TwoProcessRun) -> None:
    first, root = two_process_run.first, two_process_run.root
    saved = torch.load(two_process_run.checkpoint, map_location="cpu", weights_only=True)
    fit(root, devices=2, epochs=2, ckpt=two_process_run.checkpoint)
    resumed = probes(root, 2, 1)
    for rank, record in enumerate(resumed):
        check_trained(record, start_step=STEPS_PER_EPOCH)
        assert record["start_weights"] == first[rank]["end_weights"]
        expected = digest(saved["rng_states_per_rank"][rank]["torch"])
        assert record["epochs"]["1"]["rng_at_first_batch"] == expected
    assert resumed[0]["end_weights"] == resumed[1]["end_weights"]
