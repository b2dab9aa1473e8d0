"""LightCurveViews: cadence subsampling, error-driven noise, time shifts, padding, length cap."""

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


def test_max_observations_packs_a_random_subset_in_time_order() -> None:
    torch.manual_seed(0)
    inputs = batch(b=6, length=32, real=20)
    inputs["value"] = inputs["time"] * 10  # each value identifies its observation
    views = LightCurveViews(keep=(1.0, 1.0), noise_scale=0.0, shift_days=0.0, max_observations=8)
    view = views(inputs)
    for key in ("time", "value", "error", "band", "mask"):
        assert view[key].shape == (6, 8)
    assert view["extra"] is inputs["extra"]
    assert torch.equal(view["mask"].sum(1), torch.tensor([0, 8, 8, 8, 8, 8]))
    real = view["mask"]
    assert torch.equal(view["value"][real], view["time"][real] * 10)
    for row in range(1, 6):
        times = view["time"][row]
        assert (times.diff() > 0).all()  # time order kept
        assert set(times.tolist()) <= set(inputs["time"][row, :20].tolist())  # real only
    # Every real observation turns up in some view: a random subset, not a fixed crop.
    seen = torch.cat([views(inputs)["time"][1:][real[1:]] for _ in range(30)])
    assert set(seen.tolist()) == set(inputs["time"][0, :20].tolist())


def test_max_observations_leaves_short_inputs_alone() -> None:
    torch.manual_seed(0)
    inputs = batch(length=32)
    view = LightCurveViews(keep=(1.0, 1.0), shift_days=0.0, noise_scale=0.0, max_observations=64)(
        inputs
    )
    for key in ("time", "value", "mask"):
        assert torch.equal(view[key], inputs[key])


@pytest.mark.parametrize(
    "kwargs",
    [
        {"max_observations": 0},
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


def test_view_averaged_light_curve_embeddings_are_reproducible() -> None:
    from domains.astronomy.tokenizer import ObservationTokenizer
    from evaluation.view_average import ViewAveragedEncoder
    from foundations.encoders.encoder import Encoder

    torch.manual_seed(0)
    encoder = Encoder(ObservationTokenizer(embed_dim=16), "photometry", depth=1, pool="mean")
    views = LightCurveViews(keep=(0.5, 1.0), shift_days=50.0)
    averaged = ViewAveragedEncoder(encoder.eval(), views, count=4)
    inputs = batch()
    with torch.no_grad():
        first, second, single = averaged(inputs), averaged(inputs), encoder(inputs)
    assert first.shape == (6, 16) and torch.isfinite(first).all()
    torch.testing.assert_close(first, second)
    assert not torch.allclose(first, single, atol=1e-4)
