"""Every medical recipe runs end to end on tiny generated data; full-size ones build."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from cli_overrides import ONE_CPU_PROCESS

from foundations.cli.lightning_cli import FoundationsCLI

RECIPES = Path(__file__).resolve().parents[3] / "recipes" / "medical"
PHANTOM_RECIPES = ["simclr_phantoms", "mae_phantoms", "clip_phantom_reports"]
TINY_PHANTOMS = [
    "--data.init_args.num_samples",
    "24",
    "--data.init_args.size",
    "16",
    "--data.init_args.batch_size",
    "4",
]


def run(args: list[str], root: Path) -> FoundationsCLI:
    common = [
        "--trainer.fast_dev_run",
        "true",
        "--trainer.default_root_dir",
        str(root),
        "--trainer.logger",
        "false",
        "--trainer.enable_progress_bar",
        "false",
    ]
    return FoundationsCLI(args=["fit", *args, *common])


def write_fake_medmnist(path: Path, size: int = 28) -> Path:
    rng = np.random.default_rng(0)
    arrays = {}
    for split, n in (("train", 24), ("val", 8), ("test", 8)):
        arrays[f"{split}_images"] = rng.integers(0, 256, (n, size, size), dtype=np.uint8)
        arrays[f"{split}_labels"] = rng.integers(0, 2, (n, 1), dtype=np.uint8)
    np.savez(path, **arrays)
    return path


@pytest.mark.parametrize("recipe", PHANTOM_RECIPES)
def test_phantom_recipes_run(recipe: str, tmp_path: Path) -> None:
    prefix = (
        "--model.init_args.encoders.volume"
        if recipe.startswith("clip")
        else ("--model.init_args.encoder")
    )
    extra = [*TINY_PHANTOMS, f"{prefix}.init_args.tokenizer.init_args.volume_size", "16"]
    if recipe == "simclr_phantoms":
        extra += ["--model.init_args.augment.init_args.size", "16"]
    if recipe.startswith("clip"):
        extra += ["--model.init_args.augment.volume.init_args.size", "16"]
    cli = run(["-c", str(RECIPES / f"{recipe}.yaml"), *extra], tmp_path)
    assert cli.trainer.global_step == 1
    assert torch.isfinite(cli.trainer.callback_metrics["train/loss"])


@pytest.mark.parametrize("recipe", ["dino_radiographs", "simclr_radiographs"])
def test_radiograph_recipes_run_on_a_medmnist_file(recipe: str, tmp_path: Path) -> None:
    npz = write_fake_medmnist(tmp_path / "fake.npz")
    args = ["-c", str(RECIPES / f"{recipe}.yaml"), "--data.init_args.path", str(npz)]
    cli = run([*args, "--data.init_args.batch_size", "8"], tmp_path / "run")
    assert cli.trainer.global_step == 1
    assert torch.isfinite(cli.trainer.callback_metrics["train/loss"])


def test_full_size_ct_recipe_builds(tmp_path: Path) -> None:
    # It streams shards (training from them: tests/data/test_streaming_recipes.py).
    args = ["-c", str(RECIPES / "mae_vitb_ct.yaml"), "--data.init_args.path", str(tmp_path)]
    cli = FoundationsCLI(args=[*args, *ONE_CPU_PROCESS], run=False)
    assert len(cli.model.encoder.trunk.blocks) == 12
    assert cli.model.encoder.embed_dim == 768
    volume = {"values": torch.zeros(1, 1, 96, 96, 96), "spacing": torch.full((1, 3), 1.5)}
    assert cli.model.encoder.tokenize(volume).tokens.shape == (1, 216, 768)


def test_full_size_radiograph_recipe_builds(tmp_path: Path) -> None:
    npz = write_fake_medmnist(tmp_path / "fake.npz", size=224)
    args = ["-c", str(RECIPES / "dino_vitb_radiographs.yaml"), "--data.init_args.path", str(npz)]
    cli = FoundationsCLI(args=[*args, *ONE_CPU_PROCESS], run=False)
    assert len(cli.model.encoder.trunk.blocks) == 12
    assert cli.model.num_local_views == 8
