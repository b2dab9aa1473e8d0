"""Anomaly detection by distance to the nearest normal training embeddings."""

from __future__ import annotations

import numpy as np
import torch

from evaluation.metrics import auroc
from evaluation.protocols.similarity import similarity_search


def knn_anomaly_scores(
    train_normal: np.ndarray,
    test: np.ndarray,
    k: int = 5,
    batch_size: int | None = None,
    device: str | torch.device | None = None,
) -> np.ndarray:
    """Mean cosine distance of each test embedding to its ``k`` nearest normal embeddings.

    Args:
        train_normal: ``[N, D]`` embeddings of normal training samples only.
        test: ``[M, D]`` embeddings to score.
        k: Neighbours averaged, ``1 <= k <= N``.
        batch_size: Test rows per similarity block; by default a 128 MiB block.
        device: Where to compute; defaults to CUDA when available.

    Returns:
        ``[M]`` float64 scores in ``[0, 2]``; higher means more anomalous.

    Raises:
        ValueError: When ``k`` is out of range or the widths differ.
    """
    _, sims = similarity_search(train_normal, test, k, batch_size, device)
    return (1.0 - sims.astype(np.float64)).mean(axis=1)


def anomaly_auroc(
    train_normal: np.ndarray,
    test: np.ndarray,
    is_anomaly: np.ndarray,
    k: int = 5,
    batch_size: int | None = None,
    device: str | torch.device | None = None,
) -> float:
    """AUROC of :func:`knn_anomaly_scores` at separating anomalies from normal test samples.

    Args:
        train_normal: ``[N, D]`` embeddings of normal training samples only.
        test: ``[M, D]`` embeddings of normal and anomalous samples.
        is_anomaly: ``[M]`` bool (or 0/1), True for anomalies.
        k: Neighbours averaged.
        batch_size: As in :func:`knn_anomaly_scores`.
        device: As in :func:`knn_anomaly_scores`.

    Returns:
        The AUROC: 1 when every anomaly lies farther from the normal data than every normal
        test sample, 0.5 at chance.

    Raises:
        ValueError: When ``is_anomaly`` does not hold both anomalies and normal samples.
    """
    labels = np.asarray(is_anomaly).astype(bool)
    if labels.all() or not labels.any():
        raise ValueError("is_anomaly must mark both anomalies and normal samples")
    return auroc(labels, knn_anomaly_scores(train_normal, test, k, batch_size, device))
