"""Classical spectral features respect the nodata mask."""

from __future__ import annotations

import numpy as np
import torch

from domains.remote_sensing.baselines import centre_spectrum, mean_spectrum


def test_centre_spectrum_reads_the_centre_pixel() -> None:
    values = torch.zeros(2, 3, 5, 5)
    values[:, :, 2, 2] = torch.tensor([0.1, 0.2, 0.3])
    spectra = centre_spectrum(
        {"values": values, "valid": torch.ones_like(values, dtype=torch.bool)}
    )
    assert np.allclose(spectra, [[0.1, 0.2, 0.3]] * 2)


def test_mean_spectrum_ignores_invalid_pixels() -> None:
    values = torch.full((1, 2, 4, 4), 0.5)
    valid = torch.ones_like(values, dtype=torch.bool)
    values[0, 0, 0, :] = 100.0  # nodata garbage
    valid[0, 0, 0, :] = False
    features = mean_spectrum({"values": values, "valid": valid})
    assert np.allclose(features, [[0.5, 0.5, 0.0, 0.0]])
