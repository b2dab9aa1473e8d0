"""Per-volume preprocessing: CT windows, MR normalisation, resampling, cropping, fixed sizes.

Each step is a small callable class on :class:`~domains.medical.io.Volume` (MONAI style) that
delegates the array work to the MONAI transform of the same job: ``ScaleIntensityRange`` (CT
windows), ``ScaleIntensityRangePercentiles`` (MR), ``Spacing`` (resampling), ``CropForeground``,
``Resize`` and ``ResizeWithPadOrCrop``. The volume travels as a MONAI ``MetaTensor`` carrying
its affine, so MONAI itself updates the affine on every spatial change; written here is only
the conversion between ``Volume`` and ``MetaTensor``, the window presets, and the aspect-
preserving ``"fit"`` size mode (a scale computed from the shape, then MONAI's ``Resize`` and
padding), which MONAI has no single transform for.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch
from monai.data import MetaTensor
from monai.transforms import (
    CropForeground,
    Resize,
    ResizeWithPadOrCrop,
    ScaleIntensityRange,
    ScaleIntensityRangePercentiles,
    Spacing,
)
from torch import Tensor

from domains.medical.io import Volume, spacing_of

CT_WINDOWS: dict[str, tuple[float, float]] = {
    "soft_tissue": (40.0, 400.0),
    "mediastinum": (50.0, 350.0),
    "liver": (60.0, 160.0),
    "lung": (-600.0, 1500.0),
    "bone": (400.0, 1800.0),
    "brain": (40.0, 80.0),
    "generic": (0.0, 2000.0),
}
"""CT display windows as ``(level, width)`` in Hounsfield units; ``generic`` spans -1000..1000."""

Window = str | tuple[float, float]
SizeMode = Literal["resize", "fit", "pad"]


def window_range(window: Window) -> tuple[float, float]:
    """``(low, high)`` HU of a preset name or a ``(level, width)`` pair.

    Raises:
        ValueError: On an unknown preset or a non-positive width.
    """
    if isinstance(window, str):
        if window not in CT_WINDOWS:
            raise ValueError(f"unknown CT window {window!r}; presets: {sorted(CT_WINDOWS)}")
        window = CT_WINDOWS[window]
    level, width = (float(v) for v in window)
    if width <= 0:
        raise ValueError(f"window width must be positive, got {width}")
    return level - width / 2, level + width / 2


def _to_numpy(value: Any) -> np.ndarray:
    if isinstance(value, Tensor):
        return value.detach().cpu().numpy()
    return np.asarray(value)


def _tensor(values: np.ndarray) -> Tensor:
    """A plain float32 tensor sharing memory where possible (MONAI is slowest on NumPy input)."""
    return torch.from_numpy(np.ascontiguousarray(values, dtype=np.float32))


def ct_window(values: np.ndarray, window: Window) -> np.ndarray:
    """Map HU through a CT window to ``[0, 1]``, clipped (MONAI ``ScaleIntensityRange``).

    Args:
        values: Any-shaped array in Hounsfield units.
        window: A :data:`CT_WINDOWS` preset name or ``(level, width)``.

    Returns:
        float32 array of the same shape.
    """
    low, high = window_range(window)
    scale = ScaleIntensityRange(a_min=low, a_max=high, b_min=0.0, b_max=1.0, clip=True)
    return _to_numpy(scale(_tensor(values))).astype(np.float32, copy=False)


def mr_normalise(values: np.ndarray, lower: float = 1.0, upper: float = 99.0) -> np.ndarray:
    """Map the ``lower``..``upper`` percentile range to ``[0, 1]``, clipped (MONAI
    ``ScaleIntensityRangePercentiles``): MR intensities have no absolute scale.

    When the two percentiles coincide (mostly empty volumes) the full min..max range is used,
    and a constant volume becomes zeros, instead of dividing by zero.

    Args:
        values: Any-shaped array.
        lower: Lower percentile.
        upper: Upper percentile.

    Returns:
        float32 array of the same shape.
    """
    array = np.asarray(values, dtype=np.float32)
    low, high = np.percentile(array, [lower, upper])
    if high > low:
        scale: Any = ScaleIntensityRangePercentiles(
            lower=lower, upper=upper, b_min=0.0, b_max=1.0, clip=True
        )
    elif array.max() > array.min():
        scale = ScaleIntensityRange(float(array.min()), float(array.max()), 0.0, 1.0, clip=True)
    else:
        return np.zeros_like(array)
    return _to_numpy(scale(_tensor(array))).astype(np.float32, copy=False)


def _meta(volume: Volume) -> MetaTensor:
    values = torch.from_numpy(np.ascontiguousarray(volume.values, dtype=np.float32))[None]
    return MetaTensor(values, affine=torch.as_tensor(volume.affine, dtype=torch.float64))


def _volume(tensor: Any, like: Volume) -> Volume:
    affine = _to_numpy(tensor.affine).astype(np.float64)
    values = _to_numpy(tensor.as_tensor() if isinstance(tensor, MetaTensor) else tensor)[0]
    return Volume(values.astype(np.float32, copy=False), affine, spacing_of(affine), like.path)


def _triple(value: float | Sequence[float] | Sequence[int], name: str) -> tuple[float, ...]:
    items = (value,) * 3 if isinstance(value, int | float) else tuple(value)
    if len(items) != 3 or any(float(v) <= 0 for v in items):
        raise ValueError(f"{name} needs three positive numbers, got {value!r}")
    return tuple(float(v) for v in items)


class CTWindow:
    """Apply a CT window: HU -> ``[0, 1]`` (see :func:`ct_window`).

    Args:
        window: A :data:`CT_WINDOWS` preset or ``(level, width)``.
    """

    def __init__(self, window: Window = "soft_tissue") -> None:
        self.window = window
        self.low, self.high = window_range(window)

    def __call__(self, volume: Volume) -> Volume:
        values = ct_window(volume.values, (0.5 * (self.low + self.high), self.high - self.low))
        return Volume(values, volume.affine, volume.spacing, volume.path)


class MRNormalise:
    """Percentile normalisation to ``[0, 1]`` (see :func:`mr_normalise`).

    Args:
        lower: Lower percentile.
        upper: Upper percentile.
    """

    def __init__(self, lower: float = 1.0, upper: float = 99.0) -> None:
        self.lower, self.upper = lower, upper

    def __call__(self, volume: Volume) -> Volume:
        values = mr_normalise(volume.values, self.lower, self.upper)
        return Volume(values, volume.affine, volume.spacing, volume.path)


class ResampleToSpacing:
    """Resample to a voxel size, keeping the physical extent (MONAI ``Spacing``).

    Args:
        spacing: Target voxel size in millimetres (one number for isotropic).
        mode: Interpolation, ``"bilinear"`` (trilinear in 3D) or ``"nearest"``.
    """

    def __init__(
        self, spacing: float | Sequence[float], mode: Literal["bilinear", "nearest"] = "bilinear"
    ) -> None:
        self.spacing = _triple(spacing, "target spacing")
        self.transform = Spacing(pixdim=self.spacing, mode=mode, padding_mode="border")

    def __call__(self, volume: Volume) -> Volume:
        if np.allclose(volume.spacing, self.spacing, rtol=1e-4):
            return volume
        return _volume(self.transform(_meta(volume)), volume)


def resample_to_spacing(volume: Volume, target_spacing: float | Sequence[float]) -> Volume:
    """``volume`` resampled to ``target_spacing`` millimetres (see :class:`ResampleToSpacing`)."""
    return ResampleToSpacing(target_spacing)(volume)


class CropForegroundVolume:
    """Crop to the bounding box of voxels above ``threshold``, plus a margin (MONAI
    ``CropForeground``; never grows past the array). The affine's origin moves with the crop.

    Args:
        threshold: Foreground is ``values > threshold``.
        margin: Voxels kept around the box on every side.
    """

    def __init__(self, threshold: float = 0.0, margin: int = 2) -> None:
        self.threshold = threshold
        self.transform = CropForeground(select_fn=self._select, margin=margin, allow_smaller=True)

    def _select(self, values: Tensor) -> Tensor:
        return values > self.threshold

    def __call__(self, volume: Volume) -> Volume:
        if not np.any(volume.values > self.threshold):
            return volume
        return _volume(self.transform(_meta(volume)), volume)


class FixedSize:
    """Bring a volume to a fixed ``(X, Y, Z)`` array shape, keeping it physically correct.

    Modes:
        ``"resize"``: stretch each axis to the size (MONAI ``Resize``); the spacing of an
        axis becomes ``old_extent / new_size``, so a 48 x 48 x 20 volume at 0.8 x 0.8 x 3 mm
        becomes 32^3 at 1.2 x 1.2 x 1.875 mm.
        ``"fit"``: scale all axes by one factor (the largest that fits), then pad with
        ``pad_value``: keeps the voxel aspect ratio.
        ``"pad"``: no interpolation; centre-crop or pad each axis (MONAI
        ``ResizeWithPadOrCrop``); spacing unchanged, the origin moves.

    Args:
        size: Output ``(X, Y, Z)``.
        mode: One of the modes above.
        pad_value: Value of padded voxels (0 is air/background after normalisation).
    """

    def __init__(
        self, size: Sequence[int], mode: SizeMode = "resize", pad_value: float = 0.0
    ) -> None:
        self.size = tuple(int(s) for s in _triple(size, "size"))
        if mode not in ("resize", "fit", "pad"):
            raise ValueError(f"size mode must be resize, fit or pad, got {mode!r}")
        self.mode = mode
        self.pad = ResizeWithPadOrCrop(self.size, mode="constant", value=pad_value)

    def __call__(self, volume: Volume) -> Volume:
        if volume.shape == self.size:
            return volume
        tensor: Any = _meta(volume)
        if self.mode == "resize":
            tensor = Resize(self.size, mode="trilinear", anti_aliasing=False)(tensor)
        elif self.mode == "fit":
            factor = min(t / s for t, s in zip(self.size, volume.shape, strict=True))
            shape = tuple(max(1, round(s * factor)) for s in volume.shape)
            tensor = Resize(shape, mode="trilinear", anti_aliasing=False)(tensor)
            tensor = self.pad(tensor)
        else:
            tensor = self.pad(tensor)
        return _volume(tensor, volume)


@dataclass(frozen=True)
class PreprocessSettings:
    """Everything that determines :class:`VolumePreprocess`'s output (a cache key).

    Attributes:
        size: Output ``(X, Y, Z)``, or ``None`` to keep the shape.
        target_spacing: Resample to this voxel size first (mm), or ``None``.
        window: CT window preset / ``(level, width)``, ``"mr"`` for percentile normalisation,
            or ``None`` to keep stored units.
        crop_foreground: Crop to the foreground before sizing.
        crop_threshold: Foreground threshold, on the normalised values.
        crop_margin: Voxels kept around the foreground box.
        size_mode: ``"resize"``, ``"fit"`` or ``"pad"`` (see :class:`FixedSize`).
    """

    size: tuple[int, int, int] | None = (32, 32, 32)
    target_spacing: tuple[float, float, float] | None = None
    window: Window | None = "soft_tissue"
    crop_foreground: bool = False
    crop_threshold: float = 0.0
    crop_margin: int = 2
    size_mode: SizeMode = "resize"


class VolumePreprocess:
    """Resample -> window / normalise -> crop foreground -> fixed size, to the volume contract.

    Every step is optional; the affine and spacing stay physically correct through all of them
    (MONAI updates the affine; spacing is recomputed from it).

    Args:
        size: Output ``(X, Y, Z)`` (an int for a cube), or ``None`` to keep each volume's shape.
        target_spacing: Voxel size in mm to resample to first (one number for isotropic).
        window: CT window preset or ``(level, width)``, ``"mr"`` (1st..99th percentile to
            ``[0, 1]``), or ``None`` (stored units).
        crop_foreground: Crop to voxels above ``crop_threshold`` before sizing.
        crop_threshold: Foreground threshold on the normalised values (0 keeps everything
            above the bottom of a CT window, i.e. the body, not the air).
        crop_margin: Voxels kept around the foreground box.
        size_mode: How to reach ``size``: ``"resize"``, ``"fit"`` or ``"pad"``.

    Raises:
        ValueError: On an unknown window, size mode, or non-positive sizes and spacings.
    """

    def __init__(
        self,
        size: int | Sequence[int] | None = (32, 32, 32),
        target_spacing: float | Sequence[float] | None = None,
        window: Window | None = "soft_tissue",
        crop_foreground: bool = False,
        crop_threshold: float = 0.0,
        crop_margin: int = 2,
        size_mode: SizeMode = "resize",
    ) -> None:
        if isinstance(window, list):
            window = (float(window[0]), float(window[1]))
        shape = None if size is None else tuple(int(s) for s in _triple(size, "size"))
        spacing = None if target_spacing is None else _triple(target_spacing, "target spacing")
        self.settings = PreprocessSettings(
            size=shape,  # type: ignore[arg-type]
            target_spacing=spacing,  # type: ignore[arg-type]
            window=window,
            crop_foreground=crop_foreground,
            crop_threshold=crop_threshold,
            crop_margin=crop_margin,
            size_mode=size_mode,
        )
        steps: list[Any] = []
        if spacing is not None:
            steps.append(ResampleToSpacing(spacing))
        if window == "mr":
            steps.append(MRNormalise())
        elif window is not None:
            steps.append(CTWindow(window))
        if crop_foreground:
            steps.append(CropForegroundVolume(crop_threshold, crop_margin))
        if shape is not None:
            steps.append(FixedSize(shape, size_mode))
        self.steps = steps

    def apply(self, volume: Volume) -> Volume:
        """The preprocessed :class:`Volume`."""
        for step in self.steps:
            volume = step(volume)
        return volume

    def __call__(self, volume: Volume) -> dict[str, Tensor]:
        """The preprocessed volume as the contract dict (``values [1, X, Y, Z]``, ``spacing``,
        ``affine``)."""
        return self.apply(volume).to_sample()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.settings})"
