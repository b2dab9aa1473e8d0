"""The Python API mirrors the CLI."""

from __future__ import annotations

from pathlib import Path

from foundations import api


def test_override_args_from_mapping_and_list() -> None:
    assert api.override_args({"trainer.max_epochs": 2, "--trainer.logger": False}) == [
        "--trainer.max_epochs",
        "2",
        "--trainer.logger",
        "false",
    ]
    assert api.override_args(["--a", "1"]) == ["--a", "1"]
    assert api.override_args(None) == []


def test_fit_from_python_equals_the_cli_recipe(tmp_path: Path, repo_root: Path) -> None:
    recipe = repo_root / "recipes" / "core" / "simclr_toy.yaml"
    overrides = {
        "trainer.fast_dev_run": True,
        "trainer.default_root_dir": tmp_path,
        "data.init_args.num_samples": 320,
        "data.init_args.batch_size": 32,
    }
    cli = api.fit(recipe, overrides)
    assert cli.trainer.global_step == 1
    built = api.build(recipe, {"data.init_args.num_samples": 320})
    assert type(built.model) is type(cli.model)
    assert built.trainer.global_step == 0
