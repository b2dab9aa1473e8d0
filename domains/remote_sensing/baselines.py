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


def timeseries_mean_spectrum(image: dict[str, torch.Tensor]) -> np.ndarray:
    """The phenology profile: :func:`mean_spectrum` of every date, concatenated, ``[B, T * 2C]``.

    Features are ordered date-major (date 0's means and standard deviations, then date 1's, ...).
    Padded dates (``date_valid`` False, when present) and dates without valid pixels are 0.

    Args:
        image: The time-series contract, ``values`` and ``valid`` ``[B, T, C, H, W]`` and
            optionally ``date_valid`` ``[B, T]``.

    Returns:
        float32 ``[B, T * 2C]``.

    Raises:
        ValueError: When ``values`` is not ``[B, T, C, H, W]``.
    """
    values = image["values"]
    if values.dim() != 5:
        raise ValueError(f"values must be [B, T, C, H, W], got {tuple(values.shape)}")
    profile = torch.from_numpy(mean_spectrum(image))  # [B, T, 2C]
    date_valid = image.get("date_valid")
    if date_valid is not None:
        profile = profile * date_valid.to(profile.dtype).unsqueeze(-1)
    return profile.flatten(1).numpy()


def centre_spectrum_features(datamodule: Any) -> SplitFeatures:
    """:func:`centre_spectrum` of every split: the per-pixel-spectra baseline."""
    return split_features(datamodule, lambda batch: centre_spectrum(batch["image"]))


def mean_spectrum_features(datamodule: Any) -> SplitFeatures:
    """:func:`mean_spectrum` of every split: the per-patch spectral baseline."""
    return split_features(datamodule, lambda batch: mean_spectrum(batch["image"]))


def timeseries_mean_spectrum_features(datamodule: Any) -> SplitFeatures:
    """:func:`timeseries_mean_spectrum` of every split: the classical phenology-profile baseline."""
    return split_features(datamodule, lambda batch: timeseries_mean_spectrum(batch["image"]))
