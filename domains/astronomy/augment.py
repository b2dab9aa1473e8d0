"""Physically meaningful random views of light curves, batched on the device.

:class:`LightCurveViews` reads the light-curve contract of :mod:`domains.astronomy`
(``time``, ``value``, ``error``, ``band``, ``mask``, each ``[B, L]``) and draws one view per
object, every step acting only on real observations:

* cadence subsampling: each real observation is kept with a probability drawn per object from
  ``keep``; dropped observations become padding (``mask`` False). At least one real observation
  is always kept, so a curve with observations never becomes empty;
* noise resampled from the errors: ``value += N(0, error) * noise_scale``, so a noisier point
  moves more, as a re-observation of the same star would;
* a random time shift per object, ``time += U(-shift_days, shift_days)``: the reference epoch is
  arbitrary, periods are not;
* an optional per-object offset of the (normalised) value, ``value += N(0, offset_scale)``, as
  from a zero-point or calibration difference between surveys.

Positions that are padding in the view (padding already, or dropped) keep their input values
untouched; the tokenizer ignores them. Other keys of the dict pass through unchanged. Random
numbers come from torch's global generator on the batch's device, so ``torch.manual_seed``
makes views reproducible.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from domains.astronomy.tokenizer import check_photometry

"""Keys of the light-curve contract that the views read."""


class LightCurveViews(nn.Module):
    """Random views of batched light curves.

    Args:
        keep: ``(min, max)`` probability of keeping each real observation; the probability is
            drawn uniformly per object. ``0 < min <= max <= 1``.
        noise_scale: Multiplier of the per-observation Gaussian noise drawn from ``error``
            (0 disables it).
        shift_days: Half-width of the uniform per-object time shift, in days (0 disables it).
        offset_scale: Standard deviation of the per-object value offset, in normalised units
            (0, the default, disables it).

    Raises:
        ValueError: On ``keep`` outside ``0 < min <= max <= 1`` or a negative scale.
    """

    def __init__(
        self,
        keep: tuple[float, float] = (0.5, 0.9),
        noise_scale: float = 1.0,
        shift_days: float = 50.0,
        offset_scale: float = 0.0,
    ) -> None:
        super().__init__()
        bounds = tuple(float(k) for k in keep)
        if len(bounds) != 2 or not 0.0 < bounds[0] <= bounds[1] <= 1.0:
            raise ValueError(f"keep must be (min, max) with 0 < min <= max <= 1, got {keep}")
        negative = {
            name: value
            for name, value in (
                ("noise_scale", noise_scale),
                ("shift_days", shift_days),
                ("offset_scale", offset_scale),
            )
            if not value >= 0
        }
        if negative:
            raise ValueError(f"these parameters must be >= 0: {negative}")
        self.keep = (bounds[0], bounds[1])
        self.noise_scale = float(noise_scale)
        self.shift_days = float(shift_days)
        self.offset_scale = float(offset_scale)

    def extra_repr(self) -> str:
        return (
            f"keep={self.keep}, noise_scale={self.noise_scale}, shift_days={self.shift_days}, "
            f"offset_scale={self.offset_scale}"
        )

    def _subsample(self, mask: Tensor) -> Tensor:
        """Kept observations ``[B, L]``: a subset of ``mask``, non-empty where ``mask`` is."""
        b, device = mask.shape[0], mask.device
        low, high = self.keep
        probability = low + (high - low) * torch.rand(b, 1, device=device)
        score = torch.rand(mask.shape, device=device)
        kept = mask & (score < probability)
        # Rescue objects left empty: keep the real observation with the lowest score.
        empty = mask.any(dim=1) & ~kept.any(dim=1)
        first = torch.where(mask, score, torch.full_like(score, 2.0)).argmin(dim=1)
        rescue = torch.zeros_like(mask)
        rescue[torch.arange(b, device=device), first] = True
        return kept | (rescue & empty[:, None])

    def forward(self, inputs: dict[str, Any]) -> dict[str, Any]:
        """Draw one random view per object.

        Args:
            inputs: ``{"time", "value", "error", "band", "mask", ...}``, each ``[B, L]``.

        Returns:
            A new dict with the same keys; ``time``, ``value`` and ``mask`` of the view, the
            other keys unchanged.

        Raises:
            ValueError: On missing keys or tensors that are not ``[B, L]`` of one shape.
        """
        b, _ = check_photometry(inputs, type(self).__name__)
        mask = inputs["mask"].bool()
        time, value, error = inputs["time"], inputs["value"], inputs["error"]
        device = value.device
        kept = self._subsample(mask)

        new_value = value
        if self.noise_scale > 0:
            sigma = torch.nan_to_num(error.float(), nan=0.0).clamp_min(0.0)
            noise = torch.randn(value.shape, device=device) * sigma * self.noise_scale
            new_value = new_value + noise.to(value.dtype)
        if self.offset_scale > 0:
            offset = torch.randn(b, 1, device=device) * self.offset_scale
            new_value = new_value + offset.to(value.dtype)
        new_time = time
        if self.shift_days > 0:
            shift = (2.0 * torch.rand(b, 1, device=device) - 1.0) * self.shift_days
            new_time = new_time + shift.to(time.dtype)

        return {
            **inputs,
            "time": torch.where(kept, new_time, time),
            "value": torch.where(kept, new_value, value),
            "mask": kept.to(inputs["mask"].dtype),
        }
