"""``foundations demo``: pretrain on an embedded default, probe it, write a report.

The demo is the README's first command: a newcomer sees self-supervised pretraining beat the
same encoder at random initialisation and a raw-input baseline, with numbers they can re-run.
"""

from __future__ import annotations

import argparse
import copy
import json
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch
from threadpoolctl import threadpool_limits
from torch import nn

from evaluation.embeddings import extract_embeddings
from evaluation.probes.linear import LinearProbeResult, linear_probe
from evaluation.raw import RawInputs
from foundations import __version__
from foundations.cli.lightning_cli import FoundationsCLI
from foundations.data import SPLIT_NAMES, LabelledSplits
from foundations.registry import domains

DEMO_RECIPES = {
    "toy": "simclr_toy.yaml",
    "remote_sensing": "simclr_synthetic.yaml",
    "medical": "mae_phantoms.yaml",
    "astronomy": "clip_trimodal.yaml",
}
"""The recipe each installed domain contributes to the demo (its embedded default)."""


def default_recipes() -> list[Path]:
    """The demo recipe of every installed domain listed in :data:`DEMO_RECIPES`."""
    found = []
    installed = domains()
    for domain, name in DEMO_RECIPES.items():
        if domain not in installed:
            continue
        matches = [path for path in installed[domain].recipes() if path.name == name]
        if not matches:
            raise FileNotFoundError(f"the {domain!r} domain ships no {name}")
        found.append(matches[0])
    return found


def probe_encoder(
    encoder: nn.Module, datamodule: LabelledSplits, modality: str
) -> LinearProbeResult:
    """Linear-probe ``encoder`` on the datamodule's fixed train/val/test splits."""
    features = {}
    for split in SPLIT_NAMES:
        x, y = extract_embeddings(encoder, datamodule.split_dataloader(split), modality)
        assert y is not None, f"the {split} split has no labels"
        features[split] = (x, y)
    with threadpool_limits(limits=1):  # BLAS threads fight torch's on small machines
        return linear_probe(features["train"], features["val"], features["test"])


def run_recipe(recipe: Path, output: Path, overrides: list[str]) -> dict[str, Any]:
    """Pretrain with ``recipe``, then linear-probe three encoders on the same splits.

    Raises:
        TypeError: When the recipe's datamodule has no labelled splits.
    """
    args = ["-c", str(recipe), "--trainer.default_root_dir", str(output)]
    cli = FoundationsCLI(args=[*args, *overrides], run=False)
    datamodule = cli.datamodule
    if not isinstance(datamodule, LabelledSplits):
        raise TypeError(f"{type(datamodule).__name__} has no split_dataloader(); cannot probe")
    random_init = copy.deepcopy(cli.model)
    start = time.perf_counter()
    cli.trainer.fit(cli.model, datamodule=cli.datamodule)
    train_seconds = time.perf_counter() - start

    encoder = cli.model.embedding_encoder()
    modality = str(getattr(encoder, "modality", "image"))
    method = type(cli.model).__name__
    candidates = {
        f"{method} pretrained": encoder,
        "same encoder, random init": random_init.embedding_encoder(),
    }
    first = next(iter(datamodule.split_dataloader("train")))
    if RawInputs.accepts(first[modality]):
        candidates["raw inputs"] = RawInputs()
    probes = {name: probe_encoder(enc, datamodule, modality) for name, enc in candidates.items()}
    return {
        "recipe": str(recipe),
        "train_seconds": round(train_seconds, 1),
        "epochs": cli.trainer.current_epoch,
        "steps": cli.trainer.global_step,
        "linear_probe": {name: asdict(result) for name, result in probes.items()},
    }


def run_demo(
    output: Path, recipes: list[Path] | None = None, overrides: list[str] | None = None
) -> dict[str, Any]:
    """Run every domain's demo recipe and write one report.

    Args:
        output: Folder for the training runs, ``results.json`` and ``report.md``.
        recipes: Recipes whose datamodules implement ``split_dataloader``; defaults to each
            installed domain's embedded-default recipe (:func:`default_recipes`).
        overrides: Extra CLI overrides applied to every recipe, e.g.
            ``["--trainer.max_epochs", "2"]``.

    Returns:
        The results written to ``results.json``.
    """
    recipes = recipes or default_recipes()
    output.mkdir(parents=True, exist_ok=True)
    runs = {
        recipe.stem: run_recipe(recipe, output / recipe.stem, overrides or []) for recipe in recipes
    }
    results = {
        "overrides": overrides or [],
        "protocol": "linear probe, standardised features, C chosen on val, scored once on test",
        "runs": runs,
        "versions": {"foundations": __version__, "torch": torch.__version__},
    }
    (output / "results.json").write_text(json.dumps(results, indent=2))
    (output / "report.md").write_text(render_report(results))
    return results


def render_report(results: dict[str, Any]) -> str:
    """Markdown tables of the demo's results, with what reproduces them."""
    lines = ["# Foundations demo", "", f"Protocol: {results['protocol']}."]
    if results["overrides"]:
        lines.append(f"Overrides: `{' '.join(results['overrides'])}`.")
    for name, run in results["runs"].items():
        lines += [
            "",
            f"## {name}",
            "",
            f"`foundations fit -c {run['recipe']}` ({run['steps']} steps, "
            f"{run['train_seconds']} s of training).",
            "",
            "| encoder | test accuracy | balanced accuracy | macro-F1 |",
            "|---|---|---|---|",
        ]
        for encoder, row in run["linear_probe"].items():
            lines.append(
                f"| {encoder} | {row['accuracy']:.3f} | {row['balanced_accuracy']:.3f} "
                f"| {row['macro_f1']:.3f} |"
            )
    return "\n".join(lines) + "\n"


def main(args: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="foundations demo",
        description="Pretrain on the embedded default, linear-probe, write a report.",
    )
    parser.add_argument("--output", type=Path, default=Path("runs/demo"))
    parser.add_argument(
        "--recipe",
        type=Path,
        action="append",
        default=None,
        help="run only these recipes (repeatable); default: every domain's",
    )
    parsed, overrides = parser.parse_known_args(args)
    results = run_demo(parsed.output, parsed.recipe, overrides)
    print(render_report(results))
    print(f"wrote {parsed.output / 'results.json'} and {parsed.output / 'report.md'}")
    return 0
