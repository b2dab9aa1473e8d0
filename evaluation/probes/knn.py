"""Weighted k-nearest-neighbour probe on cosine similarity (DINO's evaluation protocol)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from evaluation.metrics import classification_metrics
from evaluation.protocols.similarity import similarity_search

Split = tuple[np.ndarray, np.ndarray]


def _classes(labels: Sequence[np.ndarray], num_classes: int | None) -> np.ndarray:
    if num_classes is None:
        return np.unique(np.concatenate([np.asarray(y).ravel() for y in labels]))
    for y in labels:
        if np.any((np.asarray(y) < 0) | (np.asarray(y) >= num_classes)):
            raise ValueError(f"labels must lie in [0, {num_classes}) when num_classes is set")
    return np.arange(num_classes)


def _vote(
    sims: np.ndarray, neighbour_columns: np.ndarray, temperature: float, num_classes: int
) -> np.ndarray:
    """``[M, C]`` class probabilities: neighbour weights ``exp(sim / T)`` summed per class."""
    sims_t = torch.from_numpy(sims).double()
    # Subtracting each row's best similarity rescales a row's weights, never their ratios.
    weights = ((sims_t - sims_t[:, :1]) / temperature).exp()
    votes = torch.zeros(sims.shape[0], num_classes, dtype=torch.float64)
    votes.scatter_add_(1, torch.from_numpy(neighbour_columns), weights)
    return (votes / votes.sum(dim=1, keepdim=True)).numpy()


def _score(probabilities: np.ndarray, labels: np.ndarray, classes: np.ndarray) -> dict[str, float]:
    predicted = classes[probabilities.argmax(axis=1)]
    scores = probabilities if classes.size == 2 else None
    return classification_metrics(labels, predicted, scores, num_classes=classes.size)


@torch.no_grad()
def knn_predict(
    train: Split,
    queries: np.ndarray,
    k: int = 20,
    temperature: float = 0.07,
    num_classes: int | None = None,
    batch_size: int | None = None,
    device: str | torch.device | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Predicted labels and vote shares of the weighted kNN rule of :func:`knn_probe`.

    Args:
        train: ``(features [N, D], labels [N])`` of the labelled bank.
        queries: ``[M, D]`` embeddings to classify.
        k: Neighbours per query; clamped to ``N`` when the bank is smaller.
        temperature: Softmax temperature of the vote weights, ``> 0``.
        num_classes: Number of classes (labels then lie in ``[0, num_classes)``); by default
            the labels seen in ``train``.
        batch_size: Query rows per similarity block; by default a 128 MiB block.
        device: Where to compute similarities; defaults to CUDA when available.

    Returns:
        ``(predictions [M], probabilities [M, C], classes [C])``: column ``j`` of the
        normalised votes belongs to ``classes[j]``.

    Raises:
        ValueError: On ``k < 1``, a non-positive temperature, or labels outside
            ``[0, num_classes)``.
    """
    if k < 1 or temperature <= 0:
        raise ValueError(f"need k >= 1 and temperature > 0, got k={k}, temperature={temperature}")
    y_train = np.asarray(train[1]).ravel()
    classes = _classes([y_train], num_classes)
    k = min(k, y_train.shape[0])
    indices, sims = similarity_search(train[0], queries, k, batch_size, device)
    probabilities = _vote(
        sims, np.searchsorted(classes, y_train)[indices], temperature, classes.size
    )
    return classes[probabilities.argmax(axis=1)], probabilities, classes


def knn_probe(
    train: Split,
    test: Split,
    k: int = 20,
    temperature: float = 0.07,
    num_classes: int | None = None,
    batch_size: int | None = None,
    device: str | torch.device | None = None,
) -> dict[str, float]:
    """Classify each test embedding by a similarity-weighted vote of its ``k`` nearest neighbours.

    As in DINO (Caron et al., 2021): cosine similarity to every training embedding, the ``k``
    most similar vote for their class with weight ``exp(sim / temperature)``, the prediction is
    the class with the largest summed vote (ties go to the smaller class). The similarity
    matrix is built one block of test rows at a time (see :func:`similarity_search`).

    Args:
        train: ``(features [N, D], labels [N])`` of the labelled bank.
        test: ``(features [M, D], labels [M])`` to classify and score.
        k: Neighbours per query; clamped to ``N`` when the bank is smaller.
        temperature: Softmax temperature of the vote weights.
        num_classes: Number of classes (labels then lie in ``[0, num_classes)``); by default
            the labels seen in ``train`` or ``test``.
        batch_size: Test rows per similarity block; by default a 128 MiB block.
        device: Where to compute similarities; defaults to CUDA when available.

    Returns:
        :func:`~evaluation.metrics.classification_metrics` of the test split (with ``auroc``
        from the normalised votes when the task is binary) and the ``k`` used.

    Raises:
        ValueError: On ``k < 1``, a non-positive temperature, or labels outside
            ``[0, num_classes)``.
    """
    return knn_probe_with_val(train, None, test, (k,), temperature, num_classes, batch_size, device)


def knn_probe_with_val(
    train: Split,
    val: Split | None,
    test: Split,
    ks: Sequence[int] = (10, 20, 50),
    temperature: float = 0.07,
    num_classes: int | None = None,
    batch_size: int | None = None,
    device: str | torch.device | None = None,
) -> dict[str, float]:
    """:func:`knn_probe` with ``k`` chosen on validation accuracy, then scored once on test.

    Neighbours are searched once for the largest ``k``; smaller ``k`` reuse the prefix. Ties
    in validation accuracy go to the smaller ``k``. The test split is never used for the choice.

    Args:
        train: ``(features [N, D], labels [N])`` of the labelled bank.
        val: ``(features, labels)`` to choose ``k``; None requires a single candidate.
        test: ``(features, labels)`` to report.
        ks: Candidate neighbour counts (each clamped to ``N``).
        temperature: Softmax temperature of the vote weights.
        num_classes: As in :func:`knn_probe`.
        batch_size: As in :func:`knn_probe`.
        device: As in :func:`knn_probe`.

    Returns:
        Test metrics with the chosen ``k``, plus ``k`` and (with ``val``) ``val_accuracy``.

    Raises:
        ValueError: On an empty or non-positive ``ks``, several ``ks`` without ``val``, or a
            non-positive temperature.
    """
    if not ks or min(ks) < 1:
        raise ValueError(f"ks must be positive neighbour counts, got {tuple(ks)}")
    if temperature <= 0:
        raise ValueError(f"temperature must be positive, got {temperature}")
    x_train, y_train = train[0], np.asarray(train[1]).ravel()
    candidates = sorted({min(k, y_train.shape[0]) for k in ks})
    if val is None and len(candidates) > 1:
        raise ValueError("choosing among several k needs a validation split")
    splits = [y_train, test[1]] if val is None else [y_train, val[1], test[1]]
    classes = _classes(splits, num_classes)
    columns = np.searchsorted(classes, y_train)

    def probabilities(found: tuple[np.ndarray, np.ndarray], k: int) -> np.ndarray:
        indices, sims = found
        return _vote(sims[:, :k], columns[indices[:, :k]], temperature, classes.size)

    k_max = candidates[-1]
    result: dict[str, float] = {}
    best_k = candidates[0]
    if val is not None:
        found = similarity_search(x_train, val[0], k_max, batch_size, device)
        accuracies = [
            (_score(probabilities(found, k), val[1], classes)["accuracy"], -k) for k in candidates
        ]
        val_accuracy, negative_k = max(accuracies)
        best_k = -negative_k
        result["val_accuracy"] = val_accuracy
    found = similarity_search(x_train, test[0], best_k, batch_size, device)
    metrics = _score(probabilities(found, best_k), test[1], classes)
    return {**metrics, "k": float(best_k), **result}
