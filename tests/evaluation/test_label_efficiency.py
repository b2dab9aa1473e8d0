"""Label-efficiency: stratified subsets, honest model selection, one fit per distinct subset."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from evaluation.probes.knn import knn_probe_with_val
from evaluation.protocols.label_efficiency import label_efficiency, subsample_labels, summarise

Split = tuple[np.ndarray, np.ndarray]


def imbalanced_labels() -> np.ndarray:
    return np.random.default_rng(0).permutation(np.repeat([0, 1, 2], [200, 50, 3]))


def clusters(n: int, seed: int) -> Split:
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 3, n)
    return np.eye(3, 8)[labels] * 2.5 + rng.normal(size=(n, 8)), labels


@pytest.mark.parametrize(
    ("fraction", "counts"), [(0.01, [2, 1, 1]), (0.1, [20, 5, 1]), (0.5, [100, 25, 2])]
)
def test_fraction_of_each_class_with_at_least_one(fraction: float, counts: list[int]) -> None:
    labels = imbalanced_labels()
    chosen = subsample_labels(labels, fraction, seed=0)
    assert np.bincount(labels[chosen], minlength=3).tolist() == counts
    assert np.all(np.diff(chosen) > 0)  # sorted, no repeats


def test_seeds_decide_the_subset() -> None:
    labels = imbalanced_labels()
    first = subsample_labels(labels, 0.1, seed=0)
    np.testing.assert_array_equal(first, subsample_labels(labels, 0.1, seed=0))
    assert not np.array_equal(first, subsample_labels(labels, 0.1, seed=1))
    np.testing.assert_array_equal(subsample_labels(labels, 1.0, seed=4), np.arange(len(labels)))
    for bad in (0.0, 1.5):
        with pytest.raises(ValueError, match="fraction"):
            subsample_labels(labels, bad, seed=0)


def test_rows_subsample_train_and_val_never_test_and_reuse_full_fraction() -> None:
    train, val, test = clusters(400, 0), clusters(200, 1), clusters(300, 2)
    calls: list[tuple[int, int, int]] = []

    def probe(tr: Split, va: Split, te: Split) -> dict[str, Any]:
        calls.append((len(tr[1]), len(va[1]), len(te[1])))
        assert te[1] is test[1]  # the test split reaches the probe untouched
        return {"accuracy": float(len(tr[1])), "note": "text is dropped", "missing": None}

    rows = label_efficiency(train, val, test, (0.05, 1.0), (0, 1, 2), probe)
    assert [(row["fraction"], row["seed"]) for row in rows] == [
        (f, s) for f in (0.05, 1.0) for s in (0, 1, 2)
    ]
    assert len(calls) == 4  # three subsets at 5%, one shared fit at 100%
    expected_train = len(subsample_labels(train[1], 0.05, 0))
    expected_val = len(subsample_labels(val[1], 0.05, 0))
    assert calls[0] == (expected_train, expected_val, 300)
    assert calls[3] == (400, 200, 300)
    assert rows[0]["num_labels"] == expected_train and rows[0]["num_val_labels"] == expected_val
    assert rows[0]["accuracy"] == expected_train
    assert set(rows[0]) == {"fraction", "seed", "num_labels", "num_val_labels", "accuracy"}
    assert rows[3] == {**rows[4], "seed": 0}


def test_shuffling_test_labels_changes_only_test_metrics() -> None:
    train, val = clusters(300, 0), clusters(150, 1)
    x_test, y_test = clusters(300, 2)
    shuffled_test = (x_test, np.random.default_rng(9).permutation(y_test))
    with threadpool_limits(1):
        honest = label_efficiency(train, val, (x_test, y_test), (0.05, 1.0), (0, 1))
        shuffled = label_efficiency(train, val, shuffled_test, (0.05, 1.0), (0, 1))
    for a, b in zip(honest, shuffled, strict=True):
        for key in ("best_c", "val_accuracy", "num_labels", "num_val_labels"):
            assert a[key] == b[key]
        assert b["accuracy"] < a["accuracy"]
    assert min(row["accuracy"] for row in honest if row["fraction"] == 1.0) > 0.85


def test_summarise_mean_and_sample_spread() -> None:
    rows = [
        {"fraction": 0.1, "seed": 0, "accuracy": 0.5, "num_labels": 10},
        {"fraction": 0.1, "seed": 1, "accuracy": 0.7, "num_labels": 10},
        {"fraction": 1.0, "seed": 0, "accuracy": 0.9, "num_labels": 100},
    ]
    summary = summarise(rows)
    assert list(summary) == [0.1, 1.0]
    mean, std = summary[0.1]["accuracy"]
    assert mean == pytest.approx(0.6) and std == pytest.approx(np.std([0.5, 0.7], ddof=1))
    assert summary[0.1]["num_labels"] == (10.0, 0.0)
    assert summary[1.0] == {"accuracy": (0.9, 0.0), "num_labels": (100.0, 0.0)}


def test_knn_probe_plugs_in() -> None:
    rows = label_efficiency(
        clusters(200, 0), clusters(100, 1), clusters(100, 2), (0.1,), (0,), knn_probe_with_val
    )
    assert rows[0]["k"] in (10.0, 20.0) and 0.0 <= rows[0]["accuracy"] <= 1.0
