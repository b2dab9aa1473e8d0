"""LightCurveViews: cadence subsampling, error-driven noise, time shifts, padding."""

from __future__ import annotations

import pytest
import torch

from domains.astronomy.augment import LightCurveViews


def batch(b: int = 6, length: int = 32, real: int = 20, error: float = 0.1) -> dict:
    mask = torch.zeros(b, length, dtype=torch.bool)
    mask[:, :real] = True
    mask[0] = False
    mask[1, :1] = True  # a single observation
    return {
        "time": torch.linspace(0, 100, length).repeat(b, 1),
        "value": torch.randn(b, length),
        "error": torch.full((b, length), error),
        "band": torch.zeros(b, length, dtype=torch.long),
        "mask": mask,
        "extra": torch.arange(b),
    }


def test_shapes_and_pass_through() -> None:
    inputs = batch()
    view = LightCurveViews()(inputs)
    for key in ("time", "value", "error", "band", "mask"):
        assert view[key].shape == inputs[key].shape
        assert view[key].dtype == inputs[key].dtype
    assert view["extra"] is inputs["extra"]
    assert torch.equal(view["error"], inputs["error"])


def test_never_drops_everything_and_padding_stays_padding() -> None:
    torch.manual_seed(0)
    inputs = batch()
    views = LightCurveViews(keep=(0.01, 0.01), noise_scale=1.0, shift_days=10.0, offset_scale=1.0)
    for _ in range(20):
        view = views(inputs)
        assert not (view["mask"] & ~inputs["mask"]).any()
        has_obs = inputs["mask"].any(dim=1)
        assert torch.equal(view["mask"].any(dim=1), has_obs)
        padded = ~view["mask"]
        for key in ("time", "value"):
            assert torch.equal(view[key][padded], inputs[key][padded])


def test_keep_fraction() -> None:
    torch.manual_seed(0)
    inputs = batch(b=64, length=200, real=200)
    view = LightCurveViews(keep=(0.5, 0.9), noise_scale=0.0, shift_days=0.0)(inputs)
    fraction = view["mask"][2:].float().mean().item()
    assert 0.6 < fraction < 0.8
    kept = view["mask"]
    assert torch.equal(view["value"][kept], inputs["value"][kept])


def test_noise_scales_with_error() -> None:
    torch.manual_seed(0)
    views = LightCurveViews(keep=(1.0, 1.0), noise_scale=2.0, shift_days=0.0)
    for error in (0.01, 0.5):
        inputs = batch(b=32, length=256, real=256, error=error)
        view = views(inputs)
        kept = view["mask"]
        std = (view["value"] - inputs["value"])[kept].std().item()
        assert std == pytest.approx(2.0 * error, rel=0.1)


def test_time_shift_is_per_object_constant() -> None:
    torch.manual_seed(0)
    inputs = batch()
    view = LightCurveViews(keep=(1.0, 1.0), noise_scale=0.0, shift_days=5.0)(inputs)
    shift = view["time"] - inputs["time"]
    for row, mask in zip(shift, inputs["mask"], strict=True):
        values = row[mask]
        if values.numel():
            assert torch.allclose(values, values[0].expand_as(values), atol=1e-4)
            assert values.abs().max() <= 5.0


def test_deterministic_under_seed() -> None:
    inputs = batch()
    views = LightCurveViews(offset_scale=0.1)
    torch.manual_seed(3)
    first = views(inputs)
    torch.manual_seed(3)
    second = views(inputs)
    for key in ("time", "value", "mask"):
        assert torch.equal(first[key], second[key])


@pytest.mark.parametrize(
    "kwargs",
    [
        {"keep": (0.0, 0.5)},
        {"keep": (0.8, 0.5)},
        {"keep": (0.5, 1.5)},
        {"noise_scale": -1.0},
        {"shift_days": -1.0},
        {"offset_scale": float("nan")},
    ],
)
def test_invalid_config(kwargs: dict) -> None:
    with pytest.raises(ValueError):
        LightCurveViews(**kwargs)


def test_invalid_inputs() -> None:
    inputs = batch()
    with pytest.raises(ValueError, match="missing"):
        LightCurveViews()({k: v for k, v in inputs.items() if k != "error"})
    with pytest.raises(ValueError, match="one shape"):
        LightCurveViews()({**inputs, "error": inputs["error"][:, :3]})
