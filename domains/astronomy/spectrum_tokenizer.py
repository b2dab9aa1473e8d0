"""1D patch tokens of spectra on a common wavelength grid.

:class:`SpectrumTokenizer` reads the spectrum contract of :mod:`domains.astronomy`::

    sample["spectrum"] = {
        "wavelength": FloatTensor[L],  # Angstrom (the datamodule's common grid, or any grid)
        "flux": FloatTensor[L],        # flux density, any unit
        "ivar": FloatTensor[L],        # inverse variance; 0 marks a bad or missing pixel
    }

and, batched (``[B, L]``; ``wavelength`` may also be ``[L]``), returns a
:class:`~foundations.encoders.tokens.TokenBatch`:

1. **Resampling**: unless the input already lies on the tokenizer's grid, spectra are rebinned
   onto it with :func:`~domains.astronomy.spectra.resample_spectra` (inverse-variance
   weighted; bad pixels carry no weight).
2. **Normalisation**: each spectrum is divided by the median flux of its valid pixels (a
   robust continuum level, so that line depths and the continuum shape remain), and the
   inverse variance multiplied by its square. The level is kept as a feature:
   ``log10(|median| / flux_unit)`` is the content of one extra *scale token*, placed first.
3. **Patches**: the grid is cut into ``num_pixels / patch_size`` patches; a patch token is an
   MLP of its normalised flux (0 on bad pixels, clipped to ``+-clip``), its pixel validity and
   ``log1p`` of its per-pixel signal-to-noise ``sqrt(ivar) * |median|``.
4. **Positions**: each patch gets a fixed sinusoidal encoding of ``ln`` of its centre
   wavelength (periods from ``min_period`` to ``max_period`` in ``ln lambda``), so the same
   wavelength gets the same position on any grid and a Doppler shift is a translation; the
   scale token gets a learned position.

Masks: a patch without any valid pixel is padding (``padding_mask`` True); the scale token is
never padding, so a missing spectrum (all ``ivar`` 0, as the datamodule's placeholder) still
has one real token and the encoder output stays finite. ``target`` is the normalised flux per
patch ``[B, 1 + N, patch_size]`` with ``target_mask`` True on valid pixels (never on the scale
token), for masked modelling. Nothing NaN or infinite reaches the outputs, whatever the
unmasked inputs hold.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import torch
from torch import Tensor, nn

from domains.astronomy.spectra import resample_spectra, wavelength_grid
from domains.astronomy.tokenizer import sinusoidal_time_encoding
from foundations.encoders.tokens import TokenBatch

SPECTRUM_KEYS = ("wavelength", "flux", "ivar")
"""Keys of the spectrum contract that the tokenizer reads."""

MIN_LEVEL = 1e-30
"""Floor of ``|median flux|`` before dividing by it."""


class SpectrumTokenizer(nn.Module):
    """Tokenize spectra as 1D patches of a common wavelength grid, plus a scale token.

    Args:
        embed_dim: Token width ``D`` (even).
        wave_min: First pixel centre of the grid, Angstrom.
        wave_max: Last pixel centre of the grid, Angstrom.
        num_pixels: Pixels of the grid; a multiple of ``patch_size``.
        patch_size: Pixels per patch.
        log_grid: Grid evenly spaced in log wavelength (else linear).
        hidden_dim: Width of the patch MLP's hidden layer; defaults to ``embed_dim``.
        clip: Normalised fluxes are clipped to ``[-clip, clip]``.
        flux_unit: Reference flux of the scale feature, ``log10(|median| / flux_unit)``
            (e.g. ``1e-17`` for SDSS fluxes in erg/s/cm^2/A), so the feature is of order one.
        min_period: Shortest period of the position encoding, in ``ln lambda``.
        max_period: Longest period of the position encoding, in ``ln lambda``.

    Attributes:
        embed_dim: Token width.
        target_dim: Pixels per masked-modelling target (``patch_size``).
        num_patches: Patches per spectrum (the scale token comes on top).

    Raises:
        ValueError: On an odd ``embed_dim``, a grid that patches do not tile, or bad periods.
    """

    def __init__(
        self,
        embed_dim: int = 128,
        wave_min: float = 3800.0,
        wave_max: float = 9200.0,
        num_pixels: int = 512,
        patch_size: int = 16,
        log_grid: bool = True,
        hidden_dim: int | None = None,
        clip: float = 10.0,
        flux_unit: float = 1.0,
        min_period: float = 0.002,
        max_period: float = 5.0,
    ) -> None:
        super().__init__()
        if embed_dim <= 0 or embed_dim % 2:
            raise ValueError(f"embed_dim must be positive and even, got {embed_dim}")
        if patch_size < 1 or num_pixels % patch_size:
            raise ValueError(
                f"num_pixels ({num_pixels}) must be a multiple of patch_size ({patch_size})"
            )
        if not 0 < min_period < max_period or clip <= 0 or flux_unit <= 0:
            raise ValueError(
                "need 0 < min_period < max_period, clip > 0 and flux_unit > 0, got "
                f"{min_period}, {max_period}, {clip}, {flux_unit}"
            )
        self.embed_dim = embed_dim
        self.patch_size = patch_size
        self.target_dim = patch_size
        self.num_patches = num_pixels // patch_size
        self.clip = clip
        self.log_unit = math.log10(flux_unit)
        grid = torch.as_tensor(wavelength_grid(wave_min, wave_max, num_pixels, log_grid))
        self.grid: Tensor
        self.register_buffer("grid", grid, persistent=False)
        hidden = hidden_dim or embed_dim
        self.patch_mlp = nn.Sequential(
            nn.Linear(3 * patch_size, hidden), nn.GELU(), nn.Linear(hidden, embed_dim)
        )
        self.scale_proj = nn.Linear(1, embed_dim)
        self.scale_pos = nn.Parameter(torch.zeros(1, 1, embed_dim))
        nn.init.normal_(self.scale_pos, std=0.02)
        periods = torch.logspace(
            math.log10(min_period), math.log10(max_period), embed_dim // 2, dtype=torch.float64
        )
        centres = torch.log(grid.reshape(self.num_patches, patch_size)).mean(dim=1)
        self.patch_pos: Tensor
        self.register_buffer(
            "patch_pos",
            sinusoidal_time_encoding(centres, 1.0 / periods)[None],
            persistent=False,
        )

    def _on_grid(self, inputs: Mapping[str, Tensor]) -> tuple[Tensor, Tensor]:
        """Flux and ivar ``[B, G]`` on the tokenizer's grid (rebinned when needed)."""
        missing = [key for key in SPECTRUM_KEYS if key not in inputs]
        if missing:
            raise ValueError(
                f"{type(self).__name__} needs keys {list(SPECTRUM_KEYS)}; missing {missing}"
            )
        wavelength, flux, ivar = (inputs[key] for key in SPECTRUM_KEYS)
        if flux.dim() != 2 or flux.shape != ivar.shape:
            raise ValueError(
                f"{type(self).__name__} needs [B, L] flux and ivar of one shape, got "
                f"{tuple(flux.shape)} and {tuple(ivar.shape)}"
            )
        grid = self.grid.to(wavelength.dtype)
        same = wavelength.shape[-1] == grid.numel() and bool(
            torch.allclose(wavelength, grid.expand_as(wavelength), rtol=1e-6, atol=0.0)
        )
        if same:
            return flux, ivar
        return resample_spectra(wavelength, flux, ivar, self.grid)

    def forward(self, inputs: Mapping[str, Tensor]) -> TokenBatch:
        """Tokenize a batch of spectra.

        Args:
            inputs: ``{"wavelength", "flux", "ivar"}``, ``[B, L]`` (wavelength also ``[L]``).

        Returns:
            The :class:`TokenBatch` of the module docstring: ``1 + num_patches`` tokens.

        Raises:
            ValueError: On a missing key or mismatched shapes.
        """
        flux, ivar = self._on_grid(inputs)
        dtype = self.scale_proj.weight.dtype
        valid = torch.isfinite(flux) & torch.isfinite(ivar) & (ivar > 0)
        batch = flux.shape[0]
        level = torch.nanmedian(torch.where(valid, flux, torch.nan), dim=1).values
        level = torch.nan_to_num(level, nan=1.0).abs().clamp_min(MIN_LEVEL)
        scaled = torch.where(valid, flux / level[:, None], 0.0).clamp(-self.clip, self.clip)
        snr = torch.where(valid, torch.sqrt(ivar.clamp_min(0.0)) * level[:, None], 0.0)
        snr = torch.log1p(torch.nan_to_num(snr, nan=0.0, posinf=1e30))
        shape = (batch, self.num_patches, self.patch_size)
        scaled, mask = scaled.to(dtype).reshape(shape), valid.reshape(shape)
        features = torch.cat([scaled, mask.to(dtype), snr.to(dtype).reshape(shape)], dim=-1)
        patches = self.patch_mlp(features)
        log_level = (torch.log10(level.double()) - self.log_unit).to(dtype)
        scale_token = self.scale_proj(log_level[:, None])[:, None]
        tokens = torch.cat([scale_token, patches], dim=1)
        pos = torch.cat(
            [
                self.scale_pos.expand(batch, -1, -1).to(dtype),
                self.patch_pos.to(dtype).expand(batch, -1, -1),
            ],
            dim=1,
        )
        padding = torch.cat([mask.new_zeros(batch, 1), ~mask.any(dim=-1)], dim=1)
        target = torch.cat([scaled.new_zeros(batch, 1, self.patch_size), scaled], dim=1)
        target_mask = torch.cat([mask.new_zeros(batch, 1, self.patch_size), mask], dim=1)
        return TokenBatch(
            tokens=tokens, pos=pos, padding_mask=padding, target=target, target_mask=target_mask
        )
