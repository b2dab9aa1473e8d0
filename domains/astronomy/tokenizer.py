"""One token per observation of an irregularly sampled, multi-band light curve.

:class:`ObservationTokenizer` reads the light-curve contract of :mod:`domains.astronomy`
(``time``, ``value``, ``error``, ``band``, ``mask``, each ``[B, L]``) and returns a
:class:`~foundations.encoders.tokens.TokenBatch`:

* ``tokens``: an MLP of ``(value, error, log error)`` plus a learned embedding of the band;
* ``pos``: a fixed, continuous sinusoidal encoding of the real observation time in days, so
  that irregular cadences and periods survive (no binning onto a grid);
* ``padding_mask``: ``~mask``;
* ``target`` / ``target_mask``: the normalised value of each observation ``[B, L, 1]`` and
  ``mask[..., None]``, for masked modelling.

Time encoding: with ``F = embed_dim // 2`` periods ``P_k`` spaced geometrically from
``min_period_days`` to ``max_period_days``, ``pos[..., k] = sin(2 pi t / P_k)`` and
``pos[..., F + k] = cos(2 pi t / P_k)``. The short periods resolve intra-night structure (0.01 d
is about 15 minutes), the long ones order observations over decades of survey time (1e4 d is
about 27 years). The phase ``t / P_k mod 1`` is computed in float64 before the sine, since in
float32 a time of thousands of days divided by 0.01 d loses the phase entirely. Because each
pair is a rotation, ``pos(t1) . pos(t2) = sum_k cos(2 pi (t1 - t2) / P_k)`` depends only on the
time difference, and shifting every time by ``dt`` rotates each pair by ``2 pi dt / P_k``.

Masked modelling: ``foundations.methods.mae.MAE`` needs only ``pos``, ``target`` and the
``target_dim`` attribute from a tokenizer (no patch grid), so it works with this tokenizer.
Use ``norm_target=False`` there: a one-value target "patch" standardised by its own mean and
variance is always zero, so the loss would teach nothing.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor, nn

from domains.astronomy.folding import fold_phase, folded_profile
from foundations.encoders.tokens import TokenBatch
from foundations.host_sync import require

KEYS = ("time", "value", "error", "band", "mask")
"""Keys of the light-curve contract that the tokenizer reads."""

MIN_ERROR = 1e-6
"""Floor of the error before its logarithm is taken."""


def sinusoidal_time_encoding(
    time: Tensor, inverse_periods: Tensor, dtype: torch.dtype = torch.float32
) -> Tensor:
    """Continuous sinusoidal encoding of times in days.

    Args:
        time: Times in days, any shape ``S``.
        inverse_periods: ``[F]`` inverse periods in 1/day.
        dtype: Output dtype.

    Returns:
        ``[*S, 2F]``: ``sin`` of the phases, then ``cos`` of the phases.
    """
    compute = torch.float64 if time.device.type != "mps" else torch.float32
    cycles = time.to(compute)[..., None] * inverse_periods.to(compute)
    angle = 2.0 * math.pi * torch.remainder(cycles, 1.0)
    return torch.cat([torch.sin(angle), torch.cos(angle)], dim=-1).to(dtype)


def multiscale_sinusoids(values: Tensor, inverse_wavelengths: Tensor) -> Tensor:
    """Scalars followed by their sines and cosines at several wavelengths.

    A linear function of ``x`` is monotonic; a linear function of ``sin(2 pi x / w_k)`` and
    ``cos(2 pi x / w_k)`` over wavelengths from fine to coarse can rise and fall, so a linear
    layer (or a linear probe) on these features can single out an interval of ``x``.

    Args:
        values: ``[B, S]`` scalars.
        inverse_wavelengths: ``[K]`` inverse wavelengths, in the scalars' units.

    Returns:
        ``[B, S * (1 + 2K)]``: the scalars, then every sine, then every cosine.
    """
    angle = 2.0 * math.pi * values[..., None] * inverse_wavelengths
    return torch.cat([values, angle.sin().flatten(1), angle.cos().flatten(1)], dim=-1)


def check_photometry(inputs: Mapping[str, Any], owner: str) -> tuple[int, int]:
    """Check a batch of the light-curve contract: every key of :data:`KEYS`, all ``[B, L]``.

    Args:
        inputs: The photometry dict.
        owner: Name of the module doing the check, for the message.

    Returns:
        ``(B, L)``.

    Raises:
        ValueError: Naming the missing keys or the mismatched shapes.
    """
    missing = [key for key in KEYS if key not in inputs]
    if missing:
        raise ValueError(
            f"{owner} needs keys {list(KEYS)}; missing {missing} (got {sorted(inputs)})"
        )
    shapes = {key: tuple(inputs[key].shape) for key in KEYS}
    first = shapes["time"]
    if len(first) != 2 or any(shape != first for shape in shapes.values()):
        raise ValueError(
            f"{owner} needs [B, L] tensors of one shape for {list(KEYS)}; got {shapes}"
        )
    return first[0], first[1]


class ObservationTokenizer(nn.Module):
    """Tokenize light curves with one token per observation.

    Args:
        embed_dim: Token width ``D`` (even: half the width holds sines, half cosines).
        num_bands: Number of passband codes; ``band`` values of real observations must lie in
            ``[0, num_bands)``.
        hidden_dim: Width of the MLP hidden layer; defaults to ``embed_dim``.
        min_period_days: Shortest period of the time encoding, in days.
        max_period_days: Longest period of the time encoding, in days.
        object_features: Also read the per-object ``period`` (days), ``power``, ``median``
            and ``scale`` (``[B]``; ``PhotometryTableDataModule(periods=True)`` provides
            them). Every token then also gets the phase of its time at that period (the
            first ``harmonics`` harmonics; a phase-folded light curve, which a fixed bank of
            time frequencies cannot express for an arbitrary period) and an embedding of
            ``log10 period``, the power and ``log10 scale`` (the variability amplitude that
            robust normalisation takes out of the values).
        harmonics: Harmonics of the phase encoding.
        fold_factor: Fold at this multiple of the given period, with ``harmonics *
            fold_factor`` harmonics (which include the ``harmonics`` of the period itself).
            Lomb-Scargle finds half the orbital period of most eclipsing binaries, where the
            primary and secondary eclipses fall on the same phase; folding at twice that period
            (``2``) keeps them apart, so their depths can differ.
        object_frequencies: With ``object_features``, also encode each of the three object
            summaries by ``sin`` and ``cos`` of ``2 pi x / w_k`` at this many wavelengths
            ``w_k`` spaced geometrically from 0.1 to 10 (decades of period or amplitude, units
            of power) before their linear embedding. Variable-star classes occupy period
            intervals (delta Scuti below 0.2 d, RR Lyrae around 0.5 d, Miras above 100 d);
            a linear embedding of ``log10 period`` lets a linear probe cut it only once,
            sinusoids at several scales let it carve intervals. ``0`` keeps the plain linear
            embedding of earlier checkpoints.
        summary_bins: With ``N > 0``, :meth:`summary_target` gives the light curve folded at
            ``fold_factor`` periods in ``N`` phase bins, a per-object target for
            ``MAE(summary_weight=...)``.

    Attributes:
        embed_dim: Token width.
        target_dim: Width of the masked-modelling target per token (1: the value).
        summary_dim: Width of :meth:`summary_target` (``summary_bins``; 0: none).

    Raises:
        ValueError: On an odd or non-positive ``embed_dim``, ``num_bands < 1`` or periods that
            are not ``0 < min_period_days < max_period_days``.
    """

    target_dim: int = 1

    def __init__(
        self,
        embed_dim: int = 128,
        num_bands: int = 1,
        hidden_dim: int | None = None,
        min_period_days: float = 0.01,
        max_period_days: float = 10_000.0,
        object_features: bool = False,
        harmonics: int = 3,
        object_frequencies: int = 0,
        fold_factor: int = 1,
        summary_bins: int = 0,
    ) -> None:
        super().__init__()
        if embed_dim <= 0 or embed_dim % 2:
            raise ValueError(f"embed_dim must be positive and even, got {embed_dim}")
        if num_bands < 1:
            raise ValueError(f"num_bands must be >= 1, got {num_bands}")
        if not 0 < min_period_days < max_period_days:
            raise ValueError(
                "need 0 < min_period_days < max_period_days, got "
                f"{min_period_days} and {max_period_days}"
            )
        self.embed_dim = embed_dim
        self.num_bands = num_bands
        self.min_period_days = min_period_days
        self.max_period_days = max_period_days
        hidden = hidden_dim or embed_dim
        self.value_proj = nn.Linear(3, hidden)
        self.content = nn.Sequential(nn.Linear(3, hidden), nn.GELU(), nn.Linear(hidden, embed_dim))
        self.band_embed = nn.Embedding(num_bands, embed_dim)
        nn.init.normal_(self.band_embed.weight, std=0.02)
        periods = torch.logspace(
            math.log10(min_period_days),
            math.log10(max_period_days),
            embed_dim // 2,
            dtype=torch.float64,
        )
        self.inverse_periods: Tensor
        self.register_buffer("inverse_periods", 1.0 / periods, persistent=False)
        if harmonics < 1:
            raise ValueError(f"harmonics must be >= 1, got {harmonics}")
        if fold_factor < 1:
            raise ValueError(f"fold_factor must be >= 1, got {fold_factor}")
        if object_frequencies < 0:
            raise ValueError(f"object_frequencies must be >= 0, got {object_frequencies}")
        self.object_features = object_features
        self.harmonics = harmonics
        self.fold_factor = fold_factor
        self.object_frequencies = object_frequencies
        if summary_bins < 0:
            raise ValueError(f"summary_bins must be >= 0, got {summary_bins}")
        self.summary_dim = summary_bins
        self.object_inverse_wavelengths: Tensor
        self.register_buffer(
            "object_inverse_wavelengths",
            1.0 / torch.logspace(-1.0, 1.0, object_frequencies),
            persistent=False,
        )
        self.phase_proj: nn.Linear | None = None
        self.object_proj: nn.Linear | None = None
        if object_features:
            self.phase_proj = nn.Linear(2 * harmonics * fold_factor, embed_dim)
            self.object_proj = nn.Linear(3 * (1 + 2 * object_frequencies), embed_dim)

    def summary_target(self, inputs: Mapping[str, Tensor]) -> Tensor:
        """The folded light curve of every object, ``[B, summary_bins]``.

        The mean normalised value in each phase bin at ``fold_factor`` times the object's
        period, rolled so that minimum light comes first (:func:`folded_profile`, the
        folded-shape baseline's feature), from every real observation of the view.

        Raises:
            ValueError: Without ``summary_bins`` or the per-object ``period``.
        """
        if not self.summary_dim:
            raise ValueError(f"{type(self).__name__}(summary_bins=0) has no summary target")
        if "period" not in inputs:
            raise ValueError(
                f"{type(self).__name__}.summary_target needs per-object 'period' in the "
                "photometry (PhotometryTableDataModule(periods=True) provides them)"
            )
        period = inputs["period"].to(torch.float64).clamp_min(1e-6)
        profile = folded_profile(
            inputs["time"],
            inputs["value"],
            inputs["mask"],
            period,
            self.summary_dim,
            float(self.fold_factor),
        )
        return profile.to(self.value_proj.weight.dtype)

    def _object_terms(
        self, inputs: Mapping[str, Tensor], time: Tensor, dtype: torch.dtype
    ) -> Tensor:
        """Phase encoding at each object's period plus its object embedding, ``[B, L, D]``."""
        assert self.phase_proj is not None and self.object_proj is not None
        missing = [key for key in ("period", "power", "scale") if key not in inputs]
        if missing:
            raise ValueError(
                f"{type(self).__name__}(object_features=True) needs per-object {missing} in the "
                "photometry (PhotometryTableDataModule(periods=True) provides them)"
            )
        period = inputs["period"].to(torch.float64).clamp_min(1e-6)
        cycles = fold_phase(time, period, self.fold_factor)
        count = self.harmonics * self.fold_factor
        orders = torch.arange(1, count + 1, device=time.device, dtype=torch.float64)
        angle = 2.0 * math.pi * cycles[..., None] * orders
        phase = torch.cat([torch.sin(angle), torch.cos(angle)], dim=-1).to(dtype)
        scale = inputs["scale"].to(dtype).clamp_min(MIN_ERROR)
        summary = torch.stack(
            [torch.log10(period.to(dtype)), inputs["power"].to(dtype), torch.log10(scale)], dim=-1
        )
        if self.object_frequencies:
            summary = multiscale_sinusoids(summary, self.object_inverse_wavelengths.to(dtype))
        return self.phase_proj(phase) + self.object_proj(summary)[:, None, :]

    def forward(self, inputs: Mapping[str, Tensor]) -> TokenBatch:
        """Tokenize a batch of light curves.

        Padded observations (``mask`` False) may hold anything, NaN included: they are zeroed
        before the MLP so that no NaN reaches the trunk, and they are marked as padding.

        Args:
            inputs: ``{"time", "value", "error", "band", "mask"}``, each ``[B, L]``.

        Returns:
            The :class:`TokenBatch` described in the module docstring.

        Raises:
            ValueError: On a missing key, tensors that are not ``[B, L]`` of one shape, or a
                real observation whose band is outside ``[0, num_bands)``.
        """
        check_photometry(inputs, type(self).__name__)
        mask = inputs["mask"].bool()
        dtype = self.value_proj.weight.dtype
        value = torch.where(mask, inputs["value"].to(dtype), 0.0)
        error = torch.where(mask, inputs["error"].to(dtype), 1.0)
        band = torch.where(mask, inputs["band"].long(), 0)
        require(
            (band >= 0) & (band < self.num_bands),
            f"band codes must lie in [0, {self.num_bands}) for real observations; raise num_bands",
        )
        features = torch.stack([value, error, torch.log(error.clamp(min=MIN_ERROR))], dim=-1)
        tokens = self.content(features) + self.band_embed(band)
        time = torch.where(mask, inputs["time"], torch.zeros_like(inputs["time"]))
        if self.phase_proj is not None and self.object_proj is not None:
            tokens = tokens + self._object_terms(inputs, time, dtype)
        pos = sinusoidal_time_encoding(time, self.inverse_periods, tokens.dtype)
        return TokenBatch(
            tokens=tokens,
            pos=pos,
            padding_mask=~mask,
            target=value[..., None],
            target_mask=mask[..., None],
        )
