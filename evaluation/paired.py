"""Paired comparison of label-efficiency results: candidates against one baseline.

Every candidate of a benchmark is probed on the same labelled subsets (one per seed), so the
fair comparison is paired: the difference on each subset. With several pretraining runs of one
recipe (across ``results.json`` files of the same benchmark), the differences are averaged
over runs per subset, and the test asks whether that mean is zero across subsets (a one-sample
t-test and a Wilcoxon signed-rank test, both two-sided, from SciPy).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from scipy import stats


@dataclass(frozen=True)
class PairedComparison:
    """Candidates (one or more runs) against a baseline on the same labelled subsets.

    Attributes:
        fraction: Label fraction compared.
        candidates: The candidate names, one per run.
        baseline: The baseline's name.
        candidate_mean: Mean score of the candidates over runs and subsets.
        baseline_mean: Mean score of the baseline over subsets.
        mean_difference: ``candidate_mean - baseline_mean``.
        run_differences: Mean difference of each run, in ``candidates`` order.
        subsets: Number of labelled subsets.
        subsets_won: Subsets where the run-averaged difference is positive.
        pairs_won: ``(run, subset)`` pairs with a positive difference.
        pairs: Number of ``(run, subset)`` pairs.
        t_pvalue: Two-sided one-sample t-test of the run-averaged differences per subset.
        wilcoxon_pvalue: Two-sided Wilcoxon signed-rank test of the same differences.
    """

    fraction: float
    candidates: tuple[str, ...]
    baseline: str
    candidate_mean: float
    baseline_mean: float
    mean_difference: float
    run_differences: tuple[float, ...]
    subsets: int
    subsets_won: int
    pairs_won: int
    pairs: int
    t_pvalue: float
    wilcoxon_pvalue: float


def read_results(path: Path) -> dict[str, Any]:
    """A ``results.json`` of ``foundations eval``.

    Raises:
        ValueError: Naming the file, when it is missing, not JSON or has no candidates.
    """
    try:
        results = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise ValueError(f"{path}: not a readable results.json ({error})") from error
    if not isinstance(results, dict) or not isinstance(results.get("candidates"), dict):
        raise ValueError(f"{path}: no 'candidates' (not a results.json of foundations eval)")
    return results


def subset_scores(
    results: Mapping[str, Any], candidate: str, fraction: float, metric: str
) -> dict[int, float]:
    """A candidate's label-efficiency scores by subset seed.

    Raises:
        ValueError: When the candidate is missing or has no rows at ``fraction``.
    """
    protocols = results["candidates"].get(candidate)
    if protocols is None or "label_efficiency" not in protocols:
        raise ValueError(f"no label-efficiency results for candidate {candidate!r}")
    scores = {
        int(row["seed"]): float(row[metric])
        for row in protocols["label_efficiency"]["rows"]
        if np.isclose(float(row["fraction"]), fraction)
    }
    if not scores:
        raise ValueError(f"candidate {candidate!r} has no label-efficiency rows at {fraction}")
    return scores


def compare_paired(
    runs: Sequence[Mapping[int, float]],
    baseline: Mapping[int, float],
    fraction: float,
    names: Sequence[str],
    baseline_name: str,
) -> PairedComparison:
    """Compare runs of a candidate with a baseline, subset by subset.

    Args:
        runs: Each run's scores by subset seed.
        baseline: The baseline's scores by subset seed.
        fraction: The label fraction the scores belong to (reported back).
        names: One name per run.
        baseline_name: The baseline's name.

    Raises:
        ValueError: Without runs, or when a run was not scored on the baseline's subsets.
    """
    if not runs:
        raise ValueError("no candidate runs to compare")
    seeds = sorted(baseline)
    for name, run in zip(names, runs, strict=True):
        if sorted(run) != seeds:
            raise ValueError(
                f"{name!r} was scored on subsets {sorted(run)}, the baseline on {seeds}"
            )
    scores = np.array([[run[seed] for seed in seeds] for run in runs])
    reference = np.array([baseline[seed] for seed in seeds])
    differences = scores - reference
    per_subset = differences.mean(axis=0)
    return PairedComparison(
        fraction=fraction,
        candidates=tuple(names),
        baseline=baseline_name,
        candidate_mean=float(scores.mean()),
        baseline_mean=float(reference.mean()),
        mean_difference=float(differences.mean()),
        run_differences=tuple(float(d) for d in differences.mean(axis=1)),
        subsets=len(seeds),
        subsets_won=int((per_subset > 0).sum()),
        pairs_won=int((differences > 0).sum()),
        pairs=int(differences.size),
        t_pvalue=float(stats.ttest_1samp(per_subset, 0.0).pvalue),
        wilcoxon_pvalue=float(stats.wilcoxon(per_subset).pvalue),
    )


def compare_results(
    paths: Sequence[Path],
    match: str | Sequence[str],
    baseline: str,
    fraction: float,
    metric: str = "macro_f1",
) -> PairedComparison:
    """Every candidate whose name contains ``match`` (or any of several), across result files,
    against ``baseline``.

    Args:
        paths: ``results.json`` files of one benchmark (the same labelled subsets).
        match: Text that the candidates' names contain (e.g. a run folder), or several.
        baseline: The baseline candidate's full name.
        fraction: Label fraction.
        metric: Score to compare.

    Raises:
        ValueError: Naming the files, when one cannot be read, when no candidate matches,
            when the baseline is in none of them, or when the files disagree on the
            baseline's scores (different subsets or data).
    """
    loaded = [(Path(path), read_results(path)) for path in paths]
    return compare_loaded(loaded, match, baseline, fraction, metric)


def compare_loaded(
    loaded: Sequence[tuple[Path, Mapping[str, Any]]],
    match: str | Sequence[str],
    baseline: str,
    fraction: float,
    metric: str = "macro_f1",
) -> PairedComparison:
    """:func:`compare_results` on results already read, each with the file it came from."""
    patterns = [match] if isinstance(match, str) else list(match)
    runs: list[dict[int, float]] = []
    names: list[str] = []
    reference: dict[int, float] | None = None
    for path, results in loaded:
        for name in results["candidates"]:
            if name != baseline and any(pattern in name for pattern in patterns):
                runs.append(subset_scores(results, name, fraction, metric))
                names.append(f"{path}: {name}")
        if baseline in results["candidates"]:
            scores = subset_scores(results, baseline, fraction, metric)
            if reference is not None and not _same(reference, scores):
                raise ValueError(f"{path}: {baseline!r} scores differ from another file's")
            reference = scores
    files = [str(path) for path, _ in loaded]
    if not runs:
        raise ValueError(f"no candidate containing any of {patterns} in {files}")
    if reference is None:
        raise ValueError(f"baseline {baseline!r} is in none of {files}")
    return compare_paired(runs, reference, fraction, names, baseline)


def _same(a: Mapping[int, float], b: Mapping[int, float]) -> bool:
    return sorted(a) == sorted(b) and all(np.isclose(a[k], b[k], atol=1e-9) for k in a)


def render_comparison(comparison: PairedComparison) -> str:
    """A short plain-text report of one comparison."""
    lines = [
        f"label fraction {comparison.fraction:g}: {len(comparison.candidates)} run(s) "
        f"against {comparison.baseline!r}",
        f"  mean {comparison.candidate_mean:.4f} against {comparison.baseline_mean:.4f}: "
        f"difference {comparison.mean_difference:+.4f}",
        "  per run: " + ", ".join(f"{d:+.4f}" for d in comparison.run_differences),
        f"  subsets won (run-averaged) {comparison.subsets_won} of {comparison.subsets}, "
        f"pairs won {comparison.pairs_won} of {comparison.pairs}",
        f"  t-test p = {comparison.t_pvalue:.2g}, Wilcoxon p = {comparison.wilcoxon_pvalue:.2g}",
    ]
    return "\n".join(lines)


def main(args: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="foundations compare",
        description="Paired comparison of label-efficiency results (results.json of "
        "`foundations eval`): candidates against a baseline on the same labelled subsets.",
    )
    parser.add_argument("results", nargs="+", type=Path, help="results.json files")
    parser.add_argument(
        "--match",
        required=True,
        action="append",
        help="compare every candidate whose name contains this (repeatable: any of them)",
    )
    parser.add_argument("--baseline", required=True, help="the baseline candidate's name")
    parser.add_argument(
        "--fraction",
        type=float,
        action="append",
        default=None,
        help="label fraction (repeatable; default: every fraction below 1 the baseline has)",
    )
    parser.add_argument("--metric", default="macro_f1")
    parsed = parser.parse_args(args)
    try:
        loaded = [(path, read_results(path)) for path in parsed.results]
        fractions = parsed.fraction or _fractions(loaded, parsed.baseline)
        for fraction in fractions:
            comparison = compare_loaded(
                loaded, parsed.match, parsed.baseline, fraction, parsed.metric
            )
            print(render_comparison(comparison))
    except ValueError as error:
        print(f"foundations compare: {error}", file=sys.stderr)
        return 2
    return 0


def _fractions(loaded: Sequence[tuple[Path, Mapping[str, Any]]], baseline: str) -> list[float]:
    for _, results in loaded:
        candidates = results["candidates"]
        if baseline in candidates and "label_efficiency" in candidates[baseline]:
            rows = candidates[baseline]["label_efficiency"]["rows"]
            # at 1 every seed probes the same labels: nothing to pair
            return sorted({float(row["fraction"]) for row in rows} - {1.0})
    files = [str(path) for path, _ in loaded]
    raise ValueError(f"baseline {baseline!r} has label-efficiency results in none of {files}")
