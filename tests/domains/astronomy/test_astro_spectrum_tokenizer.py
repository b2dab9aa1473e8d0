"""Spectrum resampling and the spectrum patch tokenizer."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from domains.astronomy.spectra import resample_spectra, resample_spectrum, wavelength_grid
from domains.astronomy.spectrum_tokenizer import SpectrumTokenizer
from foundations.encoders.encoder import Encoder


def test_resampling_a_linear_spectrum_gives_bin_means_and_summed_ivar() -> None:
    # 10 fine pixels per coarse bin, symmetric about each coarse centre.
    coarse = np.arange(4000.0, 5000.0, 10.0)
    fine = (coarse[:, None] + np.arange(-4.5, 5.0, 1.0)[None]).ravel()
    flux = 2.0 + 0.001 * fine
    ivar = np.full_like(fine, 4.0)
    out_flux, out_ivar = resample_spectrum(fine, flux, ivar, coarse)
    np.testing.assert_allclose(out_flux, 2.0 + 0.001 * coarse, rtol=1e-12)
    np.testing.assert_allclose(out_ivar, 40.0)


def test_resampling_weights_by_ivar_and_ignores_bad_pixels() -> None:
    grid = np.array([100.0, 110.0, 120.0])
    wave = np.array([99.0, 101.0, 109.0, 111.0, 130.0, 119.0])
    flux = np.array([1.0, 4.0, np.nan, 7.0, 5.0, 3.0])
    ivar = np.array([1.0, 3.0, 0.0, 2.0, 1.0, -1.0])  # nan pixel has ivar 0; 130 is outside
    out_flux, out_ivar = resample_spectrum(wave, flux, ivar, grid)
    np.testing.assert_allclose(out_flux, [(1 * 1 + 4 * 3) / 4, 7.0, 0.0])
    np.testing.assert_allclose(out_ivar, [4.0, 2.0, 0.0])
    assert np.isfinite(out_flux).all()


def test_resampling_is_the_identity_on_its_own_grid() -> None:
    grid = torch.as_tensor(wavelength_grid(3800.0, 9200.0, 64))
    flux = torch.randn(3, 64, dtype=torch.float64)
    ivar = torch.rand(3, 64, dtype=torch.float64) + 0.1
    out_flux, out_ivar = resample_spectra(grid, flux, ivar, grid)
    torch.testing.assert_close(out_flux, flux)
    torch.testing.assert_close(out_ivar, ivar)


def _spectra(batch: int = 3, pixels: int = 128) -> dict[str, torch.Tensor]:
    wave = torch.as_tensor(wavelength_grid(3800.0, 9200.0, pixels), dtype=torch.float32)
    gen = torch.Generator().manual_seed(0)
    flux = 5.0 + torch.randn(batch, pixels, generator=gen)
    return {"wavelength": wave.expand(batch, -1), "flux": flux, "ivar": torch.ones(batch, pixels)}


def test_tokenizer_shapes_masks_and_no_nan_with_missing_pixels() -> None:
    tokenizer = SpectrumTokenizer(embed_dim=32, num_pixels=128, patch_size=16)
    inputs = _spectra()
    inputs["ivar"][1, :40] = 0.0  # first 2 patches fully bad, third partly
    inputs["flux"][1, :40] = torch.nan
    inputs["ivar"][2] = 0.0  # a missing spectrum (placeholder)
    inputs["flux"][2] = torch.nan
    out = tokenizer(inputs)
    assert out.tokens.shape == (3, 9, 32) and out.pos is not None and out.pos.shape == (3, 9, 32)
    assert out.padding_mask is not None
    assert not out.padding_mask[:, 0].any()  # the scale token is always real
    assert out.padding_mask[1, 1:].tolist() == [True, True] + [False] * 6
    assert out.padding_mask[2, 1:].all()
    assert out.target is not None and out.target.shape == (3, 9, 16)
    assert out.target_mask is not None and not out.target_mask[2].any()
    for tensor in (out.tokens, out.pos, out.target):
        assert torch.isfinite(tensor).all()
    # normalised by the median: the target of a clean spectrum is close to flux / 5
    assert abs(float(out.target[0, 1:].median()) - 1.0) < 0.05
    encoder = Encoder(tokenizer, modality="spectrum", depth=1, num_heads=4, pool="mean")
    assert torch.isfinite(encoder(inputs)).all()


def test_tokenizer_keeps_the_scale_and_resamples_other_grids() -> None:
    tokenizer = SpectrumTokenizer(embed_dim=16, num_pixels=64, patch_size=8)
    inputs = _spectra(batch=1, pixels=256)  # finer grid than the tokenizer's: rebinned
    bright = {**inputs, "flux": inputs["flux"] * 100.0}
    faint, loud = tokenizer(inputs), tokenizer(bright)
    torch.testing.assert_close(faint.target, loud.target)  # shape normalised away...
    assert not torch.allclose(faint.tokens[:, 0], loud.tokens[:, 0])  # ...scale kept
    assert faint.tokens.shape == (1, 9, 16)


def test_wavelength_aware_positions_and_bad_arguments() -> None:
    a = SpectrumTokenizer(embed_dim=16, num_pixels=64, patch_size=8)
    half = float(a.grid[31])  # b's grid is the first half of a's: its patches are a's first 4
    b = SpectrumTokenizer(embed_dim=16, wave_max=half, num_pixels=32, patch_size=8)
    torch.testing.assert_close(b.patch_pos, a.patch_pos[:, :4])
    with pytest.raises(ValueError, match="multiple"):
        SpectrumTokenizer(num_pixels=100, patch_size=16)
    with pytest.raises(ValueError, match="missing"):
        a({"flux": torch.ones(1, 64), "ivar": torch.ones(1, 64)})
