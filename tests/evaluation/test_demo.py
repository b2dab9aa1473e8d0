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
    runs = {"simclr_toy", "simclr_synthetic", "mae_phantoms", "clip_trimodal"}
    assert set(results["runs"]) == runs
    methods = {"mae": "MAE", "simclr": "SimCLR", "clip": "MultiModalAlignment"}
    for name, run in results["runs"].items():
        method = methods[name.split("_")[0]]
        probes = run["linear_probe"]
        expected = {f"{method} pretrained", "same encoder, random init"}
        if name != "clip_trimodal":  # flattened light curves mean nothing: no raw baseline
            expected.add("raw inputs")
        assert set(probes) == expected
        for row in probes.values():
            assert 0.0 <= row["accuracy"] <= 1.0
        if name in ("simclr_toy", "simclr_synthetic"):  # other splits: by patient, by class
            assert run["steps"] == 6  # 192 training samples / 32, last batch dropped
        else:
            assert run["steps"] > 0
    report = (tmp_path / "report.md").read_text()
    assert "## simclr_toy" in report and "## simclr_synthetic" in report
    assert "## mae_phantoms" in report and "## clip_trimodal" in report
    assert "| raw inputs |" in report
