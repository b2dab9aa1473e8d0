"""Cross-modal retrieval of multimodal checkpoints through `foundations eval`."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import yaml

from evaluation.protocols.paired import pairwise_retrieval
from foundations import api
from foundations.cli.main import main


def test_pairwise_retrieval_uses_only_samples_present_in_both() -> None:
    rng = np.random.default_rng(0)
    a = rng.normal(size=(20, 8))
    present = {"a": np.ones(20, bool), "b": np.arange(20) % 4 != 0, "c": np.zeros(20, bool)}
    scores = pairwise_retrieval({"a": a, "b": a.copy(), "c": a}, present)
    assert set(scores) == {"a__b"}  # c is never present
    assert scores["a__b"]["num_pairs"] == 15
    assert scores["a__b"]["q2g_recall@1"] == 1.0
    assert scores["a__b"]["q2g_median_rank"] == 1.0


def test_eval_reports_retrieval_for_a_multimodal_checkpoint(
    tmp_path: Path, repo_root: Path
) -> None:
    data = {
        "num_samples": 320,
        "batch_size": 32,
        "paired_edges": True,
        "missing_edges_fraction": 0.3,
    }
    api.fit(
        repo_root / "recipes" / "core" / "clip_toy.yaml",
        {
            "trainer.max_steps": 3,
            "trainer.default_root_dir": tmp_path / "run",
            "trainer.logger": False,
            "trainer.enable_progress_bar": False,
            **{f"data.init_args.{key}": value for key, value in data.items()},
        },
    )
    checkpoint = next((tmp_path / "run").rglob("last.ckpt"))
    benchmark = {
        "name": "paired-shapes",
        "datamodule": {
            "class_path": "foundations.toy.datamodule.ShapesDataModule",
            "init_args": data,
        },
        "protocols": ["linear", "retrieval"],
        "raw_baseline": False,
    }
    (tmp_path / "bench.yaml").write_text(yaml.safe_dump(benchmark))
    args = [
        "eval",
        str(tmp_path / "bench.yaml"),
        "--model",
        str(checkpoint),
        "--no-random-baseline",
        "--output",
        str(tmp_path / "out"),
        "--cache",
        str(tmp_path / "cache"),
    ]
    assert main(args) == 0
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    (name,) = results["candidates"]
    pair = results["candidates"][name]["retrieval"]["edges__image"]
    assert 40 <= pair["num_pairs"] < 64  # 64 test samples, about 30% lack the edge map
    assert 0.0 <= pair["q2g_recall@1"] <= pair["q2g_recall@5"] <= 1.0
    assert "## Cross-modal retrieval" in (tmp_path / "out" / "report.md").read_text()
