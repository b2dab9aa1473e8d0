"""The linear probe gives the known answers on data with a known answer."""

from __future__ import annotations

import numpy as np

from evaluation.probes.linear import linear_probe


def clusters(n: int, separation: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 3, n)
    centres = np.eye(3, 8) * separation
    return centres[labels] + rng.normal(size=(n, 8)), labels


def test_separable_clusters_are_solved() -> None:
    result = linear_probe(clusters(300, 8.0, 0), clusters(100, 8.0, 1), clusters(300, 8.0, 2))
    assert result.accuracy > 0.98
    assert result.macro_f1 > 0.98


def test_labels_independent_of_features_stay_at_chance() -> None:
    rng = np.random.default_rng(0)

    def noise(n: int) -> tuple[np.ndarray, np.ndarray]:
        return rng.normal(size=(n, 8)), rng.integers(0, 3, n)

    result = linear_probe(noise(300), noise(100), noise(600))
    assert 0.25 < result.accuracy < 0.42


def test_regularisation_is_chosen_on_validation_not_test() -> None:
    train, val = clusters(200, 3.0, 0), clusters(100, 3.0, 1)
    x_test, y_test = clusters(200, 3.0, 2)
    honest = linear_probe(train, val, (x_test, y_test))
    shuffled = linear_probe(train, val, (x_test, np.random.default_rng(5).permutation(y_test)))
    assert honest.best_c == shuffled.best_c  # test labels never influence the choice
    assert honest.val_accuracy == shuffled.val_accuracy
    assert shuffled.accuracy < honest.accuracy


def imbalanced(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Two common classes and a rare one that overlaps them."""
    rng = np.random.default_rng(seed)
    labels = np.repeat([0, 1, 2], [600, 600, 24])
    centres = np.array([[0.0, 0.0], [3.0, 0.0], [1.5, 1.5]])
    return centres[labels] + rng.normal(size=(labels.size, 2)), labels


def test_balanced_probe_recalls_the_rare_class() -> None:
    train, val, test = imbalanced(0), imbalanced(1), imbalanced(2)
    plain = linear_probe(train, val, test)
    balanced = linear_probe(train, val, test, select_on="macro_f1", class_weight="balanced")
    # The unweighted probe gives up most of the rare class for the common ones' accuracy.
    assert balanced.balanced_accuracy > plain.balanced_accuracy + 0.1
    assert plain.val_score == plain.val_accuracy
    assert balanced.val_score is not None and balanced.val_score < balanced.val_accuracy
