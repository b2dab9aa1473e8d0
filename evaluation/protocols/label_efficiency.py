"""Few-shot label efficiency: probe with a fraction of the labels, several random subsets."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from evaluation.probes.linear import linear_probe

Split = tuple[np.ndarray, np.ndarray]
Probe = Callable[[Split, Split, Split], Any]

#: Row keys that describe the run rather than measure it; :func:`summarise` skips them.
BOOKKEEPING = ("fraction", "seed")


def subsample_labels(labels: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """Stratified subset of sample indices holding ``fraction`` of each class.

    Class ``c`` with ``n_c`` samples keeps ``max(1, floor(fraction * n_c + 0.5))`` of them
    (rounded half up, at least one, so 1% of a class of 30 still keeps one). The same seed
    gives the same subset; different seeds give different random subsets. ``fraction == 1``
    keeps everything whatever the seed.

    Args:
        labels: ``[N]`` class labels.
        fraction: Share of each class to keep, in ``(0, 1]``.
        seed: Seed of the random choice.

    Returns:
        Sorted ``int64`` indices into ``labels``.

    Raises:
        ValueError: When ``labels`` is not one-dimensional or ``fraction`` is outside
            ``(0, 1]``.
    """
    labels = np.asarray(labels)
    if labels.ndim != 1:
        raise ValueError(f"labels must be [N] class labels, got shape {labels.shape}")
    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"fraction must lie in (0, 1], got {fraction}")
    if fraction == 1.0:
        return np.arange(labels.shape[0], dtype=np.int64)
    rng = np.random.default_rng(seed)
    chosen = []
    for value in np.unique(labels):
        members = np.flatnonzero(labels == value)
        count = min(members.size, max(1, math.floor(fraction * members.size + 0.5)))
        chosen.append(rng.choice(members, size=count, replace=False))
    return np.sort(np.concatenate(chosen)).astype(np.int64)


def _metrics(result: Any) -> dict[str, float]:
    """Numeric entries of a probe's result (a dataclass or a mapping); None values dropped."""
    if dataclasses.is_dataclass(result) and not isinstance(result, type):
        result = dataclasses.asdict(result)
    if not isinstance(result, Mapping):
        raise TypeError(f"a probe must return a dataclass or a mapping, got {type(result)}")
    return {
        str(key): float(value)
        for key, value in result.items()
        if isinstance(value, int | float | np.number) and not isinstance(value, bool)
    }


def label_efficiency(
    train: Split,
    val: Split,
    test: Split,
    fractions: Sequence[float] = (0.01, 0.1, 1.0),
    seeds: Sequence[int] = (0, 1, 2),
    probe: Probe = linear_probe,
) -> list[dict[str, float]]:
    """Probe on stratified label subsets: one row per ``(fraction, seed)``.

    Both ``train`` and the validation split used for model selection are subsampled to the
    same fraction with :func:`subsample_labels` (at least one sample of each class present),
    because a few-shot user would not have a full labelled validation set either. The test
    split is never subsampled and never used for any choice: it is only passed to ``probe``,
    whose job is to score it once.

    The probe is called once per distinct labelled subset. Rows whose train and validation
    subsets equal an earlier row's (always the case at fraction 1, where every seed keeps all
    labels) copy that row's metrics instead of refitting, so a deterministic probe's seed
    spread at fraction 1 is exactly 0 and costs one fit.

    Args:
        train: ``(features [N, D], labels [N])``.
        val: ``(features, labels)`` for the probe's model selection.
        test: ``(features, labels)`` for the reported metrics.
        fractions: Shares of labels to keep, each in ``(0, 1]``.
        seeds: One random subset per seed.
        probe: ``probe(train, val, test)`` returning a dataclass or mapping of metrics, such
            as :func:`~evaluation.probes.linear.linear_probe` or
            :func:`~evaluation.probes.knn.knn_probe_with_val`.

    Returns:
        Rows with ``fraction``, ``seed``, ``num_labels`` (training labels used),
        ``num_val_labels`` and every numeric field of the probe's result.

    Raises:
        ValueError: On an empty ``fractions`` or ``seeds``, or a fraction outside ``(0, 1]``.
    """
    if not fractions or not seeds:
        raise ValueError("label_efficiency needs at least one fraction and one seed")
    rows: list[dict[str, float]] = []
    done: dict[tuple[bytes, bytes], dict[str, float]] = {}
    for fraction in fractions:
        for seed in seeds:
            train_idx = subsample_labels(train[1], fraction, seed)
            val_idx = subsample_labels(val[1], fraction, seed)
            key = (train_idx.tobytes(), val_idx.tobytes())
            if key not in done:
                result = probe(
                    (train[0][train_idx], train[1][train_idx]),
                    (val[0][val_idx], val[1][val_idx]),
                    test,
                )
                done[key] = _metrics(result)
            rows.append(
                {
                    "fraction": float(fraction),
                    "seed": seed,
                    "num_labels": int(train_idx.size),
                    "num_val_labels": int(val_idx.size),
                    **done[key],
                }
            )
    return rows


def summarise(rows: Sequence[Mapping[str, float]]) -> dict[float, dict[str, tuple[float, float]]]:
    """Mean and spread over seeds of every measured quantity, per fraction.

    Args:
        rows: Rows as :func:`label_efficiency` returns them.

    Returns:
        ``{fraction: {metric: (mean, std)}}`` in the order fractions first appear, for every
        key present in all rows of that fraction except ``fraction`` and ``seed``. ``std`` is
        the sample standard deviation (``ddof=1``), 0 for a single row.
    """
    groups: dict[float, list[Mapping[str, float]]] = {}
    for row in rows:
        groups.setdefault(float(row["fraction"]), []).append(row)
    summary: dict[float, dict[str, tuple[float, float]]] = {}
    for fraction, group in groups.items():
        keys = [key for key in group[0] if key not in BOOKKEEPING and all(key in r for r in group)]
        summary[fraction] = {}
        for key in keys:
            values = np.array([row[key] for row in group], dtype=np.float64)
            spread = float(values.std(ddof=1)) if values.size > 1 else 0.0
            summary[fraction][key] = (float(values.mean()), spread)
    return summary
