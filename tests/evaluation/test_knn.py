"""The weighted kNN probe: known answers and agreement with a brute-force vote."""

from __future__ import annotations

import numpy as np
import pytest

from evaluation.probes.knn import knn_predict, knn_probe, knn_probe_with_val


def clusters(n: int, separation: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 4, n)
    return np.eye(4, 16)[labels] * separation + rng.normal(size=(n, 16)), labels


def brute_force_votes(
    x_train: np.ndarray, y_train: np.ndarray, queries: np.ndarray, k: int, t: float, c: int
) -> np.ndarray:
    a = x_train / np.linalg.norm(x_train, axis=1, keepdims=True)
    b = queries / np.linalg.norm(queries, axis=1, keepdims=True)
    sims = b @ a.T
    votes = np.zeros((len(queries), c))
    for row in range(len(queries)):
        nearest = np.argsort(-sims[row])[:k]
        for j in nearest:
            votes[row, y_train[j]] += np.exp(sims[row, j] / t)
    return votes / votes.sum(axis=1, keepdims=True)


def test_separable_clusters_are_solved() -> None:
    result = knn_probe(clusters(500, 6.0, 0), clusters(300, 6.0, 1), k=20)
    assert result["accuracy"] > 0.98
    assert result["macro_f1"] > 0.98
    assert result["k"] == 20


def test_labels_independent_of_features_stay_at_chance() -> None:
    rng = np.random.default_rng(0)
    train = (rng.normal(size=(1000, 16)), rng.integers(0, 4, 1000))
    test = (rng.normal(size=(1000, 16)), rng.integers(0, 4, 1000))
    assert 0.19 < knn_probe(train, test)["accuracy"] < 0.31


def test_matches_brute_force_weighted_vote() -> None:
    x_train, y_train = clusters(60, 1.0, 0)
    x_test, y_test = clusters(25, 1.0, 1)
    expected = brute_force_votes(x_train, y_train, x_test, k=7, t=0.1, c=4)
    predicted, probabilities, classes = knn_predict(
        (x_train, y_train), x_test, k=7, temperature=0.1, batch_size=4
    )
    assert list(classes) == [0, 1, 2, 3]
    np.testing.assert_allclose(probabilities, expected, rtol=1e-4, atol=1e-6)
    np.testing.assert_array_equal(predicted, expected.argmax(axis=1))
    result = knn_probe((x_train, y_train), (x_test, y_test), k=7, temperature=0.1)
    assert result["accuracy"] == pytest.approx(np.mean(expected.argmax(axis=1) == y_test))


def test_batching_does_not_change_the_answer() -> None:
    train, test = clusters(200, 2.0, 0), clusters(50, 2.0, 1)
    one_block = knn_predict(train, test[0], k=10)
    small_blocks = knn_predict(train, test[0], k=10, batch_size=7)
    np.testing.assert_array_equal(one_block[0], small_blocks[0])
    np.testing.assert_allclose(one_block[1], small_blocks[1], rtol=1e-5, atol=1e-7)


def test_binary_tasks_get_auroc_and_original_label_values() -> None:
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 300)
    x = rng.normal(size=(300, 8)) + 3.0 * labels[:, None]
    result = knn_probe((x[:200], labels[:200]), (x[200:], labels[200:]), k=10)
    assert result["auroc"] > 0.97
    predicted, _, classes = knn_predict((x[:200], labels[:200] * 5 + 3), x[200:], k=10)
    assert list(classes) == [3, 8]
    assert set(np.unique(predicted)) <= {3, 8}


def test_k_is_chosen_on_validation_never_on_test() -> None:
    train, val = clusters(300, 1.5, 0), clusters(150, 1.5, 1)
    x_test, y_test = clusters(300, 1.5, 2)
    honest = knn_probe_with_val(train, val, (x_test, y_test), ks=(1, 5, 50))
    shuffled = knn_probe_with_val(
        train, val, (x_test, np.random.default_rng(0).permutation(y_test)), ks=(1, 5, 50)
    )
    assert (honest["k"], honest["val_accuracy"]) == (shuffled["k"], shuffled["val_accuracy"])
    assert honest["k"] in (1, 5, 50)
    assert shuffled["accuracy"] < honest["accuracy"]
    alone = knn_probe(train, (x_test, y_test), k=int(honest["k"]))
    assert alone["accuracy"] == honest["accuracy"]


def test_invalid_arguments_raise() -> None:
    train, test = clusters(20, 1.0, 0), clusters(5, 1.0, 1)
    with pytest.raises(ValueError, match="temperature"):
        knn_probe(train, test, temperature=0.0)
    with pytest.raises(ValueError, match="validation"):
        knn_probe_with_val(train, None, test, ks=(1, 3))
    with pytest.raises(ValueError, match="num_classes"):
        knn_probe(train, test, num_classes=2)
    assert knn_probe(train, test, k=500)["k"] == 20  # clamped to the bank size
