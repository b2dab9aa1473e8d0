"""``make bench``'s driver: runs the selected scripts and writes the markdown table."""

from __future__ import annotations

from pathlib import Path

import pytest
from benchmark_scripts import load_benchmark

pytest.importorskip("lightly.models.modules")


def test_quick_run_writes_a_table_with_ratio_and_command(tmp_path: Path) -> None:
    run_all = load_benchmark("run_all.py")
    text = run_all.main(["--only", "lightly_mae", "--quick", "--output", str(tmp_path)])
    assert (tmp_path / "bench.md").read_text() == text
    assert (tmp_path / "lightly_mae.txt").read_text()
    row = next(line for line in text.splitlines() if line.startswith("| MAE training step"))
    assert "x** |" in row and "`python benchmarks/lightly_mae_step.py" in row


def test_every_benchmark_has_a_script_or_is_reported_skipped(tmp_path: Path) -> None:
    run_all = load_benchmark("run_all.py")
    for bench in run_all.BENCHMARKS:
        # Every script but the optional streaming one ships with the repository.
        assert bench.name == "streaming_scaling" or (run_all.HERE / bench.script).is_file()
    rows = run_all._generic_rows("streaming")({"ratios": {"100k vs 10k": 0.9, "note": "x"}})
    assert rows == [("streaming: 100k vs 10k", "-", "-", 0.9)]
    scaling = {
        "rows": [{"size": 10, "us_per_sample": 100.0}, {"size": 100, "us_per_sample": 125.0}]
    }
    ((_, ours, peer, ratio),) = run_all._streaming_rows(scaling)
    assert (ours, peer, ratio) == ("125 us", "100 us", 0.8)
    assert run_all._streaming_rows({"rows": []})[0][3] is None  # unknown layout: no ratio
    with pytest.raises(SystemExit):
        run_all.parse_args(["--only", "nope"])
