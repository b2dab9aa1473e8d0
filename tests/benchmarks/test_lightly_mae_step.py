"""Smoke test of the MAE training-step benchmark against lightly (tiny sizes, one step)."""

from __future__ import annotations

import pytest
from benchmark_scripts import load_benchmark

pytest.importorskip("lightly.models.modules")


TINY = [
    "--batch-size", "2", "--image-size", "32", "--patch-size", "8", "--embed-dim", "32",
    "--depth", "1", "--heads", "2", "--decoder-dim", "16", "--decoder-depth", "1",
    "--decoder-heads", "2", "--steps", "1", "--warmup", "0", "--threads", "1",
]  # fmt: skip


def test_benchmark_reports_a_ratio_at_equal_model(capsys: pytest.CaptureFixture[str]) -> None:
    benchmark = load_benchmark("lightly_mae_step.py")
    summary = benchmark.main(TINY)
    rows = {row["candidate"]: row for row in summary["rows"]}
    assert set(rows) == {"ours", "lightly"}
    assert all(row["images_per_s"] > 0 for row in rows.values())
    # Same ViT and decoder: parameter counts differ only by lightly's class token and heads.
    assert rows["ours"]["params_m"] == pytest.approx(rows["lightly"]["params_m"], rel=0.1)
    assert summary["ratio"] > 0
    assert "throughput ours / lightly" in capsys.readouterr().out


def test_both_sides_reconstruct_the_same_number_of_values() -> None:
    benchmark = load_benchmark("lightly_mae_step.py")
    args = benchmark.parse_args(TINY)
    images = __import__("torch").rand(2, 3, 32, 32)
    for model in (benchmark.OursMAE(args), benchmark.LightlyMAE(args)):
        loss = model(images)
        assert loss.ndim == 0 and bool(loss.isfinite())
