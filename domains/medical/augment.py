"""Physically consistent random views of volumes and radiographs, batched on the device.

Every geometric part of a view (resized crop, flips, 90-degree or small rotations) is folded
into one affine map per sample and applied with a single ``affine_grid`` / ``grid_sample``
(trilinear for volumes) over the whole batch, so a view costs one resampling pass. The map is
known exactly, so ``spacing`` (and a volume's ``affine``, when present) are updated to stay
physically true: a crop resized to more voxels gets finer spacing, a rotation permutes it.

Written by hand rather than with MONAI's or kornia's random transforms: those draw per-sample
parameters on the CPU (MONAI) or compose crops, flips and rotations as separate resamplings,
and neither reports the spacing of the result or restricts 90-degree rotations to planes with
equal voxel spacing.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

# Planes of the volume axes (X, Y, Z): axial, coronal, sagittal.
_PLANES = ((0, 1), (0, 2), (1, 2))


def _resample(values: Tensor, matrix: Tensor, offset: Tensor, size: tuple[int, ...]) -> Tensor:
    """Sample ``values`` ``[B, C, *S]`` on a grid of ``size`` through an affine map.

    ``matrix`` ``[B, n, n]`` and ``offset`` ``[B, n]`` map an output point's normalised
    coordinates (``[-1, 1]`` across the array, axes in array order) to the input's. torch's
    grids list coordinates from the last array axis to the first, hence the flips.
    """
    theta = torch.cat([matrix.flip(1, 2), offset.flip(1).unsqueeze(-1)], dim=-1)
    grid = F.affine_grid(theta, [values.shape[0], values.shape[1], *size], align_corners=False)
    return F.grid_sample(values, grid, mode="bilinear", padding_mode="border", align_corners=False)


def _index_map(
    matrix: Tensor, offset: Tensor, in_shape: tuple[int, ...], size: tuple[int, ...]
) -> Tensor:
    """Homogeneous ``[B, n+1, n+1]`` map from output voxel indices to input voxel indices.

    With ``align_corners=False`` index ``i`` of ``N`` voxels sits at ``u = (2 i + 1) / N - 1``.
    """
    b, n = offset.shape
    in_half = torch.tensor(in_shape, dtype=matrix.dtype, device=matrix.device) / 2
    out = torch.tensor(size, dtype=matrix.dtype, device=matrix.device)
    linear = in_half.view(1, n, 1) * matrix * (2 / out).view(1, 1, n)
    shift = (matrix @ (1 / out - 1)) + offset
    translation = in_half * shift + in_half - 0.5
    result = torch.eye(n + 1, dtype=matrix.dtype, device=matrix.device).repeat(b, 1, 1)
    result[:, :n, :n] = linear
    result[:, :n, n] = translation
    return result


def _uniform(low: float, high: float, shape: tuple[int, ...], device: torch.device) -> Tensor:
    return low + (high - low) * torch.rand(shape, device=device)


def _check_range(name: str, bounds: tuple[float, float], low: float, high: float) -> None:
    if len(bounds) != 2 or not low < bounds[0] <= bounds[1] <= high:
        raise ValueError(
            f"{name} must be (min, max) with {low} < min <= max <= {high}, got {bounds}"
        )


def _check_non_negative(**params: float) -> None:
    bad = {k: v for k, v in params.items() if v < 0}
    if bad:
        raise ValueError(f"these parameters must be >= 0: {bad}")


def _as_size(size: int | tuple[int, ...], n: int) -> tuple[int, ...]:
    sizes = (size,) * n if isinstance(size, int) else tuple(int(s) for s in size)
    if len(sizes) != n or min(sizes) <= 0:
        raise ValueError(f"size must be a positive int or {n} positive ints, got {size}")
    return sizes


def _check_batch(inputs: Any, owner: str, n: int) -> tuple[Tensor, Tensor]:
    """``values`` ``[B, C, *S]`` and ``spacing`` broadcast to ``[B, n]`` float32."""
    axes = "X, Y, Z" if n == 3 else "H, W"
    expected = f"{owner} expects {{'values': [B, C, {axes}], 'spacing': [B, {n}] or [{n}]}}"
    if not isinstance(inputs, dict) or "values" not in inputs or "spacing" not in inputs:
        got = f"keys {sorted(inputs)}" if isinstance(inputs, dict) else type(inputs).__name__
        raise ValueError(f"{expected}, got {got}")
    values = inputs["values"]
    spacing = torch.as_tensor(inputs["spacing"], device=values.device).float()
    if spacing.dim() == 1:
        spacing = spacing.unsqueeze(0)
    if (
        values.dim() != n + 2
        or spacing.dim() != 2
        or spacing.shape[1] != n
        or spacing.shape[0] not in (1, values.shape[0])
    ):
        raise ValueError(
            f"{expected}, got values {tuple(values.shape)} and spacing {tuple(spacing.shape)}"
        )
    return values, spacing.expand(values.shape[0], n)


def _crop(
    scale: tuple[float, float], b: int, n: int, device: torch.device
) -> tuple[Tensor, Tensor]:
    """Per-axis crop fractions ``[B, n]`` and crop centres in normalised units ``[B, n]``."""
    fraction = _uniform(scale[0], scale[1], (b, n), device)
    centre = (2 * torch.rand(b, n, device=device) - 1) * (1 - fraction)
    return fraction, centre


class VolumeViews(nn.Module):
    """Random views of the volume contract ``{"values", "spacing", "affine"?}``.

    In order, per sample: a random crop whose extent along each axis is a fraction of the
    volume's drawn from ``scale`` (independently per axis, so the output's voxel size changes
    per axis: a physical resolution jitter, reported in ``spacing``), resized to ``size`` with
    trilinear interpolation; random flips along each axis; random 90-degree rotations only in
    planes whose two axes have equal spacing (within ``rot90_tolerance``), so a thick-slice
    axis never swaps with an in-plane one; intensity ``values * a + b`` with
    ``a = 1 +- intensity_scale`` and ``b = +- intensity_shift`` (normalised units); Gaussian
    noise. The geometry is one resampling pass.

    ``spacing`` becomes the output voxel size: the crop's extent in millimetres divided by the
    output voxels, permuted with the rotations. A volume's ``affine`` (voxel index -> RAS+ mm)
    is composed with the view's index map, so it still locates every output voxel. Other keys
    pass through unchanged.

    For DINO, use a second instance with a smaller ``size`` and ``scale`` as ``local_augment``
    (the tokenizers accept any size that is a multiple of their patch).

    Args:
        size: Output ``(X, Y, Z)`` in voxels (an int for a cube).
        scale: Range of the crop's extent per axis, as a fraction of the volume's.
        flip_prob: Probability of flipping along each axis (one value or one per axis).
        rot90: Allow 90-degree rotations in planes of equal spacing.
        rot90_tolerance: Relative spacing difference up to which two axes count as equal.
        intensity_scale: Half-width of the multiplicative intensity factor around 1.
        intensity_shift: Half-width of the additive intensity shift around 0.
        noise_std: Standard deviation of additive Gaussian noise.

    Raises:
        ValueError: On an invalid configuration.
    """

    _rotations: Tensor

    def __init__(
        self,
        size: int | tuple[int, int, int] = 64,
        scale: tuple[float, float] = (0.5, 1.0),
        flip_prob: float | tuple[float, float, float] = 0.5,
        rot90: bool = True,
        rot90_tolerance: float = 0.05,
        intensity_scale: float = 0.1,
        intensity_shift: float = 0.1,
        noise_std: float = 0.02,
    ) -> None:
        super().__init__()
        self.size = _as_size(size, 3)
        _check_range("scale", scale, 0.0, 1.0)
        flips = (flip_prob,) * 3 if isinstance(flip_prob, int | float) else tuple(flip_prob)
        if len(flips) != 3 or not all(0.0 <= p <= 1.0 for p in flips):
            raise ValueError(f"flip_prob must be one or three probabilities, got {flip_prob}")
        _check_non_negative(
            rot90_tolerance=rot90_tolerance,
            intensity_scale=intensity_scale,
            intensity_shift=intensity_shift,
            noise_std=noise_std,
        )
        self.scale = (float(scale[0]), float(scale[1]))
        self.flip_prob = tuple(float(p) for p in flips)
        self.rot90 = rot90
        self.rot90_tolerance = rot90_tolerance
        self.intensity_scale = intensity_scale
        self.intensity_shift = intensity_shift
        self.noise_std = noise_std
        # [3 planes, 4 turns, 3, 3]: in = R v, a quarter turn maps v_a <- -v_b, v_b <- v_a.
        quarter = torch.eye(3).repeat(3, 1, 1)
        for i, (a, b) in enumerate(_PLANES):
            quarter[i, a, a] = quarter[i, b, b] = 0
            quarter[i, a, b], quarter[i, b, a] = -1, 1
        turns = [torch.eye(3).expand(3, 3, 3)]
        for _ in range(3):
            turns.append(turns[-1] @ quarter)
        self.register_buffer("_rotations", torch.stack(turns, dim=1), persistent=False)

    def _orientation(self, spacing: Tensor) -> Tensor:
        """Signed permutation ``[B, 3, 3]`` (input axis <- output axis) of flips and rot90s."""
        b, device = spacing.shape[0], spacing.device
        probs = torch.tensor(self.flip_prob, device=device)
        signs = torch.where(torch.rand(b, 3, device=device) < probs, -1.0, 1.0)
        orientation = torch.diag_embed(signs)
        if not self.rot90:
            return orientation
        rotations = self._rotations.to(device)
        for i, (a, c) in enumerate(_PLANES):
            # Spacing seen along each output axis under the turns drawn so far.
            seen = (orientation.abs().transpose(1, 2) @ spacing.unsqueeze(-1)).squeeze(-1)
            s_a, s_c = seen[:, a], seen[:, c]
            equal = (s_a - s_c).abs() <= self.rot90_tolerance * torch.maximum(s_a, s_c)
            turns = torch.randint(0, 4, (b,), device=device) * equal
            orientation = orientation @ rotations[i, turns]
        return orientation

    def forward(self, inputs: dict[str, Any]) -> dict[str, Any]:
        """Draw one random view per sample.

        Args:
            inputs: ``{"values": [B, C, X, Y, Z], "spacing": [B, 3] or [3] (mm),
                "affine": [B, 4, 4] or [4, 4] (optional), ...}``.

        Returns:
            A new dict with the same keys: ``values`` ``[B, C, *size]``, ``spacing`` ``[B, 3]``
            and ``affine`` (when given) ``[B, 4, 4]`` of the view.

        Raises:
            ValueError: When ``values`` or ``spacing`` have the wrong shape.
        """
        values, spacing = _check_batch(inputs, type(self).__name__, 3)
        b, device = values.shape[0], values.device
        in_shape = tuple(values.shape[2:])
        fraction, centre = _crop(self.scale, b, 3, device)
        orientation = self._orientation(spacing)
        matrix = fraction.unsqueeze(-1) * orientation  # diag(fraction) @ orientation
        out = _resample(values.float(), matrix, centre, self.size)

        extent = fraction * torch.tensor(in_shape, device=device) * spacing  # mm, input axes
        size = torch.tensor(self.size, device=device, dtype=torch.float32)
        new_spacing = (orientation.abs().transpose(1, 2) @ extent.unsqueeze(-1)).squeeze(-1)
        result = {**inputs, "spacing": (new_spacing / size).to(spacing.dtype)}
        if isinstance(inputs.get("affine"), Tensor):
            affine = inputs["affine"]
            index_map = _index_map(matrix.double(), centre.double(), in_shape, self.size)
            result["affine"] = (affine.to(device, torch.float64) @ index_map).to(affine.dtype)

        if self.intensity_scale > 0 or self.intensity_shift > 0:
            gain = _uniform(-self.intensity_scale, self.intensity_scale, (b, 1, 1, 1, 1), device)
            shift = _uniform(-self.intensity_shift, self.intensity_shift, (b, 1, 1, 1, 1), device)
            out = out * (1 + gain) + shift
        if self.noise_std > 0:
            out = out + torch.randn_like(out) * self.noise_std
        result["values"] = out.to(values.dtype)
        return result


class RadiographViews(nn.Module):
    """Random views of the radiograph contract ``{"values": [B, C, H, W], "spacing"}``.

    In order, per sample: a random crop whose height and width are fractions of the image's
    drawn from ``scale`` (independently, so pixel spacing jitters per axis), optionally
    rotated by a small angle (in millimetres, so anisotropic pixels are not sheared) and
    mirrored left-right, resized to ``size`` bilinearly in one pass (edge pixels extend where a
    rotated crop leaves the image); gamma (on each image's own min-max range), contrast about
    the image mean and brightness; Gaussian noise. ``spacing`` becomes the output pixel size.
    Other keys pass through unchanged.

    Horizontal flips are off by default: chest radiographs have laterality (heart on the
    patient's left), which a mirrored view would contradict.

    Args:
        size: Output ``(H, W)`` in pixels (an int for a square).
        scale: Range of the crop's height and width as fractions of the image's.
        hflip: Mirror left-right with probability 0.5.
        rotation: Largest rotation in degrees (uniform in ``+-rotation``); 0 disables it.
        brightness: Half-width of the additive shift (normalised units).
        contrast: Half-width of the contrast factor around 1.
        gamma: Gamma drawn log-uniformly in ``[1 / (1 + gamma), 1 + gamma]``.
        noise_std: Standard deviation of additive Gaussian noise.

    Raises:
        ValueError: On an invalid configuration.
    """

    def __init__(
        self,
        size: int | tuple[int, int] = 224,
        scale: tuple[float, float] = (0.6, 1.0),
        hflip: bool = False,
        rotation: float = 5.0,
        brightness: float = 0.1,
        contrast: float = 0.1,
        gamma: float = 0.2,
        noise_std: float = 0.02,
    ) -> None:
        super().__init__()
        self.size = _as_size(size, 2)
        _check_range("scale", scale, 0.0, 1.0)
        if not 0.0 <= rotation <= 180.0:
            raise ValueError(f"rotation must be in [0, 180] degrees, got {rotation}")
        _check_non_negative(
            brightness=brightness, contrast=contrast, gamma=gamma, noise_std=noise_std
        )
        self.scale = (float(scale[0]), float(scale[1]))
        self.hflip = hflip
        self.rotation = rotation
        self.brightness = brightness
        self.contrast = contrast
        self.gamma = gamma
        self.noise_std = noise_std

    def _geometry(
        self, spacing: Tensor, in_shape: tuple[int, int]
    ) -> tuple[Tensor, Tensor, Tensor]:
        """Normalised map (matrix, offset) and the output spacing ``[B, 2]``."""
        b, device = spacing.shape[0], spacing.device
        half = torch.tensor(in_shape, device=device) / 2 * spacing  # half extent, mm
        fraction, centre = _crop(self.scale, b, 2, device)
        crop_half = fraction * half
        angle = _uniform(-self.rotation, self.rotation, (b,), device) * (math.pi / 180)
        cos, sin = angle.cos(), angle.sin()
        rotation = torch.stack([torch.stack([cos, -sin], -1), torch.stack([sin, cos], -1)], 1)
        if self.hflip:
            mirror = torch.where(torch.rand(b, device=device) < 0.5, -1.0, 1.0)
            rotation = rotation * torch.stack([torch.ones_like(mirror), mirror], -1).unsqueeze(1)
        # Output normalised -> crop mm (scale) -> rotated mm -> input normalised.
        matrix = rotation * crop_half.unsqueeze(1) / half.unsqueeze(-1)
        size = torch.tensor(self.size, device=device, dtype=torch.float32)
        return matrix, centre, 2 * crop_half / size

    def _intensity(self, out: Tensor) -> Tensor:
        b, device = out.shape[0], out.device
        shape = (b, 1, 1, 1)
        if self.gamma > 0:
            log_gamma = _uniform(-1, 1, shape, device) * math.log1p(self.gamma)
            low = out.amin(dim=(1, 2, 3), keepdim=True)
            high = out.amax(dim=(1, 2, 3), keepdim=True)
            span = (high - low).clamp(min=1e-6)
            unit = ((out - low) / span).clamp(0, 1)
            out = low + span * unit.pow(log_gamma.exp())
        if self.contrast > 0:
            factor = 1 + _uniform(-self.contrast, self.contrast, shape, device)
            mean = out.mean(dim=(1, 2, 3), keepdim=True)
            out = (out - mean) * factor + mean
        if self.brightness > 0:
            out = out + _uniform(-self.brightness, self.brightness, shape, device)
        if self.noise_std > 0:
            out = out + torch.randn_like(out) * self.noise_std
        return out

    def forward(self, inputs: dict[str, Any]) -> dict[str, Any]:
        """Draw one random view per sample.

        Args:
            inputs: ``{"values": [B, C, H, W], "spacing": [B, 2] or [2] (mm), ...}``.

        Returns:
            A new dict with the same keys: ``values`` ``[B, C, *size]`` and ``spacing``
            ``[B, 2]`` of the view.

        Raises:
            ValueError: When ``values`` or ``spacing`` have the wrong shape.
        """
        values, spacing = _check_batch(inputs, type(self).__name__, 2)
        in_shape = (int(values.shape[2]), int(values.shape[3]))
        matrix, centre, new_spacing = self._geometry(spacing, in_shape)
        out = _resample(values.float(), matrix, centre, self.size)
        out = self._intensity(out)
        return {**inputs, "values": out.to(values.dtype), "spacing": new_spacing}
