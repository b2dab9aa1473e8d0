"""Classical light-curve baselines: periodogram, amplitude and folded-shape features, for trees.

:func:`periodogram_features` describes every object by

``[log10 period, power, range 5-95 %, range 25-75 %, std, skew, n_obs, median, scale]``:

* the best Lomb-Scargle period (errors as weights) and its normalised power, one object at a
  time (objects with fewer than 3 observations get period 1 d and power 0);
* percentile ranges, standard deviation and skewness of the normalised values of the real
  observations, vectorised over the batch;
* ``n_obs`` (observations before cropping) and the robust-normalisation scalars ``median``
  (mean brightness) and ``scale`` (variability amplitude) from the sample.

:func:`periodogram_profile_features` adds the shape of the folded light curve: the mean
normalised value in 32 phase bins at twice the Lomb-Scargle period (LS finds half the orbit of
most eclipsing binaries), rolled so that the faintest bin comes first. It is the stronger
baseline: shape separates the eclipsing subtypes that period and amplitude leave mixed.

Cost: the frequency grid runs from ``1 / max_period`` to ``maximum_frequency`` with
``samples_per_peak`` points per peak width ``1 / baseline``, so its size grows with the time
baseline of each light curve: about 300,000 frequencies for ASAS's ~3,000 d baselines at the
defaults. The periodogram is nifty-ls (Garrison et al. 2024: the Press-Rybicki method on the
finufft non-uniform FFT, the same power as astropy's ``LombScargle``; tested against it), which
is about ten times faster than astropy's ``method="fast"`` on such grids (about 0.1 s instead
of 1 s per ASAS star on one core). The runner caches these features per dataset, so the cost
is paid once. Lower ``samples_per_peak`` or ``maximum_frequency`` (with
:func:`functools.partial`) to trade period accuracy for time.
"""

from __future__ import annotations

from typing import Any

import nifty_ls
import numpy as np
import torch
from tqdm.auto import tqdm

from domains.astronomy.folding import folded_profile
from foundations.data.labelled import SplitFeatures, split_features

FEATURE_NAMES = (
    "log10_period",
    "power",
    "range_5_95",
    "range_25_75",
    "std",
    "skew",
    "n_obs",
    "median",
    "scale",
)
"""Names of the columns returned by :func:`light_curve_features`."""

MIN_ERROR = 1e-3
"""Floor of the (normalised) errors used as Lomb-Scargle weights."""


def best_period(
    time: np.ndarray,
    value: np.ndarray,
    error: np.ndarray,
    maximum_frequency: float = 20.0,
    max_period: float = 1000.0,
    samples_per_peak: int = 5,
) -> tuple[float, float]:
    """Best Lomb-Scargle period (days) and its power; ``(1.0, 0.0)`` under 3 observations.

    The grid is astropy's ``autopower`` grid: ``samples_per_peak`` points per ``1 / baseline``
    from ``1 / max_period`` to ``maximum_frequency``.
    """
    if time.size < 3 or np.ptp(time) <= 0:
        return 1.0, 0.0
    order = np.argsort(time, kind="stable")
    time, value, error = time[order], value[order], error[order]
    minimum = 1.0 / max_period
    step = 1.0 / (samples_per_peak * float(np.ptp(time)))
    count = max(int(np.ceil((maximum_frequency - minimum) / step)), 2)
    weights = np.maximum(error, MIN_ERROR)
    maximum = minimum + step * (count - 1)
    result = nifty_ls.lombscargle(time, value, weights, fmin=minimum, fmax=maximum, Nf=count)
    power = np.nan_to_num(result.power, nan=0.0)
    best = int(np.argmax(power))
    return float(1.0 / result.freq()[best]), float(power[best])


def best_periods(
    time: np.ndarray,
    value: np.ndarray,
    error: np.ndarray,
    mask: np.ndarray,
    progress: str | None = None,
    **period_kwargs: Any,
) -> np.ndarray:
    """:func:`best_period` of every row of padded ``[N, L]`` arrays, float64 ``[N, 2]``.

    Args:
        time: ``[N, L]`` days.
        value: ``[N, L]``.
        error: ``[N, L]``.
        mask: ``[N, L]`` bool, True for real observations.
        progress: Show a progress bar with this description (``None``: none).
        **period_kwargs: Passed to :func:`best_period`.

    Returns:
        ``(period, power)`` of each row.
    """
    found = np.empty((len(mask), 2), dtype=np.float64)
    rows = tqdm(range(len(mask)), desc=progress, unit="star", disable=progress is None)
    for i in rows:
        real = mask[i].astype(bool)
        found[i] = best_period(
            time[i][real].astype(np.float64),
            value[i][real].astype(np.float64),
            error[i][real].astype(np.float64),
            **period_kwargs,
        )
    return found


def amplitude_statistics(value: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Range 5-95 %, range 25-75 %, std and skew of the real values, ``[B, 4]`` (0 if empty)."""
    values = value.double().masked_fill(~mask, float("nan"))
    q = torch.nanquantile(values, torch.tensor([0.05, 0.25, 0.75, 0.95], dtype=values.dtype), 1)
    count = mask.sum(dim=1).clamp_min(1).double()
    mean = torch.nansum(values, dim=1) / count
    centred = (values - mean[:, None]).masked_fill(~mask, 0.0)
    var = (centred**2).sum(dim=1) / count
    std = var.sqrt()
    skew = (centred**3).sum(dim=1) / count / std.clamp_min(1e-12) ** 3
    stats = torch.stack([q[3] - q[0], q[2] - q[1], std, skew], dim=1)
    return torch.nan_to_num(stats, nan=0.0).float()


def light_curve_features(batch: dict[str, Any], **period_kwargs: Any) -> np.ndarray:
    """The :data:`FEATURE_NAMES` features of every object of a batch, float32 ``[B, 9]``.

    Args:
        batch: A batch of :class:`~domains.astronomy.datamodules.PhotometryTableDataModule`
            (``photometry`` ``[B, L]`` tensors and the ``n_obs``, ``median``, ``scale`` scalars).
        **period_kwargs: Passed to :func:`best_period`.
    """
    return _features_and_periods(batch, **period_kwargs)[0]


def _features_and_periods(
    batch: dict[str, Any], **period_kwargs: Any
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`light_curve_features` and the ``[B, 2]`` (period, power) they were made from."""
    photometry = batch["photometry"]
    mask = photometry["mask"].bool()
    if "period" in photometry and "power" in photometry and not period_kwargs:
        # Found by the datamodule (``periods=True``) with the same search: reuse them.
        periods = np.stack(
            [photometry["period"].double().numpy(), photometry["power"].double().numpy()], 1
        )
    else:
        time, value, error = (photometry[k].double().numpy() for k in ("time", "value", "error"))
        periods = best_periods(time, value, error, mask.numpy(), **period_kwargs)
    scalars = [torch.as_tensor(batch[key]).double().numpy() for key in ("n_obs", "median", "scale")]
    columns = [
        np.log10(periods[:, 0])[:, None],
        periods[:, 1:2],
        amplitude_statistics(photometry["value"], mask).double().numpy(),
        np.stack(scalars, axis=1),
    ]
    return np.concatenate(columns, axis=1).astype(np.float32), periods


def periodogram_features(datamodule: Any, **period_kwargs: Any) -> SplitFeatures:
    """:func:`light_curve_features` of every split: the classical periodogram baseline.

    Args:
        datamodule: A set-up light-curve datamodule.
        **period_kwargs: Passed to :func:`best_period` (``maximum_frequency``, ``max_period``,
            ``samples_per_peak``).
    """
    return split_features(datamodule, lambda batch: light_curve_features(batch, **period_kwargs))


def light_curve_profile_features(
    batch: dict[str, Any], bins: int = 32, fold_factor: float = 2.0
) -> np.ndarray:
    """:func:`light_curve_features` followed by the :func:`folded_profile` at the same
    Lomb-Scargle period, float32 ``[B, 9 + bins]``.

    Args:
        batch: A batch of :class:`~domains.astronomy.datamodules.PhotometryTableDataModule`.
        bins: Phase bins of the profile.
        fold_factor: Fold at this multiple of the Lomb-Scargle period.
    """
    photometry = batch["photometry"]
    features, periods = _features_and_periods(batch)
    period = torch.from_numpy(periods[:, 0])
    profile = folded_profile(
        photometry["time"], photometry["value"], photometry["mask"], period, bins, fold_factor
    )
    return np.concatenate([features, profile.numpy()], axis=1)


def periodogram_profile_features(
    datamodule: Any, bins: int = 32, fold_factor: float = 2.0
) -> SplitFeatures:
    """:func:`light_curve_profile_features` of every split: the periodogram baseline plus the
    folded light-curve shape.

    Args:
        datamodule: A set-up light-curve datamodule (with ``periods=True`` the periods are
            reused, otherwise searched).
        bins: Phase bins of the profile.
        fold_factor: Fold at this multiple of the Lomb-Scargle period.
    """
    return split_features(
        datamodule, lambda batch: light_curve_profile_features(batch, bins, fold_factor)
    )
