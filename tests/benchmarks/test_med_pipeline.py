"""Smoke test of the 3D pipeline benchmark against plain MONAI (tiny sizes, one epoch)."""

from __future__ import annotations

import pytest
from benchmark_scripts import load_benchmark

pytest.importorskip("monai")
pytest.importorskip("nibabel")


def test_benchmark_reports_every_candidate(capsys: pytest.CaptureFixture[str]) -> None:
    benchmark = load_benchmark("med_pipeline.py")
    summary = benchmark.main(
        ["--volumes", "6", "--size", "16", "--batch-size", "2", "--epochs", "1", "--warmup", "0",
         "--check", "1"]
    )  # fmt: skip
    rows = {row["candidate"]: row for row in summary["rows"]}
    assert set(rows) == set(benchmark.CANDIDATES)
    for row in rows.values():
        assert row["first_volumes_per_s"] > 0
        assert row["steady_volumes_per_s"] > 0
        assert row["volumes_per_epoch"] == 6
    others = set(benchmark.CANDIDATES) - {"ours"}
    assert set(summary["ratios"]["steady"]) == set(summary["ratios"]["first"]) == others
    assert all(ratio > 0 for ratio in summary["ratios"]["steady"].values())
    # Same files, same window, same trilinear resize: only float16 cache rounding remains.
    assert summary["agreement"]["values_trilinear"] < 1e-3
    assert summary["agreement"]["affine"] < 1e-6
    assert "| MONAI PersistentDataset |" in capsys.readouterr().out
