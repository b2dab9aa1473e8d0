"""`foundations eval` with the zeroshot protocol on phantoms: an image-report CLIP checkpoint is
scored from report-style prompts, an image-only MAE checkpoint next to it is skipped."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from domains.medical import PHANTOM_PROMPTS
from domains.medical.phantoms import LESION_CLASSES
from evaluation.benchmark import registered_benchmarks
from foundations import api
from foundations.cli.main import main

RECIPES = Path(__file__).resolve().parents[3] / "recipes" / "medical"
TINY = {"num_samples": 24, "size": 16, "batch_size": 4}


def fit(recipe: str, root: Path) -> Path:
    api.fit(
        RECIPES / f"{recipe}.yaml",
        {
            "trainer.max_steps": 2,
            "trainer.default_root_dir": root,
            "trainer.logger": False,
            "trainer.enable_progress_bar": False,
            "trainer.enable_model_summary": False,
            **{f"data.init_args.{key}": value for key, value in TINY.items()},
        },
    )
    return next(root.rglob("last.ckpt"))


def test_registered_benchmark_prompts_every_lesion_class() -> None:
    benchmark = registered_benchmarks()["med-phantoms-zeroshot"]
    assert "zeroshot" in benchmark.protocols
    assert tuple(benchmark.zero_shot_prompts) == LESION_CLASSES
    assert all(len(prompts) >= 3 for prompts in benchmark.zero_shot_prompts.values())
    assert benchmark.datamodule == registered_benchmarks()["med-phantoms"].datamodule


def test_eval_scores_clip_zero_shot_and_skips_an_image_only_model(tmp_path: Path) -> None:
    clip = fit("clip_phantom_reports", tmp_path / "clip")
    mae = fit("mae_phantoms", tmp_path / "mae")
    benchmark = {
        "name": "tiny-phantoms-zeroshot",
        "datamodule": {
            "class_path": "domains.medical.datamodules.VolumeFolderDataModule",
            "init_args": TINY,
        },
        "protocols": ["zeroshot"],
        "zero_shot_prompts": PHANTOM_PROMPTS,
        "raw_baseline": False,
    }
    (tmp_path / "bench.yaml").write_text(yaml.safe_dump(benchmark, sort_keys=False))
    out = tmp_path / "out"
    args = ["eval", str(tmp_path / "bench.yaml"), "--model", str(clip), "--model", str(mae)]
    args += ["--no-random-baseline", "--output", str(out), "--cache", str(tmp_path / "cache")]
    assert main(args) == 0
    results = json.loads((out / "results.json").read_text())
    clip_name, mae_name = results["models"]
    zeroshot = results["candidates"][clip_name]["zeroshot"]
    assert (zeroshot["image_encoder"], zeroshot["text_encoder"]) == ("volume", "report")
    assert zeroshot["num_classes"] == 4
    assert 0 < zeroshot["num_samples"] < TINY["num_samples"]  # the test split only
    for metric in ("accuracy", "balanced_accuracy", "macro_f1"):
        assert 0.0 <= zeroshot[metric] <= 1.0
    assert "zeroshot" not in results["candidates"][mae_name]
    assert "MAE" in results["zeroshot_skipped"][mae_name]
    report = (out / "report.md").read_text()
    assert "## Zero-shot (text prompts)" in report
    assert f"| {clip_name} | volume ↔ report | {zeroshot['num_samples']} | 0.250 |" in report
