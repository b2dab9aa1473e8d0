"""`foundations demo` runs end to end and writes a report a person can read."""

from __future__ import annotations

import json
from pathlib import Path

from foundations.cli.main import main


def test_demo_writes_results_and_report(tmp_path: Path) -> None:
    overrides = ["--trainer.max_epochs", "1", "--data.init_args.num_samples", "320"]
    overrides += ["--data.init_args.batch_size", "32", "--trainer.enable_progress_bar", "false"]
    overrides += ["--trainer.logger", "false"]
    assert main(["demo", "--output", str(tmp_path), *overrides]) == 0
    results = json.loads((tmp_path / "results.json").read_text())
    probes = results["linear_probe"]
    assert set(probes) == {
        "SimCLR pretrained",
        "same encoder, random init",
        "raw inputs (flattened)",
    }
    for row in probes.values():
        assert 0.0 <= row["accuracy"] <= 1.0
    assert results["steps"] == 6  # 192 training samples / 32, last batch dropped
    report = (tmp_path / "report.md").read_text()
    assert "| SimCLR pretrained |" in report
    assert "simclr_toy.yaml" in report
