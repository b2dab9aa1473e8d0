"""Linear probe: standardised features, L2-regularised logistic regression (scikit-learn)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, balanced_accuracy_score, f1_score
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

DEFAULT_C_GRID = (0.001, 0.01, 0.1, 1.0, 10.0)


@dataclass
class LinearProbeResult:
    """Test metrics of the probe whose regularisation won on the validation split."""

    accuracy: float
    balanced_accuracy: float
    macro_f1: float
    best_c: float
    val_accuracy: float


def _fit(c: float, x: np.ndarray, y: np.ndarray, seed: int) -> Pipeline:
    model = make_pipeline(
        StandardScaler(), LogisticRegression(C=c, max_iter=2000, random_state=seed)
    )
    return model.fit(x, y)


def linear_probe(
    train: tuple[np.ndarray, np.ndarray],
    val: tuple[np.ndarray, np.ndarray],
    test: tuple[np.ndarray, np.ndarray],
    c_grid: Sequence[float] = DEFAULT_C_GRID,
    seed: int = 0,
) -> LinearProbeResult:
    """Choose the inverse regularisation ``C`` on ``val``, then score once on ``test``.

    The test split is never used for any choice; the chosen model is the one fitted on
    ``train`` (no refit on train+val, so the validation score stays an honest estimate).

    Args:
        train: ``(features, labels)`` to fit.
        val: ``(features, labels)`` to choose ``C``.
        test: ``(features, labels)`` to report.
        c_grid: Candidate values of ``C``.
        seed: Solver seed.

    Returns:
        Test accuracy, balanced accuracy and macro-F1 with the chosen ``C``.
    """
    scored = []
    for c in c_grid:
        model = _fit(c, *train, seed)
        scored.append((accuracy_score(val[1], model.predict(val[0])), c, model))
    val_accuracy, best_c, best = max(scored, key=lambda item: (item[0], -item[1]))
    predicted = best.predict(test[0])
    return LinearProbeResult(
        accuracy=float(accuracy_score(test[1], predicted)),
        balanced_accuracy=float(balanced_accuracy_score(test[1], predicted)),
        macro_f1=float(f1_score(test[1], predicted, average="macro")),
        best_c=float(best_c),
        val_accuracy=float(val_accuracy),
    )
