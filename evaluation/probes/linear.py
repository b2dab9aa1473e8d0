"""Linear probe: standardised features, L2-regularised logistic regression (scikit-learn)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score
from sklearn.multiclass import OneVsRestClassifier
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from evaluation.metrics import classification_metrics, multilabel_metrics
from evaluation.probes.selection import ClassWeight, SelectOn, selection_score

DEFAULT_C_GRID = (0.001, 0.01, 0.1, 1.0, 10.0)

Split = tuple[np.ndarray, np.ndarray]


@dataclass
class LinearProbeResult:
    """Test metrics of the probe whose regularisation won on the validation split.

    ``auroc`` is None unless the probe was trained on exactly two classes and the test split
    holds both of them.
    """

    accuracy: float
    balanced_accuracy: float
    macro_f1: float
    best_c: float
    val_accuracy: float
    auroc: float | None = None
    val_score: float | None = None


@dataclass
class MultilabelProbeResult:
    """Test metrics of the one-vs-rest probe whose regularisation won on validation mAP."""

    mAP: float
    micro_f1: float
    best_c: float
    val_mAP: float


def _fit(
    c: float, x: np.ndarray, y: np.ndarray, seed: int, class_weight: ClassWeight = None
) -> Pipeline:
    classifier = LogisticRegression(
        C=c, max_iter=2000, random_state=seed, class_weight=class_weight
    )
    return make_pipeline(StandardScaler(), classifier).fit(x, y)


def _fit_multilabel(c: float, x: np.ndarray, y: np.ndarray, seed: int) -> Pipeline:
    classifier = LogisticRegression(C=c, max_iter=2000, random_state=seed)
    return make_pipeline(StandardScaler(), OneVsRestClassifier(classifier)).fit(x, y)


def linear_probe(
    train: Split,
    val: Split,
    test: Split,
    c_grid: Sequence[float] = DEFAULT_C_GRID,
    seed: int = 0,
    select_on: SelectOn = "accuracy",
    class_weight: ClassWeight = None,
) -> LinearProbeResult:
    """Choose the inverse regularisation ``C`` on ``val``, then score once on ``test``.

    The test split is never used for any choice; the chosen model is the one fitted on
    ``train`` (no refit on train+val, so the validation score stays an honest estimate).
    Ties in the validation score go to the smaller ``C`` (the stronger regularisation).

    Args:
        train: ``(features, labels)`` to fit.
        val: ``(features, labels)`` to choose ``C``.
        test: ``(features, labels)`` to report.
        c_grid: Candidate values of ``C``.
        seed: Solver seed.
        select_on: Validation metric that chooses ``C``.
        class_weight: ``"balanced"`` to weight classes inversely to their frequency.

    Returns:
        Test accuracy, balanced accuracy, macro-F1 and (binary tasks) AUROC with the chosen
        ``C``; ``val_score`` is its validation ``select_on``.
    """
    scored = []
    for c in c_grid:
        model = _fit(c, *train, seed, class_weight)
        predicted = model.predict(val[0])
        score = selection_score(select_on, val[1], predicted)
        scored.append((score, c, model, accuracy_score(val[1], predicted)))
    val_score, best_c, best, val_accuracy = max(scored, key=lambda item: (item[0], -item[1]))
    binary = len(best.classes_) == 2
    metrics = classification_metrics(
        test[1],
        best.predict(test[0]),
        best.predict_proba(test[0]) if binary else None,
        num_classes=2 if binary else None,
    )
    auroc = metrics.get("auroc")
    return LinearProbeResult(
        accuracy=metrics["accuracy"],
        balanced_accuracy=metrics["balanced_accuracy"],
        macro_f1=metrics["macro_f1"],
        best_c=float(best_c),
        val_accuracy=float(val_accuracy),
        auroc=None if auroc is None or math.isnan(auroc) else auroc,
        val_score=float(val_score),
    )


def predict_linear(
    train: Split,
    test_features: np.ndarray,
    c: float,
    seed: int = 0,
    class_weight: ClassWeight = None,
) -> np.ndarray:
    """Test predictions of the probe fitted on ``train`` with a given ``C`` (e.g. the one
    :func:`linear_probe` chose), for confusion matrices."""
    return np.asarray(_fit(c, *train, seed, class_weight).predict(test_features))


def linear_probe_multilabel(
    train: Split,
    val: Split,
    test: Split,
    c_grid: Sequence[float] = DEFAULT_C_GRID,
    seed: int = 0,
    threshold: float = 0.5,
) -> MultilabelProbeResult:
    """One-vs-rest logistic regression per class; ``C`` chosen on validation mAP.

    Labels are ``[N, C]`` 0/1 matrices. As in :func:`linear_probe`, the test split is only
    scored, the chosen model is the one fitted on ``train``, and ties go to the smaller ``C``.
    A class that is constant in ``train`` gets a constant predictor (scikit-learn warns).

    Args:
        train: ``(features, targets [N, C])`` to fit.
        val: ``(features, targets [N, C])`` to choose ``C``; needs a positive of some class.
        test: ``(features, targets [N, C])`` to report.
        c_grid: Candidate values of ``C``, shared by all classes.
        seed: Solver seed.
        threshold: Probability at which a class counts as predicted, for micro-F1.

    Returns:
        Test mAP and micro-F1 with the chosen ``C``, and the winning validation mAP.

    Raises:
        ValueError: When the targets are not ``[N, C]`` matrices.
    """
    for name, (_, targets) in {"train": train, "val": val, "test": test}.items():
        if np.ndim(targets) != 2:
            raise ValueError(f"{name} targets must be [N, C], got shape {np.shape(targets)}")
    scored = []
    for c in c_grid:
        model = _fit_multilabel(c, *train, seed)
        val_map = multilabel_metrics(val[1], model.predict_proba(val[0]), threshold)["mAP"]
        scored.append((val_map, c, model))
    val_map, best_c, best = max(scored, key=lambda item: (item[0], -item[1]))
    metrics = multilabel_metrics(test[1], best.predict_proba(test[0]), threshold)
    return MultilabelProbeResult(
        mAP=metrics["mAP"],
        micro_f1=metrics["micro_f1"],
        best_c=float(best_c),
        val_mAP=float(val_map),
    )
