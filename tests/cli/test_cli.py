"""The `foundations` command: help, info, recipes, config printing and recipe errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from foundations.cli.errors import summarise_parser_error
from foundations.cli.lightning_cli import FoundationsCLI
from foundations.cli.main import main

CORE_RECIPES = sorted((Path(__file__).resolve().parents[2] / "recipes" / "core").glob("*.yaml"))
TINY_DATA = ["--data.init_args.num_samples", "320", "--data.init_args.batch_size", "32"]


def test_help_lists_every_verb(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for verb in ("fit", "validate", "test", "predict", "info"):
        assert f"  {verb}" in out


def test_unknown_verb_is_an_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["trian"]) == 2
    assert "unknown command 'trian'" in capsys.readouterr().err


def test_info_lists_the_toy_domain_and_its_recipes(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    assert "toy:" in out
    assert "foundations.toy.datamodule.ShapesDataModule" in out
    assert "simclr_toy.yaml" in out


def test_core_recipes_exist() -> None:
    names = {path.stem for path in CORE_RECIPES}
    assert {"simclr_toy", "moco_toy", "dino_toy", "mae_toy", "clip_toy"} <= names


@pytest.mark.parametrize("recipe", CORE_RECIPES, ids=lambda path: path.stem)
def test_every_core_recipe_runs_end_to_end(recipe: Path, tmp_path: Path) -> None:
    args = ["fit", "-c", str(recipe), "--trainer.fast_dev_run", "true"]
    args += ["--trainer.default_root_dir", str(tmp_path), "--trainer.logger", "false", *TINY_DATA]
    cli = FoundationsCLI(args=args)
    assert cli.trainer.state.finished
    assert cli.trainer.global_step == 1


@pytest.mark.parametrize("verb", ["validate", "test", "predict"])
def test_evaluation_verbs_run(verb: str, tmp_path: Path, repo_root: Path) -> None:
    recipe = repo_root / "recipes" / "core" / "simclr_toy.yaml"
    args = [verb, "-c", str(recipe), "--trainer.default_root_dir", str(tmp_path), *TINY_DATA]
    cli = FoundationsCLI(args=[*args, "--trainer.logger", "false"])
    assert cli.trainer.state.finished
    if verb == "predict":
        written = np.load(tmp_path / "predictions" / "embeddings.npz")
        assert written["embedding"].shape == (320, 64)
        assert np.isfinite(written["embedding"]).all()
        assert sorted(np.unique(written["label"])) == list(range(cli.datamodule.num_classes))
    else:
        stage = "val" if verb == "validate" else "test"
        assert torch.isfinite(cli.trainer.callback_metrics[f"{stage}/loss"])


def test_bf16_mixed_precision_trains(tmp_path: Path, repo_root: Path) -> None:
    recipe = repo_root / "recipes" / "core" / "mae_toy.yaml"
    args = ["fit", "-c", str(recipe), "--trainer.fast_dev_run", "true", *TINY_DATA]
    args += ["--trainer.precision", "bf16-mixed", "--trainer.default_root_dir", str(tmp_path)]
    cli = FoundationsCLI(args=args)
    assert cli.trainer.precision == "bf16-mixed"
    assert torch.isfinite(cli.trainer.callback_metrics["train/loss"])


def test_print_config_round_trips(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], repo_root: Path
) -> None:
    recipe = repo_root / "recipes" / "core" / "mae_toy.yaml"
    with pytest.raises(SystemExit) as exit_info:
        FoundationsCLI(
            args=["fit", "-c", str(recipe), "--model.init_args.mask_ratio", "0.6", "--print_config"]
        )
    assert exit_info.value.code == 0
    config = yaml.safe_load(capsys.readouterr().out)
    assert config["model"]["class_path"] == "foundations.methods.MAE"
    assert config["model"]["init_args"]["mask_ratio"] == 0.6
    assert config["seed_everything"] == 0
    # The printed config is itself a valid recipe.
    resolved = tmp_path / "resolved.yaml"
    resolved.write_text(yaml.safe_dump(config))
    args = ["fit", "-c", str(resolved), "--trainer.fast_dev_run", "true", *TINY_DATA]
    cli = FoundationsCLI(args=[*args, "--trainer.default_root_dir", str(tmp_path)])
    assert cli.model.mask_ratio == 0.6


def test_unknown_recipe_key_names_the_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], repo_root: Path
) -> None:
    recipe = repo_root / "recipes" / "core" / "simclr_toy.yaml"
    typo = tmp_path / "typo.yaml"
    typo.write_text("model:\n  init_args:\n    encoder:\n      init_args:\n        dept: 3\n")
    with pytest.raises(SystemExit) as exit_info:
        FoundationsCLI(args=["fit", "-c", str(recipe), "-c", str(typo)])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "unknown key 'model.encoder.dept'" in err
    assert "foundations.encoders.Encoder has no parameter 'dept'" in err
    assert len(err.splitlines()) <= 3, "the error must not be buried in a usage dump"


def test_summarise_keeps_other_errors_readable() -> None:
    message = "Subcommand 'fit' does not accept option 'trainer.max_epochz'"
    assert summarise_parser_error(message) == message
