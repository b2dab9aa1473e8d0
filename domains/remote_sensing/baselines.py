"""Classical remote-sensing baselines: spectra as features, for trees or a linear model."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from foundations.data.labelled import SplitFeatures, split_features


def centre_spectrum(image: dict[str, torch.Tensor]) -> np.ndarray:
    """The spectrum of each patch's centre pixel, ``[B, C]`` (invalid bands are 0).

    For patches centred on labelled pixels this is the classical per-pixel spectrum.
    """
    values = image["values"]
    h, w = values.shape[-2:]
    return values[..., h // 2, w // 2].float().numpy()


def mean_spectrum(image: dict[str, torch.Tensor]) -> np.ndarray:
    """Mean and standard deviation of every band over its valid pixels, ``[B, 2C]``."""
    values, valid = image["values"].float(), image["valid"].float()
    count = valid.sum(dim=(-2, -1)).clamp_min(1.0)
    mean = (values * valid).sum(dim=(-2, -1)) / count
    var = ((values - mean[..., None, None]) ** 2 * valid).sum(dim=(-2, -1)) / count
    return torch.cat([mean, var.sqrt()], dim=-1).numpy()


def centre_spectrum_features(datamodule: Any) -> SplitFeatures:
    """:func:`centre_spectrum` of every split: the per-pixel-spectra baseline."""
    return split_features(datamodule, lambda batch: centre_spectrum(batch["image"]))


def mean_spectrum_features(datamodule: Any) -> SplitFeatures:
    """:func:`mean_spectrum` of every split: the per-patch spectral baseline."""
    return split_features(datamodule, lambda batch: mean_spectrum(batch["image"]))
