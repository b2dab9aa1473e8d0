"""`foundations demo` runs every domain's embedded default end to end and writes one report."""

from __future__ import annotations

import json
from pathlib import Path

from foundations.cli.main import main


def test_demo_writes_results_and_report_for_every_domain(tmp_path: Path) -> None:
    overrides = ["--trainer.max_epochs", "1", "--data.init_args.num_samples", "320"]
    overrides += ["--data.init_args.batch_size", "32", "--trainer.enable_progress_bar", "false"]
    overrides += ["--trainer.logger", "false"]
    assert main(["demo", "--output", str(tmp_path), *overrides]) == 0
    results = json.loads((tmp_path / "results.json").read_text())
    assert set(results["runs"]) == {"simclr_toy", "simclr_synthetic", "mae_phantoms"}
    for name, run in results["runs"].items():
        method = "MAE" if name.startswith("mae") else "SimCLR"
        probes = run["linear_probe"]
        assert set(probes) == {f"{method} pretrained", "same encoder, random init", "raw inputs"}
        for row in probes.values():
            assert 0.0 <= row["accuracy"] <= 1.0
        if name != "mae_phantoms":  # phantom splits are grouped by patient: sizes vary
            assert run["steps"] == 6  # 192 training samples / 32, last batch dropped
        else:
            assert run["steps"] > 0
    report = (tmp_path / "report.md").read_text()
    assert "## simclr_toy" in report and "## simclr_synthetic" in report
    assert "## mae_phantoms" in report
    assert "| raw inputs |" in report
