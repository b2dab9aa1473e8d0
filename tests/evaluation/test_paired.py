"""Paired comparison of label-efficiency results (``foundations compare``)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from evaluation.paired import compare_paired, compare_results, main

BASELINE = "classical: features + gradient boosting"


def _results(path: Path, candidates: dict[str, list[float]], fraction: float = 0.1) -> Path:
    """A results.json with label-efficiency rows (one per subset seed) for each candidate."""
    content = {
        "candidates": {
            name: {
                "label_efficiency": {
                    "rows": [
                        {"fraction": fraction, "seed": seed, "macro_f1": score}
                        for seed, score in enumerate(scores)
                    ]
                    + [{"fraction": 1.0, "seed": 0, "macro_f1": 0.9}]
                }
            }
            for name, scores in candidates.items()
        }
    }
    path.write_text(json.dumps(content))
    return path


def test_compare_paired_averages_runs_per_subset() -> None:
    baseline = {0: 0.5, 1: 0.6, 2: 0.4, 3: 0.5, 4: 0.7, 5: 0.6}
    first = {0: 0.6, 1: 0.6, 2: 0.5, 3: 0.4, 4: 0.8, 5: 0.7}
    second = {0: 0.7, 1: 0.5, 2: 0.5, 3: 0.65, 4: 0.7, 5: 0.9}
    out = compare_paired([first, second], baseline, 0.1, ["a", "b"], "base")
    differences = np.array([[0.1, 0.0, 0.1, -0.1, 0.1, 0.1], [0.2, -0.1, 0.1, 0.15, 0.0, 0.3]])
    assert out.mean_difference == pytest.approx(differences.mean())
    assert out.run_differences == pytest.approx(tuple(differences.mean(axis=1)))
    assert out.candidate_mean == pytest.approx(np.mean([*first.values(), *second.values()]))
    assert out.subsets == 6 and out.subsets_won == 5  # all but subset 1
    assert out.pairs == 12 and out.pairs_won == 8
    # the tests see the run-averaged difference of each subset, as the function computes it
    per_subset = np.mean([[run[k] - baseline[k] for k in range(6)] for run in (first, second)], 0)
    assert out.t_pvalue == pytest.approx(stats.ttest_1samp(per_subset, 0.0).pvalue)
    assert out.wilcoxon_pvalue == pytest.approx(stats.wilcoxon(per_subset).pvalue)


def test_compare_paired_refuses_runs_on_other_subsets() -> None:
    with pytest.raises(ValueError, match=r"'late' was scored on subsets \[0, 2\]"):
        compare_paired([{0: 0.5, 2: 0.5}], {0: 0.4, 1: 0.4}, 0.1, ["late"], "base")


def test_compare_results_across_files(tmp_path: Path) -> None:
    baseline = [0.50, 0.60, 0.55, 0.52, 0.58]
    one = _results(tmp_path / "one.json", {"runs/s0.ckpt": [0.6] * 5, BASELINE: baseline})
    two = _results(tmp_path / "two.json", {"runs/s1.ckpt": [0.5] * 5, BASELINE: baseline})
    out = compare_results([one, two], "runs/s", BASELINE, 0.1)
    assert len(out.candidates) == 2 and out.candidates[0].endswith("runs/s0.ckpt")
    assert out.mean_difference == pytest.approx(0.55 - np.mean(baseline))
    other = _results(tmp_path / "other.json", {BASELINE: [0.4] * 5})
    with pytest.raises(ValueError, match=r"other\.json: .*scores differ"):
        compare_results([one, other], "runs/s", BASELINE, 0.1)
    assert len(compare_results([one, two], ["s0.ckpt", "s1"], BASELINE, 0.1).candidates) == 2
    assert len(compare_results([one, two], ["s0.ckpt"], BASELINE, 0.1).candidates) == 1
    with pytest.raises(ValueError, match=r"no candidate containing any of \['absent'\]"):
        compare_results([one], "absent", BASELINE, 0.1)


def test_cli_reports_each_fraction_below_one_and_names_a_missing_baseline(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _results(tmp_path / "r.json", {"mae": [0.7] * 6, BASELINE: [0.6] * 5 + [0.65]})
    assert main([str(path), "--match", "mae", "--baseline", BASELINE]) == 0
    printed = capsys.readouterr().out
    assert "label fraction 0.1: 1 run(s)" in printed and "label fraction 1:" not in printed
    assert "difference +0.0917" in printed and "subsets won (run-averaged) 6 of 6" in printed
    assert main([str(path), "--match", "mae", "--baseline", "missing"]) == 2
    assert "baseline 'missing'" in capsys.readouterr().err
    assert main([str(tmp_path / "absent.json"), "--match", "mae", "--baseline", BASELINE]) == 2
    assert "absent.json: not a readable results.json" in capsys.readouterr().err
    (tmp_path / "other.json").write_text('{"metrics": 1}')
    assert main([str(tmp_path / "other.json"), "--match", "mae", "--baseline", BASELINE]) == 2
    assert "other.json: no 'candidates'" in capsys.readouterr().err
