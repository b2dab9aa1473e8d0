"""Smoke test of the MAE training-step benchmark against lightly (tiny sizes, one step)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

pytest.importorskip("lightly.models.modules")

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "lightly_mae_step.py"


def _load_script() -> ModuleType:
    name = "lightly_mae_step_benchmark"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


TINY = [
    "--batch-size", "2", "--image-size", "32", "--patch-size", "8", "--embed-dim", "32",
    "--depth", "1", "--heads", "2", "--decoder-dim", "16", "--decoder-depth", "1",
    "--decoder-heads", "2", "--steps", "1", "--warmup", "0", "--threads", "1",
]  # fmt: skip


def test_benchmark_reports_a_ratio_at_equal_model(capsys: pytest.CaptureFixture[str]) -> None:
    benchmark = _load_script()
    summary = benchmark.main(TINY)
    rows = {row["candidate"]: row for row in summary["rows"]}
    assert set(rows) == {"ours", "lightly"}
    assert all(row["images_per_s"] > 0 for row in rows.values())
    # Same ViT and decoder: parameter counts differ only by lightly's class token and heads.
    assert rows["ours"]["params_m"] == pytest.approx(rows["lightly"]["params_m"], rel=0.1)
    assert summary["ratio"] > 0
    assert "throughput ours / lightly" in capsys.readouterr().out


def test_both_sides_reconstruct_the_same_number_of_values() -> None:
    benchmark = _load_script()
    args = benchmark.parse_args(TINY)
    images = __import__("torch").rand(2, 3, 32, 32)
    for model in (benchmark.OursMAE(args), benchmark.LightlyMAE(args)):
        loss = model(images)
        assert loss.ndim == 0 and bool(loss.isfinite())
