"""Retrieval, anomaly detection and similarity search on embeddings with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from evaluation.protocols.anomaly import anomaly_auroc, knn_anomaly_scores
from evaluation.protocols.retrieval import cross_modal_recall_at_k
from evaluation.protocols.similarity import precision_at_k, similarity_search


def test_identical_pairs_are_retrieved_first_both_ways() -> None:
    x = np.random.default_rng(0).normal(size=(300, 32))
    result = cross_modal_recall_at_k(x, 2.0 * x, batch_size=64)
    assert result["q2g_recall@1"] == result["g2q_recall@1"] == 1.0
    assert result["q2g_median_rank"] == result["g2q_median_rank"] == 1.0


def test_random_pairs_recall_about_k_over_n() -> None:
    rng = np.random.default_rng(0)
    n = 2000
    result = cross_modal_recall_at_k(rng.normal(size=(n, 64)), rng.normal(size=(n, 64)))
    for direction in ("q2g", "g2q"):
        for k in (1, 5, 10):
            assert abs(result[f"{direction}_recall@{k}"] - k / n) < 3 * np.sqrt(k / n / n) + 1e-3
        assert abs(result[f"{direction}_median_rank"] - n / 2) < 0.1 * n


def test_directions_differ_and_ties_count_against_the_match() -> None:
    query = np.array([[1.0, 0.0], [1.0, 0.1], [0.0, 1.0]])
    gallery = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    result = cross_modal_recall_at_k(query, gallery, ks=(1, 2))
    # q0 ties g0 with g1 -> rank 2; q1 prefers g0 and g1 equally -> rank 2; q2 -> rank 1.
    assert result["q2g_recall@1"] == pytest.approx(1 / 3)
    assert result["q2g_recall@2"] == 1.0
    # g0 prefers q0 (rank 1); g1 (same vector) also prefers q0 -> q1 ranks 2; g2 -> rank 1.
    assert result["g2q_recall@1"] == pytest.approx(2 / 3)
    collapsed = cross_modal_recall_at_k(np.ones((50, 4)), np.ones((50, 4)))
    assert collapsed["q2g_recall@1"] == 0.0 and collapsed["q2g_median_rank"] == 50.0
    with pytest.raises(ValueError, match="aligned"):
        cross_modal_recall_at_k(np.ones((5, 4)), np.ones((6, 4)))


def normal_and_anomalous(seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centre = np.zeros(16)
    centre[0] = 10.0
    train = centre + rng.normal(size=(300, 16))
    normal = centre + rng.normal(size=(100, 16))
    far = -centre + rng.normal(size=(20, 16))
    return train, np.concatenate([normal, far]), np.repeat([False, True], [100, 20])


def test_far_anomalies_are_found() -> None:
    train, test, is_anomaly = normal_and_anomalous(0)
    scores = knn_anomaly_scores(train, test, k=5)
    assert scores.shape == (120,) and np.all((scores >= 0) & (scores <= 2))
    assert scores[is_anomaly].min() > scores[~is_anomaly].max()
    assert anomaly_auroc(train, test, is_anomaly, k=5) == 1.0


def test_anomalies_like_the_normal_data_are_chance() -> None:
    rng = np.random.default_rng(0)
    train, test = rng.normal(size=(500, 16)), rng.normal(size=(600, 16))
    is_anomaly = np.arange(600) % 2 == 0
    assert 0.4 < anomaly_auroc(train, test, is_anomaly, k=5) < 0.6
    with pytest.raises(ValueError, match="both"):
        anomaly_auroc(train, test, np.zeros(600, bool))


def test_similarity_search_matches_brute_force_in_blocks() -> None:
    rng = np.random.default_rng(0)
    index, queries = rng.normal(size=(200, 8)), rng.normal(size=(37, 8))
    indices, scores = similarity_search(index, queries, k=6, batch_size=5)
    a = index / np.linalg.norm(index, axis=1, keepdims=True)
    b = queries / np.linalg.norm(queries, axis=1, keepdims=True)
    sims = b @ a.T
    expected = np.argsort(-sims, axis=1)[:, :6]
    np.testing.assert_array_equal(indices, expected)
    np.testing.assert_allclose(scores, np.take_along_axis(sims, expected, axis=1), atol=1e-5)
    assert np.all(np.diff(scores, axis=1) <= 0)
    with pytest.raises(ValueError, match="k="):
        similarity_search(index, queries, k=201)


def test_precision_at_k_excludes_the_query_itself() -> None:
    x = np.array([[1.0, 0.0], [0.95, 0.3], [0.0, 1.0], [0.3, 0.95]])
    labels = np.array([0, 1, 0, 1])  # each point's nearest other point has the other label
    neighbours, _ = similarity_search(x, x, k=2)
    assert precision_at_k(labels, labels, neighbours) == 0.5  # self always matches
    assert precision_at_k(labels, labels, neighbours, exclude_self=True) == 0.0
    # Exact duplicates may outrank the query itself; then the last neighbour is dropped.
    same = np.array([0, 0, 0, 1])
    outranked = np.array([[1, 2, 3], [0, 1, 2], [0, 1, 2], [3, 0, 1]])  # row 0 lacks itself
    # kept: [1, 2] -> 2 hits, [0, 2] -> 2, [0, 1] -> 2, [0, 1] -> 0 hits
    assert precision_at_k(same, same, outranked, exclude_self=True) == pytest.approx(6 / 8)
    with pytest.raises(ValueError, match="same length"):
        precision_at_k(same, same[:2], outranked[:2], exclude_self=True)
    with pytest.raises(ValueError, match="k >= 2"):
        precision_at_k(labels, labels, neighbours[:, :1], exclude_self=True)


def test_precision_on_clusters() -> None:
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 5, 400)
    x = np.eye(5, 12)[labels] * 6.0 + rng.normal(size=(400, 12))
    neighbours, _ = similarity_search(x, x, k=11)
    assert precision_at_k(labels, labels, neighbours, exclude_self=True) > 0.98
    shuffled = rng.permutation(labels)
    assert precision_at_k(shuffled, shuffled, neighbours, exclude_self=True) < 0.3
