"""Preprocessing: CT windows, MR normalisation, resampling, cropping and fixed sizes."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from domains.medical.io import Volume, spacing_of
from domains.medical.transforms import (
    CT_WINDOWS,
    CropForegroundVolume,
    FixedSize,
    VolumePreprocess,
    ct_window,
    mr_normalise,
    resample_to_spacing,
    window_range,
)


def _volume(shape: tuple[int, int, int], spacing: tuple[float, float, float]) -> Volume:
    """Air with a bright box, at an arbitrary origin."""
    affine = np.diag([*spacing, 1.0])
    affine[:3, 3] = [-12.0, 30.0, 7.5]
    values = np.full(shape, -1000.0, dtype=np.float32)
    x, y, z = (s // 2 for s in shape)
    values[x - 4 : x + 2, y - 3 : y + 3, z - 2 : z + 3] = 60.0
    return Volume(values, affine, spacing_of(affine))


def _world_centroid(volume: Volume, threshold: float) -> np.ndarray:
    weights = np.clip(volume.values - threshold, 0, None)
    index = np.argwhere(weights > 0)
    centre = (index * weights[weights > 0][:, None]).sum(0) / weights[weights > 0].sum()
    return (volume.affine @ np.append(centre, 1.0))[:3]


def _extent(volume: Volume) -> np.ndarray:
    return np.array(volume.shape) * volume.spacing


def test_ct_window_values() -> None:
    hu = np.array([-1000.0, -160.0, 40.0, 240.0, 3000.0])
    np.testing.assert_allclose(ct_window(hu, "soft_tissue"), [0.0, 0.0, 0.5, 1.0, 1.0])
    np.testing.assert_allclose(ct_window(np.array([-600.0]), "lung"), [0.5])
    np.testing.assert_allclose(ct_window(np.array([0.0, 80.0]), "brain"), [0.0, 1.0])
    np.testing.assert_allclose(ct_window(np.array([-1000.0, 1000.0]), "generic"), [0.0, 1.0])
    np.testing.assert_allclose(ct_window(np.array([100.0]), (100.0, 50.0)), [0.5])
    assert ct_window(hu, "bone").dtype == np.float32
    assert window_range("bone") == (-500.0, 1300.0)
    assert {"soft_tissue", "lung", "bone", "brain", "generic"} <= set(CT_WINDOWS)
    with pytest.raises(ValueError, match="unknown CT window 'liverish'"):
        ct_window(hu, "liverish")
    with pytest.raises(ValueError, match="width must be positive"):
        ct_window(hu, (40.0, 0.0))


def test_mr_normalise_percentiles() -> None:
    values = np.random.default_rng(0).gamma(2.0, 100.0, size=(20, 20, 20)).astype(np.float32)
    out = mr_normalise(values)
    assert out.min() == 0.0 and out.max() == 1.0 and out.dtype == np.float32
    low, high = np.percentile(values, [1, 99])
    np.testing.assert_allclose(out[values <= low], 0.0)
    np.testing.assert_allclose(out[values >= high], 1.0)
    assert 0.0 < np.median(out) < 0.5
    mostly_empty = np.zeros((10, 10, 10), np.float32)
    mostly_empty[0, 0, :3] = [5.0, 10.0, 20.0]  # 1st and 99th percentiles are both 0
    np.testing.assert_allclose(mr_normalise(mostly_empty)[0, 0, :3], [0.25, 0.5, 1.0])
    np.testing.assert_array_equal(mr_normalise(np.full((3, 3, 3), 7.0)), 0.0)


def test_resampling_keeps_physical_extent_and_position() -> None:
    volume = _volume((40, 36, 10), (0.8, 0.8, 4.0))
    resampled = resample_to_spacing(volume, 2.0)
    np.testing.assert_allclose(resampled.spacing, [2.0, 2.0, 2.0], atol=1e-6)
    assert np.all(np.abs(_extent(resampled) - _extent(volume)) <= 2.0)  # within a voxel
    np.testing.assert_allclose(
        _world_centroid(resampled, -500), _world_centroid(volume, -500), atol=0.6
    )
    assert resample_to_spacing(volume, (0.8, 0.8, 4.0)) is volume


def test_fixed_size_modes_update_spacing() -> None:
    volume = _volume((48, 40, 20), (0.75, 0.75, 3.0))
    resized = FixedSize((32, 32, 32), "resize")(volume)
    assert resized.shape == (32, 32, 32)
    np.testing.assert_allclose(resized.spacing, volume.spacing * np.array([48, 40, 20]) / 32)
    np.testing.assert_allclose(_extent(resized), _extent(volume))
    np.testing.assert_allclose(
        _world_centroid(resized, -500), _world_centroid(volume, -500), atol=0.5
    )

    fitted = FixedSize((32, 32, 32), "fit")(volume)
    assert fitted.shape == (32, 32, 32)
    ratio = fitted.spacing / volume.spacing
    np.testing.assert_allclose(ratio, ratio[0], rtol=0.05)  # one factor: aspect kept

    padded = FixedSize((64, 32, 24), "pad", pad_value=-1000.0)(volume)
    assert padded.shape == (64, 32, 24)
    np.testing.assert_allclose(padded.spacing, volume.spacing)
    np.testing.assert_allclose(
        _world_centroid(padded, -500), _world_centroid(volume, -500), atol=1e-4
    )
    with pytest.raises(ValueError, match="size mode"):
        FixedSize((8, 8, 8), "stretch")  # type: ignore[arg-type]


def test_crop_foreground_moves_origin() -> None:
    volume = _volume((30, 30, 12), (1.0, 1.0, 2.0))
    cropped = CropForegroundVolume(threshold=-500, margin=1)(volume)
    assert cropped.shape == (8, 8, 7)
    np.testing.assert_allclose(
        _world_centroid(cropped, -500), _world_centroid(volume, -500), atol=1e-4
    )
    air = Volume(np.full((4, 4, 4), -1000.0, np.float32), np.eye(4), np.ones(3))
    assert CropForegroundVolume(threshold=-500)(air) is air


def test_volume_preprocess_gives_the_contract() -> None:
    volume = _volume((48, 44, 18), (0.7, 0.7, 3.5))
    preprocess = VolumePreprocess(
        size=(32, 32, 32), target_spacing=1.5, window="soft_tissue", crop_foreground=True
    )
    sample = preprocess(volume)
    assert sample["values"].shape == (1, 32, 32, 32) and sample["values"].dtype == torch.float32
    assert sample["spacing"].shape == (3,) and sample["spacing"].dtype == torch.float32
    assert sample["affine"].shape == (4, 4) and sample["affine"].dtype == torch.float64
    assert float(sample["values"].min()) >= 0.0 and float(sample["values"].max()) <= 1.0
    processed = preprocess.apply(volume)
    np.testing.assert_allclose(processed.spacing, sample["spacing"].numpy(), rtol=1e-6)
    np.testing.assert_allclose(
        _world_centroid(processed, 0.5), _world_centroid(volume, -500), atol=1.5
    )

    mr = VolumePreprocess(size=16, window="mr")(volume)
    assert mr["values"].shape == (1, 16, 16, 16)
    raw = VolumePreprocess(size=None, window=None)(volume)
    np.testing.assert_array_equal(raw["values"][0].numpy(), volume.values)
    assert "window='mr'" in repr(VolumePreprocess(window="mr"))
