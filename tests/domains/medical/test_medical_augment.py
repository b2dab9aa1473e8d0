"""VolumeViews and RadiographViews: geometry that keeps spacing physically true."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from domains.medical.augment import RadiographViews, VolumeViews

GEOMETRY_ONLY: dict[str, Any] = {"intensity_scale": 0.0, "intensity_shift": 0.0, "noise_std": 0.0}


def volumes(batch: int = 4, size: tuple[int, int, int] = (16, 16, 8)) -> dict[str, Any]:
    return {
        "values": torch.randn(batch, 1, *size),
        "spacing": torch.tensor([0.8, 0.8, 2.5]).expand(batch, 3),
        "affine": torch.diag(torch.tensor([0.8, 0.8, 2.5, 1.0], dtype=torch.float64)),
        "patient": ["p"] * batch,
    }


def test_volume_views_shapes_and_pass_through() -> None:
    batch = volumes()
    out = VolumeViews(size=(8, 12, 4))(batch)
    assert set(out) == set(batch)
    assert out["values"].shape == (4, 1, 8, 12, 4)
    assert out["spacing"].shape == (4, 3) and out["affine"].shape == (4, 4, 4)
    assert out["patient"] is batch["patient"]
    assert torch.isfinite(out["values"]).all()


def test_identity_crop_keeps_spacing_and_values() -> None:
    batch = volumes()
    views = VolumeViews(
        size=(16, 16, 8), scale=(1.0, 1.0), flip_prob=0.0, rot90=False, **GEOMETRY_ONLY
    )
    out = views(batch)
    torch.testing.assert_close(out["values"], batch["values"])
    torch.testing.assert_close(out["spacing"], batch["spacing"])
    torch.testing.assert_close(out["affine"], batch["affine"].expand(4, 4, 4))


def test_half_extent_crop_resized_to_full_size_halves_spacing() -> None:
    ramp = torch.arange(16, dtype=torch.float32).view(1, 1, 16, 1, 1).expand(2, 1, 16, 16, 8)
    batch = {"values": ramp.clone(), "spacing": torch.tensor([0.8, 0.8, 2.5])}
    views = VolumeViews(
        size=(16, 16, 8), scale=(0.5, 0.5), flip_prob=0.0, rot90=False, **GEOMETRY_ONLY
    )
    out = views(batch)
    torch.testing.assert_close(out["spacing"], torch.tensor([[0.4, 0.4, 1.25]] * 2))
    # Along X the ramp is sampled every half voxel, away from the border.
    steps = out["values"][:, 0, 1:-1, 0, 0].diff(dim=-1)
    torch.testing.assert_close(steps, torch.full_like(steps, 0.5))


def test_affine_stays_consistent_with_spacing_and_values() -> None:
    torch.manual_seed(0)
    batch = volumes(batch=8, size=(8, 8, 8))
    batch["spacing"] = torch.tensor([1.0, 1.0, 1.0])
    batch["affine"] = torch.eye(4, dtype=torch.float64)
    # Values are the X coordinate in millimetres: the new affine must predict them.
    batch["values"] = torch.arange(8.0).view(1, 1, 8, 1, 1).expand(8, 1, 8, 8, 8).clone()
    out = VolumeViews(size=6, scale=(0.5, 1.0), **GEOMETRY_ONLY)(batch)
    column_norms = out["affine"][:, :3, :3].norm(dim=1).float()
    torch.testing.assert_close(column_norms, out["spacing"])
    index = torch.stack(torch.meshgrid(*[torch.arange(6.0)] * 3, indexing="ij"), -1)
    homogeneous = torch.cat([index, torch.ones(6, 6, 6, 1)], -1).double()
    x_mm = torch.einsum("bj,xyzj->bxyz", out["affine"][:, 0], homogeneous).float()
    # The border of an up-sampled crop may replicate edge voxels; compare the interior.
    torch.testing.assert_close(out["values"][:, 0, 1:-1, 1:-1, 1:-1], x_mm[:, 1:-1, 1:-1, 1:-1])


def test_rot90_only_in_planes_with_equal_spacing() -> None:
    torch.manual_seed(0)
    b = 32
    marker = torch.arange(4.0).view(1, 1, 1, 1, 4).expand(b, 1, 8, 8, 4).clone()
    batch = {"values": marker, "spacing": torch.tensor([1.0, 1.02, 3.0])}
    views = VolumeViews(size=(8, 8, 4), scale=(1.0, 1.0), flip_prob=0.0, **GEOMETRY_ONLY)
    out = views(batch)
    # Z (3 mm) never swaps with X or Y: the slice marker and its spacing stay on Z.
    torch.testing.assert_close(out["values"], marker)
    assert (out["spacing"][:, 2] == 3.0).all()
    swapped = out["spacing"][:, 0] == 1.02
    assert swapped.any() and (~swapped).any(), "X-Y quarter turns should happen at random"
    # With isotropic voxels the slice axis does turn.
    cube = torch.arange(8.0).view(1, 1, 1, 1, 8).expand(b, 1, 8, 8, 8)
    turned = VolumeViews(size=8, scale=(1.0, 1.0), flip_prob=0.0, **GEOMETRY_ONLY)(
        {"values": cube, "spacing": torch.ones(3)}
    )
    assert (turned["values"] != cube).any(dim=(1, 2, 3, 4)).any()


def test_flips_and_rotations_permute_values() -> None:
    torch.manual_seed(0)
    values = torch.randn(6, 1, 8, 8, 8)
    views = VolumeViews(size=8, scale=(1.0, 1.0), **GEOMETRY_ONLY)
    out = views({"values": values, "spacing": torch.ones(3)})
    torch.testing.assert_close(
        out["values"].flatten(1).sort(dim=1).values, values.flatten(1).sort(dim=1).values
    )
    flipped = VolumeViews(size=8, scale=(1.0, 1.0), flip_prob=1.0, rot90=False, **GEOMETRY_ONLY)
    torch.testing.assert_close(
        flipped({"values": values, "spacing": torch.ones(3)})["values"], values.flip(2, 3, 4)
    )


def test_views_are_deterministic_under_a_seed() -> None:
    batch = volumes()
    views = VolumeViews(size=(8, 8, 4))
    torch.manual_seed(7)
    first = views(batch)
    torch.manual_seed(7)
    second = views(batch)
    torch.testing.assert_close(first["values"], second["values"])
    torch.testing.assert_close(first["spacing"], second["spacing"])
    assert not torch.equal(views(batch)["values"], first["values"])


@pytest.mark.parametrize(
    "kwargs",
    [
        {"size": 0},
        {"size": (8, 8)},
        {"scale": (0.0, 1.0)},
        {"scale": (0.9, 0.5)},
        {"scale": (0.5, 1.5)},
        {"flip_prob": 1.5},
        {"noise_std": -0.1},
        {"rot90_tolerance": -1.0},
    ],
)
def test_volume_views_reject_bad_configs(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        VolumeViews(**kwargs)


def test_volume_views_reject_bad_inputs() -> None:
    views = VolumeViews(size=8)
    with pytest.raises(ValueError, match="got values"):
        views({"values": torch.zeros(2, 1, 8, 8), "spacing": torch.ones(3)})
    with pytest.raises(ValueError, match="got keys"):
        views({"values": torch.zeros(2, 1, 8, 8, 8)})


def test_radiograph_views_shapes_spacing_and_intensity() -> None:
    torch.manual_seed(0)
    batch = {"values": torch.rand(3, 1, 32, 24), "spacing": torch.tensor([0.2, 0.1]), "label": 1}
    out = RadiographViews(size=(16, 12), rotation=10.0, hflip=True)(batch)
    assert out["values"].shape == (3, 1, 16, 12) and out["label"] == 1
    assert torch.isfinite(out["values"]).all()
    # Crops of 60-100% of 6.4 mm x 2.4 mm over 16 x 12 pixels.
    assert ((out["spacing"][:, 0] >= 0.24 - 1e-6) & (out["spacing"][:, 0] <= 0.4 + 1e-6)).all()
    assert ((out["spacing"][:, 1] >= 0.12 - 1e-6) & (out["spacing"][:, 1] <= 0.2 + 1e-6)).all()


def test_radiograph_views_identity_and_half_crop() -> None:
    images = torch.rand(2, 1, 16, 16)
    plain: dict[str, Any] = {
        "rotation": 0.0,
        "brightness": 0.0,
        "contrast": 0.0,
        "gamma": 0.0,
        "noise_std": 0.0,
    }
    same = RadiographViews(size=16, scale=(1.0, 1.0), **plain)
    out = same({"values": images, "spacing": torch.ones(2, 2)})
    torch.testing.assert_close(out["values"], images)
    torch.testing.assert_close(out["spacing"], torch.ones(2, 2))
    half = RadiographViews(size=16, scale=(0.5, 0.5), **plain)
    torch.testing.assert_close(
        half({"values": images, "spacing": torch.ones(2)})["spacing"], torch.full((2, 2), 0.5)
    )
    mirrored = RadiographViews(size=16, scale=(1.0, 1.0), hflip=True, **plain)
    torch.manual_seed(0)
    repeated = {"values": images[:1].expand(16, 1, 16, 16), "spacing": torch.ones(2)}
    flips = mirrored(repeated)["values"]
    is_flipped = [torch.allclose(f, images[0].flip(-1), atol=1e-5) for f in flips]
    is_same = [torch.allclose(f, images[0], atol=1e-5) for f in flips]
    assert all(a or b for a, b in zip(is_flipped, is_same, strict=True))
    assert any(is_flipped) and any(is_same)


@pytest.mark.parametrize(
    "kwargs", [{"size": -1}, {"scale": (0.5, 0.4)}, {"rotation": 270.0}, {"gamma": -0.1}]
)
def test_radiograph_views_reject_bad_configs(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        RadiographViews(**kwargs)
