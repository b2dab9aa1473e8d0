"""The domain's benchmarks are registered and run through `foundations eval`."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from domains.remote_sensing import LANDSAT
from evaluation.benchmark import registered_benchmarks
from evaluation.runner import build_datamodule, run_benchmark

RECIPE = (
    Path(__file__).resolve().parents[3] / "recipes" / "remote_sensing" / "simclr_synthetic.yaml"
)


def test_benchmarks_are_registered() -> None:
    benchmarks = registered_benchmarks()
    assert {"rs-synthetic", "landsat7-nc", "landsat7-nc-spatial"} <= set(benchmarks)
    assert benchmarks["landsat7-nc-spatial"].datamodule["init_args"]["split"] == "spatial"


def test_synthetic_benchmark_runs_with_every_baseline(tmp_path: Path) -> None:
    benchmark = replace(registered_benchmarks()["rs-synthetic"], protocols=("linear",))
    results = run_benchmark(
        benchmark,
        [f"random:{RECIPE}"],
        tmp_path,
        data_overrides={"num_samples": 120, "size": 32, "batch_size": 40},
    )
    candidates = results["candidates"]
    assert set(candidates) == {
        f"random:{RECIPE}",
        "raw inputs",
        "classical: mean_spectrum_features",
        "classical: mean_spectrum_features + gradient boosting",
    }
    assert json.loads((tmp_path / "results.json").read_text())["split"].startswith("random")


@pytest.mark.skipif(not LANDSAT.is_dir(), reason="../shared/data/landsat7_nc is absent")
def test_landsat_benchmark_reads_the_real_scene() -> None:
    datamodule = build_datamodule(registered_benchmarks()["landsat7-nc-spatial"])
    assert datamodule.num_classes == 7
    sizes = [len(datamodule.split_dataloader(s).dataset) for s in ("train", "val", "test")]
    assert sum(sizes) == 2704 and min(sizes) > 300
