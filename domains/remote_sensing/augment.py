"""Physics-respecting random views of multispectral rasters, batched on the training device.

kornia draws the random-resized-crop boxes and performs the warp (``crop_and_resize``); flips
and 90-degree rotations are folded into the same warp by reordering the box corners, so values
and their nodata mask go through one identical geometric transform. The radiometric parts are
written by hand: kornia's colour augmentations assume 3-channel RGB in ``[0, 1]`` (they clamp
and mix channels into hue), which is wrong for reflectance, dB or 13-band inputs.
"""

from __future__ import annotations

from typing import Any

import torch
from kornia.augmentation import RandomResizedCrop
from kornia.geometry.transform import crop_and_resize
from torch import Tensor, nn

VISIBLE_RANGE = (0.4, 0.7)
"""Band centre wavelengths (micrometres) that count as visible for ``visible_jitter``."""

# Box corners are (top-left, top-right, bottom-right, bottom-left); reordering them with the
# output box fixed mirrors or rotates the crop.
_HFLIP = [1, 0, 3, 2]
_VFLIP = [3, 2, 1, 0]


class SpectralViews(nn.Module):
    """Random views of the remote-sensing image contract ``{"values", "valid", "wavelengths"}``.

    In order: a random resized crop to ``size`` with random flips and 90-degree rotations
    (imagery seen from above has no canonical orientation), resampled bilinearly from valid
    pixels only while ``valid`` is resampled with nearest neighbour, so nodata never bleeds
    into values; band dropout (whole bands become invalid, never every band of a sample);
    brightness / contrast jitter of the visible bands only (one factor shared by all visible
    bands, so band ratios, i.e. hue, are kept; infrared, thermal and SAR bands are untouched);
    illumination (one factor for every band of a sample: sun elevation and slope scale the whole
    spectrum and keep its shape); per-band gain and offset (calibration and atmosphere, in the
    data's units, drawn per acquisition); Gaussian sensor noise on valid pixels. Invalid pixels
    end at 0.

    Time series ``[B, T, C, H, W]`` get the same geometry and band dropout at every time step.
    Keys other than ``values`` and ``valid`` (wavelengths, dates, transform) pass through
    unchanged; note that a ``transform`` then describes the uncropped window.

    Args:
        size: Output height and width.
        scale: Range of the crop's area relative to the image.
        band_dropout: Probability of dropping each band.
        gain: Per-band multiplicative gain drawn from ``1 +- gain``.
        offset: Per-band additive offset drawn from ``+- offset`` (e.g. reflectance units).
        noise_std: Standard deviation of additive Gaussian noise on valid pixels.
        rot90: Rotate by a random multiple of 90 degrees.
        flips: Random horizontal and vertical flips.
        visible_jitter: Brightness and contrast factors drawn from ``1 +- visible_jitter`` for
            bands within 0.4-0.7 um; 0 disables it.
        illumination: One multiplicative factor per sample and time step, shared by all bands,
            drawn from ``1 +- illumination``; 0 disables it.

    Raises:
        ValueError: On an invalid configuration.
    """

    def __init__(
        self,
        size: int = 64,
        scale: tuple[float, float] = (0.5, 1.0),
        band_dropout: float = 0.1,
        gain: float = 0.1,
        offset: float = 0.02,
        noise_std: float = 0.01,
        rot90: bool = True,
        flips: bool = True,
        visible_jitter: float = 0.0,
        illumination: float = 0.0,
    ) -> None:
        super().__init__()
        if size <= 0:
            raise ValueError(f"size must be positive, got {size}")
        if not 0.0 <= band_dropout < 1.0:
            raise ValueError(f"band_dropout must be in [0, 1), got {band_dropout}")
        if min(gain, offset, noise_std, visible_jitter, illumination) < 0:
            raise ValueError(
                "gain, offset, noise_std, visible_jitter and illumination must be >= 0"
            )
        if illumination >= 1:
            raise ValueError(f"illumination must be below 1, got {illumination}")
        self.size = size
        self.crop = RandomResizedCrop((size, size), scale=scale)
        self.band_dropout = band_dropout
        self.gain = gain
        self.offset = offset
        self.noise_std = noise_std
        self.rot90 = rot90
        self.flips = flips
        self.visible_jitter = visible_jitter
        self.illumination = illumination

    def _boxes(self, shape: tuple[int, int, int, int], device: torch.device) -> Tensor:
        """Source boxes ``[B, 4, 2]`` with flips and rotations applied as corner orders."""
        boxes = self.crop.forward_parameters(torch.Size(shape))["src"].to(device, torch.float32)
        b = shape[0]
        if self.flips:
            for order in (_HFLIP, _VFLIP):
                flip = torch.rand(b, device=device) < 0.5
                boxes = torch.where(flip[:, None, None], boxes[:, order], boxes)
        if self.rot90:
            k = torch.randint(0, 4, (b, 1), device=device)
            corners = (torch.arange(4, device=device) + k) % 4
            boxes = torch.gather(boxes, 1, corners.unsqueeze(-1).expand(-1, -1, 2))
        return boxes

    def _geometry(self, values: Tensor, valid: Tensor) -> tuple[Tensor, Tensor]:
        """Crop, flip and rotate ``[B, L, H, W]`` values and validity identically."""
        b, layers, h, w = values.shape
        boxes = self._boxes((b, layers, h, w), values.device)
        size = (self.size, self.size)
        mask = valid.float()
        # Normalised convolution: interpolate only from valid neighbours.
        summed = crop_and_resize(values * mask, boxes, size, mode="bilinear")
        weight = crop_and_resize(mask, boxes, size, mode="bilinear")
        new_valid = crop_and_resize(mask, boxes, size, mode="nearest") > 0.5
        new_values = torch.where(new_valid, summed / weight.clamp(min=1e-6), 0.0)
        return new_values, new_valid

    def _drop_bands(self, valid: Tensor) -> Tensor:
        """Invalidate whole bands of ``[B, T, C, H, W]``, keeping one band with data."""
        b, _, c = valid.shape[:3]
        drop = torch.rand(b, c, device=valid.device) < self.band_dropout
        has_data = valid.flatten(3).any(-1).any(1)  # [B, C]
        rescue = (torch.rand(b, c, device=valid.device) + has_data.float()).argmax(-1)
        everything = (drop | ~has_data).all(-1, keepdim=True)
        rescue_mask = nn.functional.one_hot(rescue, c).bool() & everything
        drop = drop & ~rescue_mask
        return valid & ~drop[:, None, :, None, None]

    def _jitter_visible(self, values: Tensor, valid: Tensor, wavelengths: Tensor) -> Tensor:
        """Shared brightness/contrast factors for the visible bands of ``[B, T, C, H, W]``."""
        b, t = values.shape[:2]
        wl = wavelengths.to(values.device)
        wl = wl.view(-1, 1, wl.shape[-1], 1, 1)
        visible = (wl >= VISIBLE_RANGE[0]) & (wl <= VISIBLE_RANGE[1])
        if not bool(visible.any()):
            return values
        j = self.visible_jitter
        brightness = 1 + (2 * torch.rand(b, t, 1, 1, 1, device=values.device) - 1) * j
        contrast = 1 + (2 * torch.rand(b, t, 1, 1, 1, device=values.device) - 1) * j
        in_mean = visible & valid
        count = in_mean.sum(dim=(2, 3, 4), keepdim=True).clamp(min=1)
        mean = torch.where(in_mean, values, 0.0).sum(dim=(2, 3, 4), keepdim=True) / count
        jittered = ((values - mean) * contrast + mean) * brightness
        return torch.where(visible, jittered, values)

    def forward(self, inputs: dict[str, Any]) -> dict[str, Any]:
        """Draw one random view per sample.

        Args:
            inputs: ``{"values": [B, C, H, W] or [B, T, C, H, W], "valid": same shape,
                "wavelengths": [C] or [B, C], ...}``.

        Returns:
            A new dict with the same keys; ``values`` and ``valid`` are
            ``[B, (T,) C, size, size]``.

        Raises:
            ValueError: When ``values`` and ``valid`` differ in shape or are not 4D/5D.
        """
        values, valid = inputs["values"], inputs["valid"]
        if values.dim() not in (4, 5) or tuple(valid.shape) != tuple(values.shape):
            raise ValueError(
                "values and valid must both be [B, C, H, W] or [B, T, C, H, W], got "
                f"{tuple(values.shape)} and {tuple(valid.shape)}"
            )
        is_series = values.dim() == 5
        series = values if is_series else values.unsqueeze(1)
        b, t, c, h, w = series.shape
        dtype = values.dtype
        flat_values, flat_valid = self._geometry(
            series.reshape(b, t * c, h, w).float(), valid.reshape(b, t * c, h, w).bool()
        )
        out_values = flat_values.view(b, t, c, self.size, self.size)
        out_valid = flat_valid.view(b, t, c, self.size, self.size)

        if self.band_dropout > 0:
            out_valid = self._drop_bands(out_valid)
        if self.visible_jitter > 0:
            out_values = self._jitter_visible(out_values, out_valid, inputs["wavelengths"])
        if self.illumination > 0:
            factor = (
                1 + (2 * torch.rand(b, t, 1, 1, 1, device=values.device) - 1) * self.illumination
            )
            out_values = out_values * factor
        if self.gain > 0 or self.offset > 0:
            shape = (b, t, c, 1, 1)
            gains = 1 + (2 * torch.rand(shape, device=values.device) - 1) * self.gain
            offsets = (2 * torch.rand(shape, device=values.device) - 1) * self.offset
            out_values = out_values * gains + offsets
        if self.noise_std > 0:
            out_values = out_values + torch.randn_like(out_values) * self.noise_std
        out_values = torch.where(out_valid, out_values, 0.0)

        if not is_series:
            out_values, out_valid = out_values.squeeze(1), out_valid.squeeze(1)
        return {**inputs, "values": out_values.to(dtype), "valid": out_valid}
