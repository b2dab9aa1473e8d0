"""SpectralViews: geometric and radiometric views that respect bands, wavelengths and nodata."""

from __future__ import annotations

import torch

from domains.remote_sensing.augment import SpectralViews

# Sentinel-2 without B1/B9/B10, plus a thermal band: bands 0-3 are visible.
WAVELENGTHS = torch.tensor([0.49, 0.56, 0.665, 0.69, 0.705, 0.842, 1.61, 2.19, 10.9])
C = len(WAVELENGTHS)


def make_batch(batch: int = 4, size: int = 48, steps: int | None = None) -> dict[str, torch.Tensor]:
    lead = (batch,) if steps is None else (batch, steps)
    values = torch.rand(*lead, C, size, size)
    return {
        "values": values,
        "valid": torch.rand_like(values) > 0.1,
        "wavelengths": WAVELENGTHS.expand(batch, C),
    }


def test_shapes_are_kept_and_wavelengths_untouched() -> None:
    views = SpectralViews(size=32, visible_jitter=0.2)
    for batch in (make_batch(), make_batch(batch=2, steps=3)):
        batch["dates"] = torch.zeros(batch["values"].shape[0], 3)
        out = views(batch)
        assert set(out) == set(batch)
        assert out["values"].shape == (*batch["values"].shape[:-2], 32, 32)
        assert out["valid"].shape == out["values"].shape and out["valid"].dtype == torch.bool
        assert out["wavelengths"] is batch["wavelengths"] and out["dates"] is batch["dates"]
        assert torch.isfinite(out["values"]).all()
        assert (out["values"][~out["valid"]] == 0).all()


def test_valid_is_cropped_like_values() -> None:
    # Values are the column index; the left half of the image is nodata. Without flips or
    # rotations every output row must switch from invalid to valid once, where values >= 24.
    size = 48
    columns = torch.arange(size, dtype=torch.float32).expand(size, size)
    values = columns.expand(6, C, size, size).clone()
    valid = values >= size // 2
    views = SpectralViews(
        size=32, band_dropout=0, gain=0, offset=0, noise_std=0, rot90=False, flips=False
    )
    torch.manual_seed(0)
    out = views({"values": values, "valid": valid, "wavelengths": WAVELENGTHS})
    assert out["valid"].any() and (~out["valid"]).any()
    assert (out["values"][out["valid"]] >= size // 2 - 1e-3).all()
    steps = out["valid"].int().diff(dim=-1)
    assert (steps >= 0).all()  # never valid -> invalid along a row
    # Nodata does not bleed: interpolated values near the boundary are not pulled to 0.
    assert (out["values"][out["valid"]] > size // 2 - 1).all()


def test_flips_and_rotations_move_values_and_valid_together() -> None:
    batch = make_batch(batch=8)
    batch["values"] = batch["valid"].float() * 2 + 1
    views = SpectralViews(size=48, scale=(1.0, 1.0), band_dropout=0, gain=0, offset=0, noise_std=0)
    out = views(batch)
    kept = out["values"][out["valid"]]
    torch.testing.assert_close(kept, torch.full_like(kept, 3.0))
    assert (out["values"][~out["valid"]] == 0).all()


def test_band_dropout_never_drops_every_band() -> None:
    views = SpectralViews(size=16, band_dropout=0.95)
    batch = make_batch(batch=64, size=16)
    batch["valid"][:, 1:] = False  # only band 0 has data: it must survive
    out = views(batch)
    per_band = out["valid"].flatten(2).any(-1)
    assert per_band.any(-1).all()
    assert per_band[:, 0].all()
    dropped = make_batch(batch=64, size=16)
    per_band = views(dropped)["valid"].flatten(2).any(-1)
    assert per_band.any(-1).all() and (~per_band).any()


def test_visible_jitter_leaves_other_bands_unchanged() -> None:
    kwargs = {"size": 32, "gain": 0.0, "offset": 0.0, "noise_std": 0.0, "band_dropout": 0.2}
    batch = make_batch()
    torch.manual_seed(3)
    plain = SpectralViews(**kwargs)(batch)
    torch.manual_seed(3)
    jittered = SpectralViews(**kwargs, visible_jitter=0.5)(batch)
    assert torch.equal(plain["valid"], jittered["valid"])
    assert torch.equal(plain["values"][:, 4:], jittered["values"][:, 4:])
    assert not torch.allclose(plain["values"][:, :4], jittered["values"][:, :4])


def test_noise_only_on_valid_pixels() -> None:
    kwargs = {"size": 32, "gain": 0.0, "offset": 0.0, "band_dropout": 0.0}
    batch = make_batch()
    torch.manual_seed(5)
    clean = SpectralViews(**kwargs, noise_std=0.0)(batch)
    torch.manual_seed(5)
    noisy = SpectralViews(**kwargs, noise_std=0.1)(batch)
    assert torch.equal(clean["valid"], noisy["valid"])
    diff = noisy["values"] - clean["values"]
    valid = clean["valid"]
    assert (diff[~valid] == 0).all()
    assert (diff[valid] != 0).float().mean() > 0.99
    assert 0.08 < diff[valid].std() < 0.12


def test_gain_and_offset_are_per_band() -> None:
    kwargs = {"size": 32, "noise_std": 0.0, "band_dropout": 0.0, "gain": 0.0, "offset": 0.0}
    batch = make_batch()
    batch["valid"][:] = True
    torch.manual_seed(7)
    base = SpectralViews(**kwargs)(batch)["values"]
    torch.manual_seed(7)
    shifted = SpectralViews(**{**kwargs, "offset": 0.05})(batch)["values"]
    shift = shifted - base
    per_band = shift.flatten(2)
    torch.testing.assert_close(per_band, per_band[..., :1].expand_as(per_band))
    assert shift.abs().max() <= 0.05 + 1e-6


def test_deterministic_under_manual_seed() -> None:
    views = SpectralViews(size=32, visible_jitter=0.3)
    batch = make_batch(batch=3, steps=2)
    torch.manual_seed(11)
    first = views(batch)
    torch.manual_seed(11)
    second = views(batch)
    third = views(batch)
    assert torch.equal(first["values"], second["values"])
    assert torch.equal(first["valid"], second["valid"])
    assert not torch.equal(first["values"], third["values"])


def test_illumination_scales_every_band_of_a_sample_alike() -> None:
    kwargs = {"size": 32, "noise_std": 0.0, "band_dropout": 0.0, "gain": 0.0, "offset": 0.0}
    batch = make_batch()
    batch["valid"][:] = True
    torch.manual_seed(11)
    base = SpectralViews(**kwargs)(batch)["values"]
    torch.manual_seed(11)
    lit = SpectralViews(**kwargs, illumination=0.3)(batch)["values"]
    ratio = (lit / base.clamp(min=1e-6)).flatten(1)
    factor = ratio[:, :1]
    torch.testing.assert_close(ratio, factor.expand_as(ratio), rtol=1e-4, atol=1e-4)
    assert ((factor >= 0.7) & (factor <= 1.3)).all()
    assert factor.std() > 0.01
