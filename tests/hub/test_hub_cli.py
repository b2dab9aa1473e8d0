"""``foundations hub`` verbs through the ``foundations`` dispatcher."""

from __future__ import annotations

import json
from pathlib import Path

import hub_support
import pytest
import torch

from foundations.cli.main import main, plugin_commands

# Fixtures shared by the hub tests (trained once per session).
toy_checkpoint = hub_support.toy_checkpoint
toy_run = hub_support.toy_run


def test_hub_verbs(toy_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert "hub" in plugin_commands()
    local = str(tmp_path / "hub")
    cache = str(tmp_path / "cache")
    assert (
        main(["hub", "push", str(toy_run), "--name", "toy", "--to", local, "--licence", "MIT"]) == 0
    )
    assert "pushed toy@1" in capsys.readouterr().out
    assert main(["hub", "list", "--hub", local]) == 0
    assert "toy@1*" in capsys.readouterr().out
    assert main(["hub", "show", "toy@1", "--hub", local, "--json"]) == 0
    card = json.loads(capsys.readouterr().out)
    assert card["licence"] == "MIT" and card["format_version"] == 1
    assert main(["hub", "show", "toy", "--hub", local]) == 0
    assert "file model.safetensors: sha256" in capsys.readouterr().out
    assert main(["hub", "pull", "toy", "--hub", local, "--cache", cache]) == 0
    assert "toy@1 verified" in capsys.readouterr().out
    assert main(["hub", "verify", "toy@1", "--hub", local, "--cache", cache]) == 0
    assert "all files match their card" in capsys.readouterr().out


def test_hub_errors_are_one_line_naming_the_problem(
    toy_checkpoint: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    local = str(tmp_path / "hub")
    assert main(["hub", "push", str(toy_checkpoint), "--name", "../x", "--to", local]) == 1
    assert "invalid model name '../x'" in capsys.readouterr().err
    assert main(["hub", "pull", "toy", "--hub", str(tmp_path / "nowhere")]) == 1
    assert "nowhere" in capsys.readouterr().err
    pickle = tmp_path / "trusted.pt"
    torch.save({"w": torch.ones(1)}, pickle)
    assert main(["hub", "convert-pickle", str(pickle)]) == 0
    assert (tmp_path / "trusted.safetensors").is_file()
