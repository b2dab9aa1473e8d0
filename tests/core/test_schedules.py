"""Learning-rate schedule: warm-up, cosine, and unbounded runs."""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from foundations.schedules import warmup_cosine_factor, warmup_cosine_scheduler


def test_warmup_then_cosine_to_the_final_ratio() -> None:
    factors = [warmup_cosine_factor(step, 100, 10, 0.01) for step in range(120)]
    assert factors[0] == pytest.approx(0.1) and factors[9] == pytest.approx(1.0)
    assert factors[10] == pytest.approx(1.0)
    assert factors[55] == pytest.approx(0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * 0.5)))
    assert factors[100] == pytest.approx(0.01) and factors[119] == pytest.approx(0.01)
    assert all(a >= b for a, b in itertools.pairwise(factors[10:]))


def test_scheduler_scales_every_group_and_survives_unbounded_runs() -> None:
    param = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([{"params": [param], "lr": 1.0}], lr=1.0)
    entry = warmup_cosine_scheduler(optimizer, 20.0, 0.5, 0.0)
    assert entry["interval"] == "step"
    assert optimizer.param_groups[0]["lr"] == pytest.approx(0.1)
    unbounded = warmup_cosine_scheduler(torch.optim.SGD([param], lr=2.0), math.inf, 0.1, 0.0)
    assert unbounded["scheduler"].get_last_lr() == [2.0]
