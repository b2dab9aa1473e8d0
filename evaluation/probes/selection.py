"""How probes pick their hyper-parameter on the validation split, and how they weight classes."""

from __future__ import annotations

from typing import Literal

import numpy as np
from sklearn.metrics import accuracy_score, f1_score

SelectOn = Literal["accuracy", "macro_f1"]
"""Validation metric that chooses a probe's hyper-parameter."""

ClassWeight = Literal["balanced"] | None
"""``"balanced"`` weights each class inversely to its training frequency (scikit-learn's
convention), so that rare classes count as much as common ones; ``None`` weights samples
equally."""


def selection_score(select_on: SelectOn, labels: np.ndarray, predicted: np.ndarray) -> float:
    """Validation score of one candidate probe.

    Args:
        select_on: ``"accuracy"``, or ``"macro_f1"`` for imbalanced classes where the rare ones
            matter as much as the common ones.
        labels: True validation labels.
        predicted: The candidate's validation predictions.

    Returns:
        The score; higher is better.

    Raises:
        ValueError: On an unknown ``select_on``.
    """
    if select_on == "accuracy":
        return float(accuracy_score(labels, predicted))
    if select_on == "macro_f1":
        return float(f1_score(labels, predicted, average="macro", zero_division=0))
    raise ValueError(f"select_on must be 'accuracy' or 'macro_f1', got {select_on!r}")
