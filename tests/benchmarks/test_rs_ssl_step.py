"""Smoke test of the SSL training-step benchmark against torchgeo (tiny sizes, one step)."""

from __future__ import annotations

import pytest
from benchmark_scripts import load_benchmark

pytest.importorskip("torchgeo.trainers", exc_type=ImportError)


def test_benchmark_reports_a_ratio_for_both_methods(capsys: pytest.CaptureFixture[str]) -> None:
    benchmark = load_benchmark("rs_ssl_step.py")
    summary = benchmark.main(
        [
            "--batch-size", "4",
            "--image-size", "16",
            "--patch-size", "8",
            "--bands", "4",
            "--embed-dim", "32",
            "--depth", "1",
            "--heads", "2",
            "--simclr-dims", "32", "16",
            "--moco-dims", "32", "16",
            "--augment", "off",
            "--steps", "1",
            "--warmup", "0",
        ]
    )  # fmt: skip
    sides = {(row["method"], row["side"]) for row in summary["rows"]}
    expected = ("ours", "ours-fixed", "torchgeo")
    assert sides == {(m, s) for m in ("simclr", "moco") for s in expected}
    assert all(row["samples_per_s"] > 0 for row in summary["rows"])
    assert set(summary["ratios"]) == {
        f"{m}/no augmentation{fixed}" for m in ("simclr", "moco") for fixed in ("", ", fixed bands")
    }
    assert all(ratio > 0 for ratio in summary["ratios"].values())
    assert "throughput ours / torchgeo" in capsys.readouterr().out
