"""Figures a person would rather look at than read: label efficiency, confusion, embedding map."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no display needed

import matplotlib.pyplot as plt
import numpy as np
from sklearn.decomposition import PCA
from sklearn.metrics import confusion_matrix


def plot_label_efficiency(
    curves: Mapping[str, Mapping[float, tuple[float, float]]],
    metric: str,
    path: Path,
) -> Path:
    """One line per model: ``metric`` (mean ± std over seeds) against the label fraction.

    Args:
        curves: Model name -> {fraction: (mean, std)}.
        metric: Axis label.
        path: PNG to write.

    Returns:
        ``path``.
    """
    figure, axis = plt.subplots(figsize=(6, 4))
    for name, points in curves.items():
        fractions = sorted(points)
        means = np.array([points[f][0] for f in fractions])
        stds = np.array([points[f][1] for f in fractions])
        axis.errorbar(
            [100 * f for f in fractions], means, yerr=stds, marker="o", capsize=3, label=name
        )
    axis.set_xscale("log")
    ticks = sorted({f for points in curves.values() for f in points})
    axis.set_xticks([100 * f for f in ticks], [f"{100 * f:g}%" for f in ticks])
    axis.minorticks_off()
    axis.set_xlabel("labelled training samples")
    axis.set_ylabel(metric)
    axis.grid(alpha=0.3)
    axis.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return path


def plot_confusion(
    y_true: np.ndarray, y_pred: np.ndarray, class_names: Sequence[str], title: str, path: Path
) -> Path:
    """Row-normalised confusion matrix with counts in each cell."""
    labels = np.arange(len(class_names))
    counts = confusion_matrix(y_true, y_pred, labels=labels)
    rates = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    size = max(4.0, 0.6 * len(class_names) + 2)
    figure, axis = plt.subplots(figsize=(size, size))
    axis.imshow(rates, cmap="Blues", vmin=0, vmax=1)
    for i in range(len(class_names)):
        for j in range(len(class_names)):
            color = "white" if rates[i, j] > 0.5 else "black"
            axis.text(j, i, str(counts[i, j]), ha="center", va="center", fontsize=7, color=color)
    axis.set_xticks(labels, class_names, rotation=45, ha="right", fontsize=8)
    axis.set_yticks(labels, class_names, fontsize=8)
    axis.set_xlabel("predicted")
    axis.set_ylabel("true")
    axis.set_title(title, fontsize=9)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return path


def plot_embedding_map(
    embeddings: np.ndarray,
    labels: np.ndarray,
    class_names: Sequence[str],
    title: str,
    path: Path,
    max_points: int = 5000,
    seed: int = 0,
) -> Path:
    """2-D PCA of the embeddings, coloured by class (a random subset if there are many)."""
    rng = np.random.default_rng(seed)
    if len(embeddings) > max_points:
        keep = rng.choice(len(embeddings), max_points, replace=False)
        embeddings, labels = embeddings[keep], labels[keep]
    points = PCA(n_components=2, random_state=seed).fit_transform(embeddings)
    figure, axis = plt.subplots(figsize=(6, 5))
    cmap = plt.get_cmap("tab10" if len(class_names) <= 10 else "tab20")
    for index, name in enumerate(class_names):
        chosen = labels == index
        if chosen.any():
            axis.scatter(
                points[chosen, 0],
                points[chosen, 1],
                s=6,
                alpha=0.7,
                color=cmap(index % cmap.N),
                label=name,
            )
    axis.set_title(title, fontsize=9)
    axis.set_xticks([])
    axis.set_yticks([])
    axis.legend(fontsize=7, markerscale=2, loc="best")
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return path
