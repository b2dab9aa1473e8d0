"""Split helpers: disjoint, complete, deterministic, and never split a group or a block."""

from __future__ import annotations

import numpy as np
import pytest

from foundations.data.partition import (
    grouped_split,
    random_split,
    spatial_block_split,
    stratified_split,
)


def assert_partition(parts: tuple[np.ndarray, np.ndarray, np.ndarray], n: int) -> None:
    joined = np.concatenate(parts)
    assert all(part.dtype == np.int64 for part in parts)
    assert np.array_equal(np.sort(joined), np.arange(n))


def test_random_split_sizes_and_determinism() -> None:
    parts = random_split(1000, 0.1, 0.2, seed=0)
    assert_partition(parts, 1000)
    assert [len(p) for p in parts] == [700, 100, 200]
    again = random_split(1000, 0.1, 0.2, seed=0)
    assert all(np.array_equal(a, b) for a, b in zip(parts, again, strict=True))
    assert not np.array_equal(parts[2], random_split(1000, 0.1, 0.2, seed=1)[2])
    assert [len(p) for p in random_split(10, 0.0, 0.01, 0)] == [9, 0, 1]


@pytest.mark.parametrize(("val", "test"), [(-0.1, 0.2), (0.5, 0.5), (0.6, 0.7)])
def test_impossible_fractions_raise(val: float, test: float) -> None:
    with pytest.raises(ValueError, match="fraction"):
        random_split(100, val, test, 0)
    with pytest.raises(ValueError, match="fraction"):
        grouped_split(np.arange(100), val, test, 0)


def test_grouped_split_never_leaks_a_group() -> None:
    rng = np.random.default_rng(0)
    patients = rng.integers(0, 60, 3000)  # uneven group sizes
    parts = grouped_split(patients, 0.15, 0.15, seed=0)
    assert_partition(parts, 3000)
    seen = [set(patients[p]) for p in parts]
    assert not (seen[0] & seen[1] or seen[0] & seen[2] or seen[1] & seen[2])
    shares = [len(p) / 3000 for p in parts]
    assert shares == pytest.approx([0.7, 0.15, 0.15], abs=0.03)
    again = grouped_split(patients, 0.15, 0.15, seed=0)
    assert all(np.array_equal(a, b) for a, b in zip(parts, again, strict=True))
    assert not np.array_equal(parts[2], grouped_split(patients, 0.15, 0.15, seed=1)[2])


def test_grouped_split_with_string_ids_and_few_groups() -> None:
    stars = np.array(["a", "b", "c", "a", "b", "c", "a"])
    train, val, test = grouped_split(stars, 0.2, 0.2, seed=0)
    assert len({frozenset(stars[p]) for p in (train, val, test)}) == 3
    with pytest.raises(ValueError, match="2 distinct groups cannot fill 3 splits"):
        grouped_split(np.array([1, 1, 2, 2]), 0.2, 0.2, seed=0)
    train, val, test = grouped_split(np.array([1, 1, 2, 2]), 0.0, 0.4, seed=0)
    assert len(val) == 0 and len(train) == len(test) == 2


def test_spatial_blocks_are_never_split() -> None:
    rows, cols, block = 40, 55, 8
    parts = spatial_block_split(rows, cols, block, 0.2, 0.2, seed=0)
    assert_partition(parts, rows * cols)
    split_of = np.empty(rows * cols, dtype=int)
    for split, part in enumerate(parts):
        split_of[part] = split
    grid = split_of.reshape(rows, cols)  # row-major pixel index
    for r in range(0, rows, block):
        for c in range(0, cols, block):
            assert len(np.unique(grid[r : r + block, c : c + block])) == 1
    assert len(np.unique(grid)) == 3


def test_spatial_blocks_from_sample_coordinates() -> None:
    rng = np.random.default_rng(0)
    r, c = rng.uniform(0, 1000, 500), rng.uniform(-500, 500, 500)
    parts = spatial_block_split(r, c, 250.0, 0.2, 0.2, seed=0)
    assert_partition(parts, 500)
    blocks = [set(zip(np.floor(r[p] / 250), np.floor(c[p] / 250), strict=True)) for p in parts]
    assert not (blocks[0] & blocks[1] or blocks[0] & blocks[2] or blocks[1] & blocks[2])
    with pytest.raises(ValueError, match="cannot fill 3 splits"):
        spatial_block_split(4, 4, 4, 0.2, 0.2, seed=0)  # a single block
    with pytest.raises(ValueError, match="block_size"):
        spatial_block_split(4, 4, 0, 0.2, 0.2, seed=0)


def test_stratified_split_keeps_class_proportions() -> None:
    labels = np.repeat(np.arange(3), [50, 30, 20])
    train, val, test = stratified_split(labels, 0.2, 0.2, seed=0)
    assert len(np.intersect1d(train, test)) == 0 and len(np.intersect1d(val, test)) == 0
    assert len(train) + len(val) + len(test) == 100
    assert np.bincount(labels[test]).tolist() == [10, 6, 4]
    assert np.bincount(labels[val]).tolist() == [10, 6, 4]
