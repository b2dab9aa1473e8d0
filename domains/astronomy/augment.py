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
  from a zero-point or calibration difference between surveys;
* an optional cap on the observations of a view (``max_observations``): a random subset of that
  many kept observations, packed in time order into ``[B, max_observations]`` tensors. A
  datamodule can then store whole light curves (a ``length`` above the one the encoder is
  evaluated at) and every epoch trains on a different subset of each star's observations at
  the evaluation's sequence length, instead of on one fixed crop.

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


def is_per_observation(value: Any, batch: int, length: int) -> bool:
    """Whether ``value`` is a ``[B, L]`` tensor (one entry per observation)."""
    return isinstance(value, Tensor) and tuple(value.shape) == (batch, length)


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
        max_observations: Keep at most this many observations per view, drawn at random from
            the kept ones: inputs longer than that become ``[B, max_observations]`` tensors
            (real observations first, in their input order, then padding). ``None`` keeps the
            input length.

    Raises:
        ValueError: On ``keep`` outside ``0 < min <= max <= 1``, a negative scale or a
            non-positive ``max_observations``.
    """

    def __init__(
        self,
        keep: tuple[float, float] = (0.5, 0.9),
        noise_scale: float = 1.0,
        shift_days: float = 50.0,
        offset_scale: float = 0.0,
        max_observations: int | None = None,
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
        if max_observations is not None and max_observations < 1:
            raise ValueError(f"max_observations must be positive, got {max_observations}")
        self.keep = (bounds[0], bounds[1])
        self.noise_scale = float(noise_scale)
        self.shift_days = float(shift_days)
        self.offset_scale = float(offset_scale)
        self.max_observations = max_observations

    def extra_repr(self) -> str:
        return (
            f"keep={self.keep}, noise_scale={self.noise_scale}, shift_days={self.shift_days}, "
            f"offset_scale={self.offset_scale}, max_observations={self.max_observations}"
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

    def _pack(self, view: dict[str, Any], kept: Tensor, length: int) -> dict[str, Any]:
        """``length`` (< L) random kept observations of every ``[B, L]`` tensor of ``view``,
        real ones first in input order, padded where fewer were kept."""
        b, full = kept.shape
        # Real observations get random scores in [0, 1), padding -1: the top ``length`` scores
        # are a random subset of the kept observations, topped up with padding.
        score = torch.where(kept, torch.rand(kept.shape, device=kept.device), -1.0)
        chosen = score.topk(length, dim=1).indices
        real = kept.gather(1, chosen)
        order = torch.where(real, chosen, chosen + full).argsort(dim=1)
        index = chosen.gather(1, order)
        return {
            key: value.gather(1, index) if is_per_observation(value, b, full) else value
            for key, value in view.items()
        }

    def forward(self, inputs: dict[str, Any]) -> dict[str, Any]:
        """Draw one random view per object.

        Args:
            inputs: ``{"time", "value", "error", "band", "mask", ...}``, each ``[B, L]``.

        Returns:
            A new dict with the same keys; ``time``, ``value`` and ``mask`` of the view, the
            other keys unchanged (but, under ``max_observations``, every ``[B, L]`` tensor
            restricted to the observations of the view).

        Raises:
            ValueError: On missing keys or tensors that are not ``[B, L]`` of one shape.
        """
        b, length = check_photometry(inputs, type(self).__name__)
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

        view = {
            **inputs,
            "time": torch.where(kept, new_time, time),
            "value": torch.where(kept, new_value, value),
            "mask": kept.to(inputs["mask"].dtype),
        }
        if self.max_observations is None or self.max_observations >= length:
            return view
        return self._pack(view, kept, self.max_observations)
