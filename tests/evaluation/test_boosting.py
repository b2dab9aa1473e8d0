"""The gradient-boosting probe of classical baselines gives the known answers."""

from __future__ import annotations

import numpy as np

from evaluation.probes.boosting import boosting_probe


def xor_data(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, size=(n, 2))
    return x, ((x[:, 0] > 0) ^ (x[:, 1] > 0)).astype(int)


def test_trees_solve_what_a_linear_model_cannot() -> None:
    result = boosting_probe(xor_data(400, 0), xor_data(100, 1), xor_data(400, 2))
    assert result["accuracy"] > 0.9
    assert "auroc" in result and result["auroc"] > 0.9


def test_choice_uses_validation_only() -> None:
    train, val = xor_data(300, 0), xor_data(100, 1)
    x_test, y_test = xor_data(300, 2)
    honest = boosting_probe(train, val, (x_test, y_test))
    shuffled = boosting_probe(train, val, (x_test, np.random.default_rng(3).permutation(y_test)))
    assert honest["learning_rate"] == shuffled["learning_rate"]
    assert shuffled["accuracy"] < honest["accuracy"]


def test_boosting_takes_the_balanced_options_and_reports_its_selection_score() -> None:
    train, val, test = xor_data(400, 0), xor_data(100, 1), xor_data(400, 2)
    result = boosting_probe(train, val, test, select_on="macro_f1", class_weight="balanced")
    assert result["macro_f1"] > 0.9
    assert 0.9 < result["val_score"] <= 1.0
