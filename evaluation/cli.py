"""``foundations eval``: score encoders on a benchmark, print a table, write a report."""

from __future__ import annotations

import argparse
from dataclasses import asdict
from pathlib import Path
from typing import Any

import yaml

from evaluation.benchmark import Benchmark, find_benchmark, registered_benchmarks
from evaluation.cache import EmbeddingCache
from evaluation.report import render_table
from evaluation.runner import run_benchmark


def _data_overrides(pairs: list[str]) -> dict[str, Any]:
    overrides = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise SystemExit(f"foundations eval: --data expects KEY=VALUE, got {pair!r}")
        overrides[key] = yaml.safe_load(value)
    return overrides


def main(args: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="foundations eval",
        description="Linear probe, kNN and label-efficiency of encoders on a benchmark, "
        "side by side with random-init, raw-input and classical baselines.",
    )
    parser.add_argument("benchmark", nargs="?", help="registered name or a benchmark YAML file")
    parser.add_argument(
        "--model",
        action="append",
        default=[],
        metavar="SPEC",
        help="checkpoint.ckpt, random:recipe.yaml or hub:NAME (repeatable)",
    )
    parser.add_argument("--output", type=Path, default=None, help="report folder")
    parser.add_argument(
        "--data",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a datamodule init arg, e.g. --data root=/my/data",
    )
    parser.add_argument("--device", default=None, help="cpu, cuda, ... (default: auto)")
    parser.add_argument("--cache", type=Path, default=None, help="embedding cache folder")
    parser.add_argument(
        "--protocols",
        default=None,
        metavar="P1,P2",
        help="replace the benchmark's protocols, e.g. linear,knn,finetune",
    )
    parser.add_argument("--no-random-baseline", action="store_true")
    parser.add_argument(
        "--embedding-views",
        type=int,
        default=0,
        metavar="N",
        help="also evaluate each model pretrained on views with its embedding averaged over "
        "the input and N random draws of those views (test-time augmentation)",
    )
    parser.add_argument("--list", action="store_true", help="list registered benchmarks")
    parsed = parser.parse_args(args)

    if parsed.list or parsed.benchmark is None:
        for name, benchmark in registered_benchmarks().items():
            print(f"{name:<24} {benchmark.description}")
        return 0
    if not parsed.model:
        parser.error("give at least one --model")
    if parsed.embedding_views < 0:
        parser.error(f"--embedding-views must be >= 0, got {parsed.embedding_views}")
    try:
        benchmark = find_benchmark(parsed.benchmark)
    except (KeyError, ValueError) as error:
        parser.error(str(error).strip("'\""))
    if parsed.protocols:
        try:
            benchmark = Benchmark.from_dict(
                asdict(benchmark) | {"protocols": parsed.protocols.split(",")}
            )
        except ValueError as error:
            parser.error(str(error))
    output = parsed.output or Path("runs") / "eval" / benchmark.name
    results = run_benchmark(
        benchmark,
        parsed.model,
        output,
        cache=EmbeddingCache(parsed.cache) if parsed.cache else None,
        device=parsed.device,
        data_overrides=_data_overrides(parsed.data),
        random_baseline=not parsed.no_random_baseline,
        embedding_views=parsed.embedding_views,
    )
    print(render_table(results))
    print(f"\nwrote {output / 'results.json'} and {output / 'report.md'}")
    return 0
