"""Tests of the toy shape generator and its file format."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from threadpoolctl import threadpool_limits

from foundations.toy.generator import (
    CLASS_NAMES,
    NUM_CLASSES,
    generate_shapes,
    load_shapes,
    write_shapes,
)


def test_shapes_dtypes_and_range() -> None:
    images, labels = generate_shapes(60, image_size=24, seed=3)
    assert images.shape == (60, 3, 24, 24) and images.dtype == np.float32
    assert labels.shape == (60,) and labels.dtype == np.int64
    assert images.min() >= 0.0 and images.max() <= 1.0
    assert set(labels.tolist()) == set(range(NUM_CLASSES))
    assert 4 <= NUM_CLASSES <= 6 and len(CLASS_NAMES) == NUM_CLASSES


def test_deterministic_given_seed() -> None:
    first, first_labels = generate_shapes(32, seed=7)
    second, second_labels = generate_shapes(32, seed=7)
    other, _ = generate_shapes(32, seed=8)
    np.testing.assert_array_equal(first, second)
    np.testing.assert_array_equal(first_labels, second_labels)
    assert not np.allclose(first, other)


def test_classes_balanced() -> None:
    _, labels = generate_shapes(1000, seed=0)
    counts = np.bincount(labels, minlength=NUM_CLASSES)
    assert counts.max() - counts.min() <= 1


def test_images_vary_within_a_class() -> None:
    """Nuisance: two images of the same class differ a lot, not just by noise."""
    images, labels = generate_shapes(64, seed=0)
    same = images[labels == 0]
    assert np.abs(same[0] - same[1]).mean() > 0.05


def test_invalid_arguments() -> None:
    with pytest.raises(ValueError, match="image_size"):
        generate_shapes(4, image_size=8)
    with pytest.raises(ValueError, match="num_samples"):
        generate_shapes(-1)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_raw_pixel_probe_is_above_chance_but_far_from_perfect() -> None:
    """Shape is linearly visible in raw pixels only a little; nuisance hides the rest."""
    images, labels = generate_shapes(2048, image_size=32, seed=0)
    x_train, x_test, y_train, y_test = train_test_split(
        images.reshape(len(images), -1), labels, test_size=0.25, random_state=0, stratify=labels
    )
    with threadpool_limits(limits=1):  # BLAS threads contend badly on small CPU runners
        probe = LogisticRegression(C=0.01, max_iter=100).fit(x_train, y_train)
    accuracy = probe.score(x_test, y_test)
    chance = 1.0 / NUM_CLASSES
    assert accuracy > chance + 0.08, f"raw-pixel probe {accuracy:.3f}: the task became impossible"
    assert accuracy < 0.7, f"raw-pixel probe {accuracy:.3f}: the task became trivial"


def test_write_load_round_trip(tmp_path: Path) -> None:
    path = write_shapes(tmp_path / "sub" / "shapes.npz", 20, image_size=16, seed=1)
    images, labels, names = load_shapes(path)
    expected_images, expected_labels = generate_shapes(20, image_size=16, seed=1)
    np.testing.assert_array_equal(images, expected_images)
    np.testing.assert_array_equal(labels, expected_labels)
    assert names == CLASS_NAMES
    assert [p.name for p in path.parent.iterdir()] == ["shapes.npz"]  # no temp file left


def test_load_rejects_a_file_that_is_not_npz(tmp_path: Path) -> None:
    path = tmp_path / "broken.npz"
    path.write_bytes(b"definitely not a zip archive")
    with pytest.raises(ValueError, match=re.escape(str(path))):
        load_shapes(path)


@pytest.mark.parametrize(
    ("arrays", "problem"),
    [
        (
            {"images": np.zeros((2, 3, 8, 8), np.float32), "labels": np.zeros(2, np.int64)},
            "missing",
        ),
        (
            {
                "images": np.zeros((2, 3, 8, 8), np.float64),
                "labels": np.zeros(2, np.int64),
                "class_names": np.asarray(["a"]),
            },
            "float32",
        ),
        (
            {
                "images": np.zeros((2, 3, 8, 8), np.float32),
                "labels": np.zeros(3, np.int64),
                "class_names": np.asarray(["a"]),
            },
            "int64",
        ),
        (
            {
                "images": np.zeros((2, 3, 8, 8), np.float32),
                "labels": np.array([0, 5], np.int64),
                "class_names": np.asarray(["a"]),
            },
            "labels must lie",
        ),
    ],
)
def test_load_rejects_wrong_contents(
    tmp_path: Path, arrays: dict[str, np.ndarray], problem: str
) -> None:
    path = tmp_path / "wrong.npz"
    np.savez(path, **arrays)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=problem) as error:
        load_shapes(path)
    assert str(path) in str(error.value)


def test_load_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.npz"
    with pytest.raises(FileNotFoundError, match=re.escape(str(path))):
        load_shapes(path)


def test_fourier_baseline_ignores_where_the_shape_sits() -> None:
    from foundations.toy.baselines import fourier_magnitude

    images, _ = generate_shapes(4, image_size=32, seed=3)
    batch = torch.from_numpy(images)
    shifted = torch.roll(batch, shifts=(5, -3), dims=(2, 3))  # circular shift: same magnitude
    assert np.allclose(fourier_magnitude(batch), fourier_magnitude(shifted), atol=1e-4)
    assert fourier_magnitude(batch).shape == (4, 64)
    assert not np.allclose(fourier_magnitude(batch)[0], fourier_magnitude(batch)[1])
