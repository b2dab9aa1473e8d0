"""Gradient-boosted trees on hand-made features: the classical baselines' classifier."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import accuracy_score

from evaluation.metrics import classification_metrics
from evaluation.probes.selection import ClassWeight, SelectOn, selection_score

Split = tuple[np.ndarray, np.ndarray]


def boosting_probe(
    train: Split,
    val: Split,
    test: Split,
    learning_rates: Sequence[float] = (0.05, 0.1, 0.2),
    seed: int = 0,
    select_on: SelectOn = "accuracy",
    class_weight: ClassWeight = None,
) -> dict[str, float]:
    """scikit-learn's histogram gradient boosting, learning rate chosen on ``val``.

    The field's classical pipelines (Lomb-Scargle periods + gradient boosting for light curves,
    per-pixel spectra + trees for rasters) pair hand-made features with trees rather than a
    linear model. 200 boosting iterations, no early stopping (it would hold out part of
    ``train``), ties in the validation score go to the smaller learning rate; the chosen
    model scores ``test`` once.

    Args:
        train: ``(features, labels)`` to fit.
        val: ``(features, labels)`` to choose the learning rate.
        test: ``(features, labels)`` to report.
        learning_rates: Candidates.
        seed: Model seed.
        select_on: Validation metric that chooses the learning rate.
        class_weight: ``"balanced"`` to weight classes inversely to their frequency.

    Returns:
        Test metrics (accuracy, balanced accuracy, macro-F1, AUROC when binary) plus
        ``learning_rate``, ``val_accuracy`` and ``val_score`` (its validation ``select_on``).
    """
    scored = []
    for rate in learning_rates:
        model = HistGradientBoostingClassifier(
            learning_rate=rate,
            max_iter=200,
            early_stopping=False,
            random_state=seed,
            class_weight=class_weight,
        ).fit(*train)
        predicted = model.predict(val[0])
        score = selection_score(select_on, val[1], predicted)
        scored.append((score, -rate, rate, model, accuracy_score(val[1], predicted)))
    val_score, _, rate, best, val_accuracy = max(scored, key=lambda item: item[:2])
    binary = len(best.classes_) == 2
    metrics = classification_metrics(
        test[1],
        best.predict(test[0]),
        best.predict_proba(test[0]) if binary else None,
        num_classes=2 if binary else None,
    )
    return {
        **metrics,
        "learning_rate": float(rate),
        "val_accuracy": float(val_accuracy),
        "val_score": float(val_score),
    }
