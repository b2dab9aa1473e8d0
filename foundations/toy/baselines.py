"""The toy modality's classical baseline: hand-made, translation-invariant image features."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from foundations.data.labelled import SplitFeatures, split_features


def fourier_magnitude(images: torch.Tensor, keep: int = 8) -> np.ndarray:
    """Log magnitude of the 2-D Fourier transform of the grey image, lowest frequencies only.

    The magnitude ignores where the shape sits (a shift only changes the phase) and the lowest
    ``keep x keep`` frequencies describe its outline, which is what a classical pipeline would
    hand to a linear model.

    Args:
        images: ``[B, C, H, W]``.
        keep: Frequencies kept per axis around zero (``H`` and ``W`` at least ``keep``).

    Returns:
        ``[B, keep * keep]`` float32 features.
    """
    grey = images.float().mean(dim=1)
    grey = grey - grey.mean(dim=(1, 2), keepdim=True)
    spectrum = torch.fft.fftshift(torch.fft.fft2(grey).abs(), dim=(-2, -1))
    h, w = spectrum.shape[-2:]
    top, left = h // 2 - keep // 2, w // 2 - keep // 2
    block = spectrum[:, top : top + keep, left : left + keep]
    return torch.log1p(block).flatten(1).numpy().astype(np.float32)


def fourier_features(datamodule: Any) -> SplitFeatures:
    """:func:`fourier_magnitude` of every split of a set-up toy datamodule, with labels."""
    return split_features(datamodule, lambda batch: fourier_magnitude(batch["image"]))
