"""Classification, binary and multi-label metrics shared by every probe and protocol."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import (
    accuracy_score,
    average_precision_score,
    balanced_accuracy_score,
    f1_score,
    roc_auc_score,
)


def auroc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve; higher scores mean "more positive".

    Args:
        labels: ``[N]`` binary labels (bool, 0/1, or any two values; the larger is positive).
        scores: ``[N]`` real-valued scores.

    Returns:
        The AUROC in ``[0, 1]``: 1 when every positive outranks every negative, 0.5 at chance.

    Raises:
        ValueError: When the shapes differ or ``labels`` does not hold exactly two values.
    """
    labels, scores = np.asarray(labels).ravel(), np.asarray(scores, dtype=np.float64).ravel()
    if labels.shape != scores.shape:
        raise ValueError(f"{labels.shape[0]} labels but {scores.shape[0]} scores")
    values = np.unique(labels)
    if values.size != 2:
        raise ValueError(f"AUROC needs two classes, the labels hold {values.size}")
    return float(roc_auc_score(labels == values[1], scores))


def _positive_scores(y_score: np.ndarray, num_classes: int | None) -> np.ndarray:
    if y_score.ndim == 1:
        return y_score
    if y_score.ndim == 2 and y_score.shape[1] == 2:
        return y_score[:, 1]
    raise ValueError(
        f"a binary task needs scores [N] or [N, 2], got {list(y_score.shape)}"
        + (f" for {num_classes} classes" if num_classes is not None else "")
    )


def classification_metrics(
    y_true: np.ndarray,
    y_pred: np.ndarray,
    y_score: np.ndarray | None = None,
    num_classes: int | None = None,
) -> dict[str, float]:
    """Accuracy, balanced accuracy, macro-F1 and, for binary tasks with scores, AUROC.

    Macro-F1 averages over the classes present in ``y_true`` or ``y_pred``. The task is binary
    when ``num_classes == 2``, or, when ``num_classes`` is None, when ``y_score`` is ``[N]`` or
    ``[N, 2]``. For a binary task the positive class is label 1 (the larger label) and its
    scores are ``y_score`` itself (``[N]``) or its second column (``[N, 2]`` probabilities).

    Args:
        y_true: ``[N]`` true labels.
        y_pred: ``[N]`` predicted labels.
        y_score: Optional scores of the positive class ``[N]`` or class scores ``[N, C]``.
        num_classes: Number of classes of the task, when known.

    Returns:
        ``accuracy``, ``balanced_accuracy``, ``macro_f1`` and, for a binary task with scores,
        ``auroc`` (NaN when ``y_true`` holds a single class, where AUROC is undefined).

    Raises:
        ValueError: On mismatched lengths, scores whose shape does not fit the task, or binary
            scores with labels of more than two classes.
    """
    y_true, y_pred = np.asarray(y_true).ravel(), np.asarray(y_pred).ravel()
    if y_true.shape != y_pred.shape:
        raise ValueError(f"{y_true.shape[0]} true labels but {y_pred.shape[0]} predictions")
    if y_true.size == 0:
        raise ValueError("no samples to score")
    metrics = {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "balanced_accuracy": float(balanced_accuracy_score(y_true, y_pred)),
        "macro_f1": float(f1_score(y_true, y_pred, average="macro")),
    }
    if y_score is None:
        return metrics
    scores = np.asarray(y_score, dtype=np.float64)
    if scores.shape[0] != y_true.shape[0]:
        raise ValueError(f"{y_true.shape[0]} labels but {scores.shape[0]} rows of scores")
    binary = (
        num_classes == 2
        if num_classes is not None
        else scores.ndim == 1 or (scores.ndim == 2 and scores.shape[1] == 2)
    )
    if not binary:
        if scores.ndim != 2 or (num_classes is not None and scores.shape[1] != num_classes):
            raise ValueError(f"scores {list(scores.shape)} do not fit {num_classes} classes")
        return metrics
    positive = _positive_scores(scores, num_classes)
    values = np.unique(y_true)
    if values.size > 2:
        raise ValueError(f"binary scores but the labels hold {values.size} classes")
    metrics["auroc"] = auroc(y_true, positive) if values.size == 2 else float("nan")
    return metrics


def multilabel_metrics(
    y_true: np.ndarray, y_score: np.ndarray, threshold: float = 0.5
) -> dict[str, float]:
    """Mean average precision and micro-F1 of a multi-label task.

    Args:
        y_true: ``[N, C]`` 0/1 (or bool) targets.
        y_score: ``[N, C]`` scores, probabilities when ``threshold`` is to mean anything.
        threshold: A class is predicted present when its score is ``>= threshold``.

    Returns:
        ``mAP``: macro average precision over the classes with at least one positive (classes
        without positives have no defined precision); ``micro_f1`` at ``threshold``.

    Raises:
        ValueError: On shapes that are not the same ``[N, C]``, or no class with a positive.
    """
    targets = np.asarray(y_true).astype(bool)
    scores = np.asarray(y_score, dtype=np.float64)
    if targets.ndim != 2 or targets.shape != scores.shape:
        raise ValueError(f"need [N, C] targets and scores, got {targets.shape} and {scores.shape}")
    scored = targets.any(axis=0)
    if not scored.any():
        raise ValueError("no class has a positive; mAP is undefined")
    precisions = [
        average_precision_score(targets[:, c], scores[:, c]) for c in np.flatnonzero(scored)
    ]
    predicted = scores >= threshold
    return {
        "mAP": float(np.mean(precisions)),
        "micro_f1": float(f1_score(targets, predicted, average="micro", zero_division=0.0)),
    }
