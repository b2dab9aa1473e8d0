"""`foundations eval`: benchmarks as data, every baseline in one report, cached embeddings."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from evaluation.benchmark import Benchmark, find_benchmark, registered_benchmarks
from evaluation.runner import display_name
from foundations import api
from foundations.cli.main import main

TINY_BENCHMARK = {
    "name": "tiny-shapes",
    "description": "toy shapes, small",
    "datamodule": {
        "class_path": "foundations.toy.datamodule.ShapesDataModule",
        "init_args": {"num_samples": 320, "batch_size": 64},
    },
    "label_fractions": [0.1, 1.0],
    "seeds": [0, 1],
}


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("run")
    recipe = Path(__file__).resolve().parents[2] / "recipes" / "core" / "simclr_toy.yaml"
    api.fit(
        recipe,
        {
            "trainer.max_steps": 2,
            "trainer.default_root_dir": root,
            "trainer.logger": False,
            "trainer.enable_progress_bar": False,
            "data.init_args.num_samples": 320,
            "data.init_args.batch_size": 32,
        },
    )
    return next(root.rglob("last.ckpt"))


def test_eval_writes_every_candidate_and_reuses_the_cache(
    checkpoint: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    benchmark_file = tmp_path / "bench.yaml"
    benchmark_file.write_text(yaml.safe_dump(TINY_BENCHMARK))
    cache = tmp_path / "cache"
    args = ["eval", str(benchmark_file), "--model", str(checkpoint), "--cache", str(cache)]
    assert main([*args, "--output", str(tmp_path / "out")]) == 0
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    name = display_name(str(checkpoint))
    assert list(results["candidates"]) == [name, f"{name} (random init)", "raw inputs"]
    for protocols in results["candidates"].values():
        assert set(protocols) == {"linear", "knn", "label_efficiency"}
        rows = protocols["label_efficiency"]["rows"]
        assert {(row["fraction"], row["seed"]) for row in rows} == {
            (0.1, 0),
            (0.1, 1),
            (1.0, 0),
            (1.0, 1),
        }
        assert 0.0 <= protocols["linear"]["accuracy"] <= 1.0
    assert results["versions"]["torch"]
    assert results["split"] == "random"
    for figure in ("label_efficiency.png", "confusion.png", "embedding_map.png"):
        assert (tmp_path / "out" / figure).stat().st_size > 1000
    report = (tmp_path / "out" / "report.md").read_text()
    assert "## Label efficiency" in report and "raw inputs" in report
    assert "raw inputs" in capsys.readouterr().out

    cached = sorted(cache.rglob("*.npz"))
    assert len(cached) == 6  # (model + random twin) x 3 splits
    mtimes = [path.stat().st_mtime_ns for path in cached]
    assert main([*args, "--output", str(tmp_path / "again")]) == 0
    assert [path.stat().st_mtime_ns for path in sorted(cache.rglob("*.npz"))] == mtimes
    again = json.loads((tmp_path / "again" / "results.json").read_text())
    assert again["candidates"] == results["candidates"]


def test_benchmark_definitions_are_validated(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown keys \\['protocol'\\]"):
        Benchmark.from_dict({**TINY_BENCHMARK, "protocol": ["linear"]})
    with pytest.raises(ValueError, match="unknown protocols \\['svm'\\]"):
        Benchmark.from_dict({**TINY_BENCHMARK, "protocols": ["svm"]})
    broken = tmp_path / "broken.yaml"
    broken.write_text("- just\n- a list\n")
    with pytest.raises(ValueError, match=r"broken\.yaml"):
        find_benchmark(str(broken))
    with pytest.raises(KeyError, match="toy-shapes"):
        find_benchmark("no-such-benchmark")


def test_domains_register_benchmarks_as_data() -> None:
    benchmark = registered_benchmarks()["toy-shapes"]
    assert benchmark.datamodule["class_path"].endswith("ShapesDataModule")
    assert benchmark.protocols == ("linear", "knn", "label_efficiency")


def test_display_name_shortens_lightning_paths() -> None:
    assert display_name("runs/x/lightning_logs/version_3/checkpoints/last.ckpt") == "x/last.ckpt"
    assert display_name("random:recipes/core/simclr_toy.yaml") == (
        "random:recipes/core/simclr_toy.yaml"
    )


def test_finetune_and_classical_baselines_share_the_report(
    checkpoint: Path, tmp_path: Path
) -> None:
    definition = {
        **TINY_BENCHMARK,
        "protocols": ["linear", "finetune"],
        "raw_baseline": False,
        "classical_baseline": "foundations.toy.baselines.fourier_features",
        "classical_classifier": "gradient_boosting",
        "finetune_fractions": [0.1],
        "finetune_epochs": 1,
    }
    benchmark_file = tmp_path / "bench.yaml"
    benchmark_file.write_text(yaml.safe_dump(definition))
    args = ["eval", str(benchmark_file), "--model", str(checkpoint), "--no-random-baseline"]
    assert main([*args, "--output", str(tmp_path), "--cache", str(tmp_path / "cache")]) == 0
    results = json.loads((tmp_path / "results.json").read_text())
    name = display_name(str(checkpoint))
    candidates = results["candidates"]
    classical = "classical: fourier_features"
    assert set(candidates) == {
        name,
        classical,
        f"{classical} + gradient boosting",
        f"{name} (supervised from scratch)",
    }
    assert candidates[f"{classical} + gradient boosting"]["linear"]["learning_rate"] in (
        0.05,
        0.1,
        0.2,
    )
    tuned = candidates[name]["finetune"][0]
    scratch = candidates[f"{name} (supervised from scratch)"]["finetune"][0]
    assert tuned["num_labels"] == scratch["num_labels"] == 19  # 10% of 192, >= 1 per class
    assert 0.0 <= tuned["accuracy"] <= 1.0
    assert "linear" in candidates[classical]
    assert "## Fine-tuning" in (tmp_path / "report.md").read_text()


def test_each_classical_baseline_is_its_own_candidate(checkpoint: Path, tmp_path: Path) -> None:
    definition = {
        **TINY_BENCHMARK,
        "protocols": ["linear"],
        "raw_baseline": False,
        "classical_baseline": [
            "foundations.toy.baselines.fourier_features",
            "toy_classical.coarse_fourier_features",
        ],
        "classical_classifier": "gradient_boosting",
    }
    benchmark_file = tmp_path / "bench.yaml"
    benchmark_file.write_text(yaml.safe_dump(definition))
    args = ["eval", str(benchmark_file), "--model", str(checkpoint), "--no-random-baseline"]
    assert main([*args, "--output", str(tmp_path), "--cache", str(tmp_path / "cache")]) == 0
    candidates = json.loads((tmp_path / "results.json").read_text())["candidates"]
    fine, coarse = "classical: fourier_features", "classical: coarse_fourier_features"
    assert set(candidates) == {
        display_name(str(checkpoint)),
        fine,
        f"{fine} + gradient boosting",
        coarse,
        f"{coarse} + gradient boosting",
    }
    # Two feature sets, two different probes: 64 against 16 Fourier magnitudes.
    assert candidates[fine]["linear"] != candidates[coarse]["linear"]


def test_similarity_and_anomaly_protocols(checkpoint: Path, tmp_path: Path) -> None:
    definition = {
        **TINY_BENCHMARK,
        "protocols": ["similarity", "anomaly"],
        "anomaly_classes": [5],
        "classical_baseline": "foundations.toy.baselines.fourier_features",
    }
    benchmark_file = tmp_path / "bench.yaml"
    benchmark_file.write_text(yaml.safe_dump(definition))
    args = ["eval", str(benchmark_file), "--model", str(checkpoint), "--no-random-baseline"]
    assert main([*args, "--output", str(tmp_path), "--cache", str(tmp_path / "cache")]) == 0
    results = json.loads((tmp_path / "results.json").read_text())
    classical = results["candidates"]["classical: fourier_features"]
    # Fourier magnitudes separate the shapes well: neighbours share classes, bars stand out.
    assert classical["similarity"]["precision@10"] > 0.5
    assert classical["anomaly"]["auroc"] > 0.7
    report = (tmp_path / "report.md").read_text()
    assert "## Similarity search" in report and "## Anomaly detection (classes [5])" in report


def test_protocol_requirements_are_checked() -> None:
    with pytest.raises(ValueError, match="distinct function names"):
        Benchmark.from_dict({**TINY_BENCHMARK, "classical_baseline": ["a.features", "b.features"]})
    with pytest.raises(ValueError, match="anomaly_classes"):
        Benchmark.from_dict({**TINY_BENCHMARK, "protocols": ["anomaly"]})
    with pytest.raises(ValueError, match="multilabel tasks support the linear protocol only"):
        Benchmark.from_dict({**TINY_BENCHMARK, "task": "multilabel"})
    multilabel = Benchmark.from_dict(
        {**TINY_BENCHMARK, "task": "multilabel", "protocols": ["linear"]}
    )
    assert multilabel.protocols == ("linear",)


def test_embedding_views_add_view_averaged_candidates(checkpoint: Path, tmp_path: Path) -> None:
    definition = {**TINY_BENCHMARK, "protocols": ["linear"], "raw_baseline": False}
    benchmark_file = tmp_path / "bench.yaml"
    benchmark_file.write_text(yaml.safe_dump(definition))
    cache = tmp_path / "cache"
    args = ["eval", str(benchmark_file), "--model", str(checkpoint), "--cache", str(cache)]
    assert main([*args, "--output", str(tmp_path), "--embedding-views", "2"]) == 0
    results = json.loads((tmp_path / "results.json").read_text())
    name = display_name(str(checkpoint))
    assert results["embedding_views"] == 2
    assert list(results["candidates"]) == [
        name,
        f"{name} (random init)",
        f"{name} + 2 views",
        f"{name} (random init) + 2 views",
    ]
    # Four different embeddings, each cached for the three splits.
    cached = sorted(cache.rglob("*.npz"))
    assert len(cached) == 12
    test_embeddings = []
    for path in cached:
        with np.load(path) as archive:
            if str(archive["identity"][2]) == "test":
                test_embeddings.append(archive["embeddings"].tobytes())
    assert len(set(test_embeddings)) == 4
    with pytest.raises(SystemExit):
        main([*args, "--output", str(tmp_path), "--embedding-views", "-1"])
