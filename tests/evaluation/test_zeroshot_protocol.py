"""The `zeroshot` benchmark protocol: validation, encoder discovery, scoring, and skipping."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
import torch
import yaml
from torch import Tensor, nn

from evaluation.benchmark import Benchmark
from evaluation.protocols.zeroshot import (
    check_class_names,
    zero_shot_encoders,
    zero_shot_protocol,
)
from evaluation.runner import run_benchmark
from foundations import api
from foundations.cli.main import main
from foundations.methods import MultiModalAlignment
from foundations.toy.generator import CLASS_NAMES

SHAPES = {
    "class_path": "foundations.toy.datamodule.ShapesDataModule",
    "init_args": {"num_samples": 320, "batch_size": 64, "paired_edges": True},
}
PROMPTS = {name: [f"a {name}", f"an image of a {name}"] for name in CLASS_NAMES}


def bench(**changes: Any) -> dict[str, Any]:
    return {"name": "zs", "datamodule": SHAPES, "protocols": ["zeroshot"]} | changes


def test_benchmark_validates_zero_shot_prompts() -> None:
    benchmark = Benchmark.from_dict(bench(zero_shot_prompts=PROMPTS))
    assert benchmark.zero_shot_prompts["disc"] == ("a disc", "an image of a disc")
    assert list(benchmark.zero_shot_prompts) == list(CLASS_NAMES)
    with pytest.raises(ValueError, match=r"'zs'.*zeroshot protocol needs zero_shot_prompts"):
        Benchmark.from_dict(bench())
    with pytest.raises(ValueError, match=r"zero_shot_prompts\['disc'\] must be a non-empty list"):
        Benchmark.from_dict(bench(zero_shot_prompts={"disc": "a disc", "ring": ["a ring"]}))
    with pytest.raises(ValueError, match=r"zero_shot_prompts\['ring'\]"):
        Benchmark.from_dict(bench(zero_shot_prompts={"disc": ["a disc"], "ring": []}))
    with pytest.raises(ValueError, match="at least two classes"):
        Benchmark.from_dict(bench(zero_shot_prompts={"disc": ["a disc"]}))
    with pytest.raises(ValueError, match="must map class names"):
        Benchmark.from_dict(bench(zero_shot_prompts=[["a disc"], ["a ring"]]))
    # Prompts without the protocol are kept (a user may switch it on with --protocols).
    assert Benchmark.from_dict(bench(protocols=["knn"], zero_shot_prompts=PROMPTS))


def test_class_names_must_match_in_order() -> None:
    check_class_names({"a": ["x"], "b": ["y"]}, ("a", "b"))
    with pytest.raises(ValueError, match=r"missing \['c'\], unknown \['z'\]"):
        check_class_names({"a": ["x"], "z": ["y"]}, ("a", "c"))
    with pytest.raises(ValueError, match="another order"):
        check_class_names({"b": ["x"], "a": ["y"]}, ("a", "b"))


def test_runner_rejects_prompts_for_other_classes_before_embedding(tmp_path: Path) -> None:
    prompts = {"disc": ["a disc"], "ring": ["a ring"]}
    benchmark = Benchmark.from_dict(bench(zero_shot_prompts=prompts))
    with pytest.raises(ValueError, match=r"'zs'.*missing \['square'"):
        # The model spec is never resolved: the prompts are checked first.
        run_benchmark(benchmark, ["no/such.ckpt"], tmp_path / "out")


class Words(nn.Module):
    """A text encoder whose embedding of a prompt is the one-hot of the class word it names."""

    modality = "text"
    reads_text = True

    def __init__(self, words: Sequence[str]) -> None:
        super().__init__()
        self.words = list(words)
        self.out_dim = len(words)
        self.scale = nn.Parameter(torch.ones(()))

    def tokenize(self, texts: Sequence[str]) -> list[list[str]]:
        return [text.split() for text in texts]

    def forward(self, texts: Sequence[str]) -> Tensor:
        hot = torch.zeros(len(texts), self.out_dim)
        for row, tokens in enumerate(self.tokenize(texts)):
            for token in tokens:
                if token in self.words:
                    hot[row, self.words.index(token)] = 1.0
        return self.scale * hot


class Vectors(nn.Module):
    """An image encoder that passes its input vectors through."""

    def __init__(self, modality: str, width: int) -> None:
        super().__init__()
        self.modality, self.out_dim = modality, width
        self.scale = nn.Parameter(torch.ones(()))

    def forward(self, x: Tensor) -> Tensor:
        return self.scale * x


def identity_projections(method: MultiModalAlignment) -> MultiModalAlignment:
    with torch.no_grad():
        for projection in method.projections.values():
            projection.weight.copy_(torch.eye(*projection.weight.shape))
    return method


def test_protocol_classifies_by_prompt_similarity() -> None:
    words = ["cyst", "mass", "normal"]
    method = identity_projections(
        MultiModalAlignment(
            {"scan": Vectors("scan", 3), "report": Words(words), "aux": Vectors("aux", 3)},
            embed_dim=3,
        )
    )
    assert zero_shot_encoders(method) == ("scan", "report")
    labels = torch.tensor([0, 1, 2, 0, 1, 2, 2, 2])
    noise = 0.1 * torch.randn(len(labels), 3, generator=torch.Generator().manual_seed(0))
    scans = torch.eye(3)[labels] + noise
    scans[-1] = torch.eye(3)[0]  # one mistake: a "normal" scan that looks like a cyst
    batches = [
        {"scan": scans[i : i + 3], "label": labels[i : i + 3]} for i in range(0, len(labels), 3)
    ]
    prompts = {word: [f"a {word}", f"{word} seen"] for word in words}
    metrics = zero_shot_protocol(method, "scan", "report", batches, prompts, device="cpu")
    assert metrics["accuracy"] == pytest.approx(7 / 8)
    assert metrics["balanced_accuracy"] == pytest.approx((1 + 1 + 3 / 4) / 3)
    assert 0.5 < metrics["auroc"] <= 1.0
    assert metrics | {"accuracy": 0, "balanced_accuracy": 0, "macro_f1": 0, "auroc": 0} == {
        "accuracy": 0,
        "balanced_accuracy": 0,
        "macro_f1": 0,
        "auroc": 0,
        "num_samples": 8,
        "num_classes": 3,
        "image_encoder": "scan",
        "text_encoder": "report",
    }
    with pytest.raises(ValueError, match="labelled"):
        zero_shot_protocol(method, "scan", "report", [{"scan": scans}], prompts, device="cpu")
    with pytest.raises(KeyError, match="'scan'"):
        zero_shot_protocol(method, "scan", "report", [{"x": scans}], prompts, device="cpu")
    no_text = MultiModalAlignment({"scan": Vectors("scan", 3), "aux": Vectors("aux", 3)})
    assert zero_shot_encoders(no_text) is None


def test_multimodal_checkpoint_without_text_is_skipped(tmp_path: Path, repo_root: Path) -> None:
    api.fit(
        repo_root / "recipes" / "core" / "clip_toy.yaml",
        {
            "trainer.max_steps": 2,
            "trainer.default_root_dir": tmp_path / "run",
            "trainer.logger": False,
            "trainer.enable_progress_bar": False,
            **{f"data.init_args.{key}": value for key, value in SHAPES["init_args"].items()},
        },
    )
    checkpoint = next((tmp_path / "run").rglob("last.ckpt"))
    benchmark = bench(protocols=["knn", "zeroshot"], zero_shot_prompts=PROMPTS, raw_baseline=False)
    (tmp_path / "bench.yaml").write_text(yaml.safe_dump(benchmark, sort_keys=False))
    out = tmp_path / "out"
    args = ["eval", str(tmp_path / "bench.yaml"), "--model", str(checkpoint)]
    args += ["--no-random-baseline", "--output", str(out), "--cache", str(tmp_path / "cache")]
    assert main(args) == 0
    results = json.loads((out / "results.json").read_text())
    (name,) = results["candidates"]
    assert set(results["candidates"][name]) == {"knn"}
    assert "no text encoder" in results["zeroshot_skipped"][name]
    report = (out / "report.md").read_text()
    assert "## Zero-shot (text prompts)" in report
    assert f"- skipped {name}: no text encoder" in report
