"""Train/val/test splits that keep correlated samples (a patient, a star, a place) together."""

from __future__ import annotations

import numpy as np

Splits = tuple[np.ndarray, np.ndarray, np.ndarray]


def check_fractions(val_fraction: float, test_fraction: float) -> None:
    """Raise ``ValueError`` unless both fractions are >= 0 and leave samples for training."""
    if val_fraction < 0 or test_fraction < 0 or val_fraction + test_fraction >= 1:
        raise ValueError(
            f"need val_fraction, test_fraction >= 0 with a sum below 1 (training keeps the "
            f"rest), got {val_fraction} and {test_fraction}"
        )


def _sorted(indices: np.ndarray) -> np.ndarray:
    return np.sort(indices).astype(np.int64)


def random_split(n: int, val_fraction: float, test_fraction: float, seed: int) -> Splits:
    """Split ``n`` independent samples at random.

    Val and test get ``round(fraction * n)`` samples each (at least one when their fraction
    is positive); training keeps the rest.

    Args:
        n: Number of samples.
        val_fraction: Share of samples for validation, ``>= 0``.
        test_fraction: Share of samples for test, ``>= 0``.
        seed: Seed of the shuffle.

    Returns:
        Sorted ``int64`` ``(train_idx, val_idx, test_idx)``, disjoint, covering ``range(n)``.

    Raises:
        ValueError: On fractions that leave nothing to train on, or too few samples for
            every requested split to get one.
    """
    check_fractions(val_fraction, test_fraction)
    sizes = [max(int(f > 0), round(f * n)) for f in (val_fraction, test_fraction)]
    if n - sum(sizes) < 1:
        raise ValueError(f"{n} samples cannot fill train, val ({sizes[0]}) and test ({sizes[1]})")
    order = np.random.default_rng(seed).permutation(n)
    val, test = order[: sizes[0]], order[sizes[0] : sizes[0] + sizes[1]]
    train = order[sizes[0] + sizes[1] :]
    return _sorted(train), _sorted(val), _sorted(test)


def grouped_split(
    groups: np.ndarray, val_fraction: float, test_fraction: float, seed: int
) -> Splits:
    """Split samples so that all samples of a group (patient, star, tile) share one split.

    Groups are shuffled; each requested split first receives one group, then every further
    group goes to the split furthest below its target sample count (``fraction * n``). The
    sample fractions are therefore met approximately, as closely as the group sizes allow.

    Args:
        groups: ``[N]`` group id of each sample (any sortable values).
        val_fraction: Target share of samples for validation, ``>= 0``.
        test_fraction: Target share of samples for test, ``>= 0``.
        seed: Seed of the group shuffle.

    Returns:
        Sorted ``int64`` ``(train_idx, val_idx, test_idx)``; no group appears in two of them.

    Raises:
        ValueError: On fractions that leave nothing to train on, or fewer groups than the
            splits requested (train, plus val and test when their fraction is positive).
    """
    check_fractions(val_fraction, test_fraction)
    groups = np.asarray(groups)
    if groups.ndim != 1:
        raise ValueError(f"groups must be [N], got shape {groups.shape}")
    names, inverse, sizes = np.unique(groups, return_inverse=True, return_counts=True)
    fractions = (1.0 - val_fraction - test_fraction, val_fraction, test_fraction)
    wanted = [split for split, fraction in enumerate(fractions) if fraction > 0]
    if names.size < len(wanted):
        raise ValueError(
            f"{names.size} distinct groups cannot fill {len(wanted)} splits without sharing one"
        )
    targets = np.array(fractions) * groups.shape[0]
    counts = np.zeros(3)
    assignment = np.empty(names.size, dtype=np.int64)
    order = np.random.default_rng(seed).permutation(names.size)
    for position, group in enumerate(order):
        if position < len(wanted):
            split = wanted[position]
        else:
            deficit = np.where(targets > 0, targets - counts, -np.inf)
            split = int(np.argmax(deficit))
        assignment[group] = split
        counts[split] += sizes[group]
    per_sample = assignment[inverse.ravel()]
    train, val, test = (np.flatnonzero(per_sample == split) for split in range(3))
    return _sorted(train), _sorted(val), _sorted(test)


def spatial_block_split(
    rows: int | np.ndarray,
    cols: int | np.ndarray,
    block_size: float,
    val_fraction: float,
    test_fraction: float,
    seed: int,
) -> Splits:
    """Split pixels (or located samples) by whole square spatial blocks.

    Neighbouring pixels are strongly correlated, so a random pixel split leaks; here the
    plane is cut into ``block_size`` x ``block_size`` blocks and every block goes, whole, to
    one split (:func:`grouped_split` with block ids as groups). Blocks touching across a split
    border are still neighbours; leave a gap yourself when that matters.

    Args:
        rows: The grid height (an int: every pixel of a ``rows x cols`` grid, indexed
            row-major, ``index = row * cols + col``), or ``[N]`` row coordinates of ``N``
            samples (e.g. patch origins; any units).
        cols: The grid width, or ``[N]`` column coordinates, as ``rows``.
        block_size: Side of a block, in pixels or in the coordinates' units.
        val_fraction: Target share of samples for validation.
        test_fraction: Target share of samples for test.
        seed: Seed of the block shuffle.

    Returns:
        Sorted ``int64`` ``(train_idx, val_idx, test_idx)`` of pixels (row-major) or samples.

    Raises:
        ValueError: On a non-positive block size, mismatched coordinates, or fewer blocks
            than splits requested.
    """
    if block_size <= 0:
        raise ValueError(f"block_size must be positive, got {block_size}")
    if np.ndim(rows) == 0 and np.ndim(cols) == 0:
        grid_r, grid_c = np.indices((int(rows), int(cols))).reshape(2, -1)
        r, c = grid_r.astype(np.float64), grid_c.astype(np.float64)
    else:
        r, c = np.asarray(rows, dtype=np.float64), np.asarray(cols, dtype=np.float64)
        if r.ndim != 1 or r.shape != c.shape:
            raise ValueError(f"row and column coordinates must be [N] each: {r.shape}, {c.shape}")
    block_r = np.floor(r / block_size).astype(np.int64)
    block_c = np.floor(c / block_size).astype(np.int64)
    _, blocks = np.unique(np.stack([block_r, block_c], axis=1), axis=0, return_inverse=True)
    return grouped_split(blocks.ravel(), val_fraction, test_fraction, seed)


def stratified_split(
    labels: np.ndarray, val_fraction: float, test_fraction: float, seed: int
) -> Splits:
    """Random split that keeps class proportions: each class is split by the fractions.

    Falls back to :func:`random_split` when some requested split would
    otherwise be empty (very small datasets).

    Args:
        labels: int64 ``[N]`` class indices.
        val_fraction: Share of each class for validation.
        test_fraction: Share of each class for test.
        seed: Seed of the shuffles.

    Returns:
        Sorted int64 ``(train, val, test)`` indices, disjoint, covering ``range(N)``.
    """
    rng = np.random.default_rng(seed)
    parts: tuple[list[np.ndarray], ...] = ([], [], [])
    for k in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == k))
        n_test = round(test_fraction * len(members))
        n_val = round(val_fraction * len(members))
        parts[2].append(members[:n_test])
        parts[1].append(members[n_test : n_test + n_val])
        parts[0].append(members[n_test + n_val :])
    train, val, test = (np.sort(np.concatenate(p)).astype(np.int64) for p in parts)
    if (
        not len(train)
        or (val_fraction > 0 and not len(val))
        or (test_fraction > 0 and not len(test))
    ):
        return random_split(len(labels), val_fraction, test_fraction, seed)
    return train, val, test
