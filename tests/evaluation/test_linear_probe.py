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
