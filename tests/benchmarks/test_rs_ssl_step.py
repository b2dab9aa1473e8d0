"""Smoke test of the SSL training-step benchmark against torchgeo (tiny sizes, one step)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

pytest.importorskip("torchgeo.trainers", exc_type=ImportError)

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "rs_ssl_step.py"


def _load_script() -> ModuleType:
    # The benchmark registers a timm entry point in its own module, so the module must be in
    # sys.modules under the name it runs with.
    name = "rs_ssl_step_benchmark"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def test_benchmark_reports_a_ratio_for_both_methods(capsys: pytest.CaptureFixture[str]) -> None:
    benchmark = _load_script()
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
    assert sides == {(m, s) for m in ("simclr", "moco") for s in ("ours", "torchgeo")}
    assert all(row["samples_per_s"] > 0 for row in summary["rows"])
    assert set(summary["ratios"]) == {"simclr/no augmentation", "moco/no augmentation"}
    assert all(ratio > 0 for ratio in summary["ratios"].values())
    assert "throughput ours / torchgeo" in capsys.readouterr().out
