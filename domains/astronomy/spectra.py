"""Common wavelength grids and inverse-variance-aware resampling of 1D spectra.

Spectra from different instruments come on different wavelength grids; before patching they
are put on one common grid. :func:`resample_spectra` rebins: every input pixel falls, by its
centre wavelength, into one output bin (bin edges halfway between grid points), and each bin
holds the inverse-variance-weighted mean of its pixels,

    ``flux_out = sum(ivar_j * flux_j) / sum(ivar_j)``,  ``ivar_out = sum(ivar_j)``,

the minimum-variance estimate of the bin's flux density and its exact inverse variance for
independent pixels. Pixels with ``ivar <= 0`` or a non-finite value (bad or missing pixels)
carry no weight, so they never leak into a bin; a bin that receives no weighted pixel gets
``ivar_out = 0`` (and flux 0), which marks it missing downstream. The grid should therefore be
no finer than the input pixels, or bins fall between pixels and stay empty. Assignment by pixel
centre (rather than fractional pixel overlap, as in ``specutils.FluxConservingResampler``)
keeps pixels independent, which keeps ``ivar_out`` exact; specutils works per spectrum in
Python, whereas this runs on whole batches with one ``bucketize`` and two ``scatter_add``.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor


def wavelength_grid(
    wave_min: float, wave_max: float, num_pixels: int, log: bool = True
) -> np.ndarray:
    """Pixel-centre wavelengths of a common grid.

    Args:
        wave_min: First pixel centre, in Angstrom.
        wave_max: Last pixel centre, in Angstrom.
        num_pixels: Number of pixels (>= 2).
        log: Spaced evenly in log wavelength (constant velocity width, as SDSS/DESI
            co-adds), else evenly in wavelength.

    Returns:
        float64 ``[num_pixels]``, increasing.

    Raises:
        ValueError: Unless ``0 < wave_min < wave_max`` and ``num_pixels >= 2``.
    """
    if not 0 < wave_min < wave_max or num_pixels < 2:
        raise ValueError(
            "need 0 < wave_min < wave_max and num_pixels >= 2, got "
            f"{wave_min}, {wave_max}, {num_pixels}"
        )
    if log:
        return np.geomspace(wave_min, wave_max, num_pixels)
    return np.linspace(wave_min, wave_max, num_pixels)


def bin_edges(grid: Tensor) -> Tensor:
    """``[G + 1]`` bin edges around ``[G]`` increasing pixel centres (halfway between them)."""
    middle = 0.5 * (grid[1:] + grid[:-1])
    first = grid[:1] - (middle[:1] - grid[:1])
    last = grid[-1:] + (grid[-1:] - middle[-1:])
    return torch.cat([first, middle, last])


def resample_spectra(
    wavelength: Tensor, flux: Tensor, ivar: Tensor, grid: Tensor
) -> tuple[Tensor, Tensor]:
    """Rebin spectra onto ``grid`` by inverse-variance-weighted means (see the module doc).

    Args:
        wavelength: Input pixel wavelengths ``[B, L]`` (or ``[L]``, shared), in the unit of
            ``grid``; any order.
        flux: ``[B, L]`` flux densities; anything (NaN included) where ``ivar`` is 0.
        ivar: ``[B, L]`` inverse variances; ``<= 0`` or non-finite marks a bad pixel.
        grid: ``[G]`` increasing output pixel centres.

    Returns:
        ``(flux [B, G], ivar [B, G])`` in the dtype of ``flux``; empty bins hold 0 and 0.
        Finite everywhere.

    Raises:
        ValueError: On mismatched shapes or a grid that is not increasing.
    """
    if flux.dim() != 2 or flux.shape != ivar.shape:
        raise ValueError(
            f"flux and ivar must be [B, L] of one shape, got {flux.shape}, {ivar.shape}"
        )
    if wavelength.dim() == 1:
        wavelength = wavelength.expand_as(flux)
    if wavelength.shape != flux.shape:
        raise ValueError(f"wavelength {tuple(wavelength.shape)} does not match flux {flux.shape}")
    if grid.dim() != 1 or grid.numel() < 2 or not bool((grid[1:] > grid[:-1]).all()):
        raise ValueError("grid must be a 1D increasing tensor of at least two wavelengths")
    compute = torch.float64 if flux.device.type != "mps" else torch.float32
    wave = wavelength.to(compute)
    edges = bin_edges(grid.to(device=flux.device, dtype=compute))
    size = grid.numel()
    weight = ivar.to(compute)
    valid = torch.isfinite(weight) & (weight > 0) & torch.isfinite(flux) & torch.isfinite(wave)
    index = torch.bucketize(torch.where(valid, wave, edges[0] - 1), edges, right=True) - 1
    inside = valid & (index >= 0) & (index < size)
    index = torch.where(inside, index, size)  # one overflow bin for everything left out
    weight = torch.where(inside, weight, 0.0)
    value = torch.where(inside, flux.to(compute), 0.0)
    shape = (flux.shape[0], size + 1)
    total = torch.zeros(shape, dtype=compute, device=flux.device).scatter_add_(1, index, weight)
    weighted = torch.zeros(shape, dtype=compute, device=flux.device)
    weighted.scatter_add_(1, index, weight * value)
    total, weighted = total[:, :size], weighted[:, :size]
    out = torch.where(total > 0, weighted / total.clamp_min(torch.finfo(compute).tiny), 0.0)
    return out.to(flux.dtype), total.to(flux.dtype)


def resample_spectrum(
    wavelength: np.ndarray, flux: np.ndarray, ivar: np.ndarray, grid: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`resample_spectra` for one spectrum in NumPy (float64 in and out).

    Args:
        wavelength: ``[L]`` pixel wavelengths.
        flux: ``[L]`` flux densities.
        ivar: ``[L]`` inverse variances.
        grid: ``[G]`` increasing output pixel centres.

    Returns:
        ``(flux [G], ivar [G])``.
    """
    tensors = [torch.from_numpy(np.array(a, np.float64)) for a in (wavelength, flux, ivar)]
    out_flux, out_ivar = resample_spectra(
        tensors[0][None], tensors[1][None], tensors[2][None], torch.as_tensor(grid)
    )
    return out_flux[0].numpy(), out_ivar[0].numpy()
