"""The domain's benchmarks are registered and run through `foundations eval`."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from domains.remote_sensing import LANDSAT
from evaluation.benchmark import registered_benchmarks
from evaluation.runner import build_datamodule, run_benchmark

RECIPES = Path(__file__).resolve().parents[3] / "recipes" / "remote_sensing"
RECIPE = RECIPES / "simclr_synthetic.yaml"


def test_benchmarks_are_registered() -> None:
    benchmarks = registered_benchmarks()
    assert {"rs-synthetic", "rs-timeseries", "landsat7-nc", "landsat7-nc-spatial"} <= set(
        benchmarks
    )
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


def test_timeseries_benchmark_runs_with_the_phenology_baseline(tmp_path: Path) -> None:
    benchmark = replace(registered_benchmarks()["rs-timeseries"], protocols=("linear",))
    recipe = f"random:{RECIPES / 'mae_timeseries.yaml'}"
    results = run_benchmark(
        benchmark,
        [recipe],
        tmp_path,
        data_overrides={"num_samples": 70, "num_dates": 4, "size": 32, "batch_size": 35},
    )
    assert set(results["candidates"]) == {
        recipe,
        "classical: timeseries_mean_spectrum_features",
        "classical: timeseries_mean_spectrum_features + gradient boosting",
    }
    for scores in results["candidates"].values():
        assert 0.0 <= scores["linear"]["accuracy"] <= 1.0


@pytest.mark.skipif(not LANDSAT.is_dir(), reason="../shared/data/landsat7_nc is absent")
def test_landsat_benchmark_reads_the_real_scene() -> None:
    datamodule = build_datamodule(registered_benchmarks()["landsat7-nc-spatial"])
    assert datamodule.num_classes == 7
    sizes = [len(datamodule.split_dataloader(s).dataset) for s in ("train", "val", "test")]
    assert sum(sizes) == 2704 and min(sizes) > 300
