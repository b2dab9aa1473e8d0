"""Classical remote-sensing baselines: spectra as features, for trees or a linear model."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from foundations.data import Split

SPLITS: tuple[Split, ...] = ("train", "val", "test")


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


def _features(datamodule: Any, extract: Any) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    features: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for split in SPLITS:
        xs, ys = [], []
        for batch in datamodule.split_dataloader(split):
            xs.append(extract(batch["image"]))
            ys.append(torch.as_tensor(batch["label"]).numpy())
        features[split] = (np.concatenate(xs), np.concatenate(ys))
    return features


def centre_spectrum_features(datamodule: Any) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """:func:`centre_spectrum` of every split: the per-pixel-spectra baseline."""
    return _features(datamodule, centre_spectrum)


def mean_spectrum_features(datamodule: Any) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """:func:`mean_spectrum` of every split: the per-patch spectral baseline."""
    return _features(datamodule, mean_spectrum)
