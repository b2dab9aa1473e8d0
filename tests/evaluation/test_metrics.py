"""Metrics and the refactored linear probes give known answers."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.metrics import average_precision_score
from threadpoolctl import threadpool_limits

from evaluation.metrics import auroc, classification_metrics, multilabel_metrics
from evaluation.probes.linear import linear_probe, linear_probe_multilabel


def test_auroc_of_perfect_inverted_and_constant_scores() -> None:
    labels = np.array([0, 0, 1, 1, 0, 1])
    scores = np.array([0.1, 0.2, 0.8, 0.9, 0.3, 0.7])
    assert auroc(labels, scores) == 1.0
    assert auroc(labels, -scores) == 0.0
    assert auroc(labels, np.zeros(6)) == 0.5
    assert auroc(labels.astype(bool), scores) == 1.0
    with pytest.raises(ValueError, match="two classes"):
        auroc(np.ones(4), np.arange(4.0))


def test_classification_metrics_known_values() -> None:
    y_true = np.array([0, 0, 1, 1, 2, 2])
    y_pred = np.array([0, 1, 1, 1, 2, 0])
    metrics = classification_metrics(y_true, y_pred)
    assert metrics["accuracy"] == pytest.approx(4 / 6)
    assert metrics["balanced_accuracy"] == pytest.approx((0.5 + 1.0 + 0.5) / 3)
    assert metrics["macro_f1"] == pytest.approx((0.5 + 0.8 + 2 / 3) / 3)
    assert "auroc" not in metrics
    assert "auroc" not in classification_metrics(y_true, y_pred, np.ones((6, 3)) / 3)


@pytest.mark.filterwarnings("ignore:A single label was found")
def test_binary_auroc_from_scores_or_two_column_probabilities() -> None:
    y_true = np.array([0, 1, 0, 1, 1, 0])
    positive = np.array([0.2, 0.9, 0.6, 0.4, 0.8, 0.1])
    y_pred = (positive > 0.5).astype(int)
    from_scores = classification_metrics(y_true, y_pred, positive)
    from_probs = classification_metrics(y_true, y_pred, np.stack([1 - positive, positive], 1))
    assert from_scores["auroc"] == from_probs["auroc"] == pytest.approx(8 / 9)
    single_class = classification_metrics(np.ones(3), np.ones(3), np.array([0.1, 0.5, 0.9]))
    assert math.isnan(single_class["auroc"])
    with pytest.raises(ValueError, match="binary"):
        classification_metrics(y_true, y_pred, np.ones((6, 3)), num_classes=2)


def test_multilabel_map_matches_sklearn_and_skips_classes_without_positives() -> None:
    rng = np.random.default_rng(0)
    y_true = (rng.random((40, 4)) < 0.3).astype(int)
    y_true[0, :] = 1  # every class has a positive
    y_score = rng.random((40, 4))
    expected = average_precision_score(y_true, y_score, average="macro")
    assert multilabel_metrics(y_true, y_score)["mAP"] == pytest.approx(expected)
    y_true[:, 2] = 0
    kept = [0, 1, 3]
    expected = average_precision_score(y_true[:, kept], y_score[:, kept], average="macro")
    assert multilabel_metrics(y_true, y_score)["mAP"] == pytest.approx(expected)


def test_multilabel_micro_f1_at_half() -> None:
    y_true = np.array([[1, 0], [1, 1], [0, 0]])
    y_score = np.array([[0.9, 0.6], [0.4, 0.7], [0.1, 0.2]])
    # true positives 2, false positive 1, false negative 1 -> F1 = 4 / 6
    assert multilabel_metrics(y_true, y_score)["micro_f1"] == pytest.approx(2 / 3)
    perfect = multilabel_metrics(y_true, y_true.astype(float))
    assert perfect == {"mAP": 1.0, "micro_f1": 1.0}


def binary_clusters(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, n)
    return rng.normal(size=(n, 6)) + 4.0 * labels[:, None], labels


def test_linear_probe_reports_auroc_for_binary_tasks_only() -> None:
    rng = np.random.default_rng(0)

    def three_classes() -> tuple[np.ndarray, np.ndarray]:
        return rng.normal(size=(60, 4)), np.arange(60) % 3

    with threadpool_limits(1):
        binary = linear_probe(
            binary_clusters(200, 0), binary_clusters(80, 1), binary_clusters(200, 2)
        )
        multiclass = linear_probe(three_classes(), three_classes(), three_classes())
    assert binary.auroc is not None and binary.auroc > 0.99
    assert multiclass.auroc is None


def multilabel_data(n: int, seed: int, informative: bool) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 8))
    signal = x[:, :3] if informative else rng.normal(size=(n, 3))
    return x, (signal + 0.2 * rng.normal(size=(n, 3)) > 0.0).astype(int)


def test_multilabel_probe_learns_structure_and_not_noise() -> None:
    with threadpool_limits(1):
        learned = linear_probe_multilabel(
            multilabel_data(300, 0, True),
            multilabel_data(100, 1, True),
            multilabel_data(300, 2, True),
        )
        noise = linear_probe_multilabel(
            multilabel_data(300, 0, False),
            multilabel_data(100, 1, False),
            multilabel_data(300, 2, False),
        )
    assert learned.mAP > 0.95 and learned.micro_f1 > 0.85
    assert noise.mAP < 0.65  # half of each class is positive: chance mAP is about 0.5


def test_multilabel_probe_chooses_c_without_test_labels() -> None:
    train, val = multilabel_data(200, 0, True), multilabel_data(80, 1, True)
    x_test, y_test = multilabel_data(200, 2, True)
    with threadpool_limits(1):
        honest = linear_probe_multilabel(train, val, (x_test, y_test))
        shuffled_rows = np.random.default_rng(3).permutation(len(y_test))
        shuffled = linear_probe_multilabel(train, val, (x_test, y_test[shuffled_rows]))
    assert (honest.best_c, honest.val_mAP) == (shuffled.best_c, shuffled.val_mAP)
    assert shuffled.mAP < honest.mAP
    with pytest.raises(ValueError, match=r"\[N, C\]"):
        linear_probe_multilabel(train, val, (x_test, y_test[:, 0]))
