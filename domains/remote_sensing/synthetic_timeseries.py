"""Synthetic Sentinel-2 L2A crop-type / phenology time series, the embedded default of
:class:`~domains.remote_sensing.timeseries.TimeSeriesDataModule`.

Classes a single date cannot tell apart: a winter crop in May and a summer crop in August have
the same spectrum; only the trajectory over the year differs (see :func:`greenness`).
:func:`generate_timeseries` returns arrays in memory; :func:`write_timeseries_folder` writes the
same series as dated GeoTIFFs in the layout the datamodule reads (a folder per location plus
``labels.csv``). Spectra, texture, clouds, the sensor model and nodata come from
:mod:`domains.remote_sensing.synthetic`.
"""

from __future__ import annotations

import csv
import datetime
import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.special import expit

from domains.remote_sensing.patches import CLASSES_FILE
from domains.remote_sensing.synthetic import (
    BAND_NAMES,
    CLASS_NAMES,
    CRS,
    PIXEL_SIZE_M,
    S2_L2A_WAVELENGTHS,
    _clouds,
    _nodata,
    _region,
    _sensor,
    _smooth_noise,
    _texture,
    _write_tif,
    endmembers,
)
from foundations.io import atomic_folder, cache_root

TIMESERIES_VERSION = 1
"""Bump when generated time series change, so cached folders are not reused by mistake."""

_EPOCH = datetime.date(1970, 1, 1)  # origin of the contract's dates (timeseries.EPOCH)

TS_CLASS_NAMES: tuple[str, ...] = (
    "DeciduousForest", "DoubleCrop", "EvergreenForest", "SummerCrop", "Urban", "Water",
    "WinterCrop",
)  # fmt: skip
"""Classes of the synthetic time series, sorted (label index = sorted rank)."""

YEAR_START = datetime.date(2021, 1, 1)
"""Acquisitions fall in the calendar year starting here."""

_K = {name: k for k, name in enumerate(CLASS_NAMES)}  # indices into synthetic.endmembers()
_WATER = TS_CLASS_NAMES.index("Water")
_CHUNK = 32
_DROP_PROBABILITY = 0.15  # acquisitions lost (e.g. fully cloudy scenes not delivered)
_CLOUD_PROBABILITY = 0.12
_SNOW_PROBABILITY = 0.3
_MAX_MINORITY_SHARE = 0.3
# Spatial correlation (pixels) of the static per-pixel greenness variation of each class.
_GREEN_SIGMA = {"DeciduousForest": 1.2, "DoubleCrop": 4.0, "EvergreenForest": 1.2,
                "SummerCrop": 4.0, "Urban": 0.8, "Water": 8.0, "WinterCrop": 4.0}  # fmt: skip


def _bump(doy: np.ndarray, peak: float, width: float) -> np.ndarray:
    """Gaussian bump over the day of year, continuous across New Year."""
    distance = (doy - peak + 182.5) % 365.0 - 182.5
    return np.exp(-0.5 * (distance / width) ** 2)


def _season(doy: np.ndarray, up: float, down: float, steep: float) -> np.ndarray:
    """A growing season: logistic green-up at ``up`` and senescence at ``down`` (day of year)."""
    return expit((doy - up) / steep) * expit((down - doy) / steep)


def greenness(name: str, doy: np.ndarray) -> np.ndarray:
    """Green-vegetation fraction of a class over the day of year (its phenology), ``[0, 1]``.

    Winter crops are sown in autumn, green through spring and harvested in July; summer crops
    emerge in May and peak in August; double crops have a spring and a late-summer cycle;
    deciduous forest leafs out in May and drops leaves in October; evergreen forest stays green;
    urban areas hold a little seasonal grass; water has none.

    Args:
        name: A class of :data:`TS_CLASS_NAMES`.
        doy: Day of year, any shape.

    Returns:
        The fraction, same shape as ``doy``.
    """
    if name == "WinterCrop":
        v = 0.05 + 0.85 * _bump(doy, 135, 32) + 0.25 * _bump(doy, 345, 40)
    elif name == "SummerCrop":
        v = 0.03 + 0.9 * _bump(doy, 215, 28)
    elif name == "DoubleCrop":
        v = 0.03 + 0.8 * _bump(doy, 110, 22) + 0.8 * _bump(doy, 250, 22)
    elif name == "DeciduousForest":
        v = 0.2 + 0.7 * _season(doy, 125, 290, 10)
    elif name == "EvergreenForest":
        v = 0.8 + 0.08 * _season(doy, 120, 280, 15)
    elif name == "Urban":
        v = 0.08 + 0.12 * _season(doy, 110, 290, 15)
    elif name == "Water":
        v = np.zeros_like(doy)
    else:
        raise ValueError(f"unknown class {name!r}; classes: {list(TS_CLASS_NAMES)}")
    return np.clip(v, 0.0, 1.0)


def _class_stack(
    rng: np.random.Generator, name: str, doy: np.ndarray, size: int, ends: np.ndarray
) -> np.ndarray:
    """Clean reflectance ``[n, T, C, h, w]`` of ``n`` locations of class ``name`` at ``doy``.

    Spatial texture is static (same parcels, crowns and streets at every date); greenness
    follows the class phenology with a per-location phase shift and amplitude.
    """
    n = doy.shape[0]
    shift = rng.normal(0.0, 10.0, (n, 1))
    amplitude = rng.uniform(0.8, 1.05, (n, 1))
    base = greenness(name, np.zeros(1))
    green = base + amplitude * (greenness(name, doy - shift) - base)  # [n, T]
    spread = _smooth_noise(rng, n, size, size, _GREEN_SIGMA[name])
    v = np.clip(green[:, :, None, None] * (1.0 + 0.2 * spread[:, None]), 0.0, 1.0)
    v = v[:, :, None].astype(np.float32)  # [n, T, 1, h, w]

    def mix(k: int, t: np.ndarray) -> np.ndarray:  # end-member mixture [n, 1, C, h, w]
        low, high = ends[k, 0][None, :, None, None], ends[k, 1][None, :, None, None]
        return (low + (high - low) * t[:, None])[:, None]

    litter = 0.6 * ends[_K["Grassland"], 1] + 0.4 * ends[_K["BareSoil"], 0]
    litter = np.broadcast_to(litter[None, None, :, None, None], (n, 1, len(litter), 1, 1))
    if name.endswith("Crop"):
        green_spectrum = mix(_K["Cropland"], np.zeros((n, size, size), np.float32))
        background = mix(_K["BareSoil"], _texture(rng, "BareSoil", n, size, size))
    elif name.endswith("Forest"):
        # Broadleaf canopy near the deciduous end-member (1), conifer near the evergreen (0).
        crowns = 0.3 * _texture(rng, "Forest", n, size, size)
        leaf = 1.0 - crowns if name == "DeciduousForest" else crowns
        green_spectrum = mix(_K["Forest"], leaf)
        background = litter
    elif name == "Urban":
        green_spectrum = mix(_K["Grassland"], np.zeros((n, size, size), np.float32))
        background = mix(_K["BuiltUp"], _texture(rng, "BuiltUp", n, size, size))
    else:  # Water: turbidity rises with summer algae
        t = _texture(rng, "Water", n, size, size)[:, None]
        t = np.clip(t + 0.3 * _bump(doy - shift, 200, 40)[:, :, None, None], 0.0, 1.0)
        low, high = ends[_K["Water"], 0], ends[_K["Water"], 1]
        return (
            low[None, None, :, None, None] + (high - low)[None, None, :, None, None] * t[:, :, None]
        ).astype(np.float32)
    return (background + v * (green_spectrum - background)).astype(np.float32)


@dataclass(frozen=True)
class TimeSeriesSet:
    """Generated time series, padded like
    :class:`~domains.remote_sensing.timeseries.TimeSeriesDataset` samples.

    Attributes:
        values: float32 ``[N, T, C, H, W]`` reflectance, 0 where not valid.
        valid: bool ``[N, T, C, H, W]``; all False on padded steps.
        dates: float32 ``[N, T]`` days since 1970-01-01, sorted; padded steps repeat the last.
        date_valid: bool ``[N, T]``; False on padded steps (lost acquisitions).
        labels: int64 ``[N]`` indices into :data:`TS_CLASS_NAMES`.
        minority: int64 ``[N]`` class of a neighbouring field in the patch.
        minority_share: float32 ``[N]`` mean abundance of that class.
    """

    values: np.ndarray
    valid: np.ndarray
    dates: np.ndarray
    date_valid: np.ndarray
    labels: np.ndarray
    minority: np.ndarray
    minority_share: np.ndarray


def _acquisitions(rng: np.random.Generator, n: int, t: int) -> tuple[np.ndarray, np.ndarray]:
    """Day of year ``[n, T]`` (one random date per 365/T-day slot) and which were delivered,
    compacted so the delivered ones come first (at least ``ceil(T / 2)`` per location)."""
    slot = 365.0 / t
    doy = np.floor(np.arange(t) * slot + rng.uniform(0.0, slot, (n, t))).clip(0, 364)
    kept = rng.random((n, t)) >= _DROP_PROBABILITY
    for i in np.flatnonzero(kept.sum(1) < math.ceil(t / 2)):
        kept[i, rng.choice(t, math.ceil(t / 2), replace=False)] = True
    order = np.argsort(~kept, axis=1, kind="stable")  # delivered first, dates stay sorted
    doy = np.take_along_axis(doy, order, axis=1)
    kept = np.take_along_axis(kept, order, axis=1)
    last = np.take_along_axis(doy, kept.sum(1, keepdims=True) - 1, axis=1)
    return np.where(kept, doy, last), kept


def _generate_chunk(
    rng: np.random.Generator, labels: np.ndarray, num_dates: int, size: int
) -> TimeSeriesSet:
    n, t, c = len(labels), num_dates, len(S2_L2A_WAVELENGTHS)
    ends = endmembers(S2_L2A_WAVELENGTHS)
    doy, kept = _acquisitions(rng, n, t)
    offset = rng.integers(1, len(TS_CLASS_NAMES), n)
    minority = (labels + offset) % len(TS_CLASS_NAMES)
    share = rng.uniform(0.0, _MAX_MINORITY_SHARE, n)
    abundance = _region(rng, share, size, size, 5.0)[:, None, None]  # [n, 1, 1, h, w]
    values = np.empty((n, t, c, size, size), dtype=np.float32)
    other = np.empty_like(values)
    for k, name in enumerate(TS_CLASS_NAMES):
        for target, classes in ((values, labels), (other, minority)):
            chosen = np.flatnonzero(classes == k)
            if chosen.size:
                target[chosen] = _class_stack(rng, name, doy[chosen], size, ends)
    values += abundance * (other - values)
    del other
    # Snow on some winter dates (not on water), then clouds and the sensor, per acquisition.
    winter = (doy < 60) | (doy > 335)
    snowy = winter & (rng.random((n, t)) < _SNOW_PROBABILITY) & (labels[:, None] != _WATER)
    cover = np.where(snowy, rng.uniform(0.4, 1.0, (n, t)), 0.0)[:, :, None, None, None]
    snow = ends[_K["SnowIce"], 1][None, None, :, None, None]
    values += cover.astype(np.float32) * (snow - values)
    flat = values.reshape(n * t, c, size, size)
    cloudy = np.flatnonzero(rng.random(n * t) < _CLOUD_PROBABILITY)
    _clouds(rng, flat, ends, cloudy)
    flat = _sensor(rng, flat, np.asarray(S2_L2A_WAVELENGTHS, dtype=np.float32))
    valid = _nodata(rng, n * t, c, size, size).reshape(n, t, c, size, size)
    valid &= kept[:, :, None, None, None]
    values = flat.reshape(n, t, c, size, size)
    values[~valid] = 0.0
    dates = doy + float((YEAR_START - _EPOCH).days)
    return TimeSeriesSet(
        values=values,
        valid=valid,
        dates=dates.astype(np.float32),
        date_valid=kept,
        labels=labels.astype(np.int64),
        minority=minority.astype(np.int64),
        minority_share=abundance.mean(axis=(1, 2, 3, 4)).astype(np.float32),
    )


def _ts_chunks(num_samples: int, num_dates: int, size: int, seed: int) -> list[np.ndarray]:
    if num_samples < 0:
        raise ValueError(f"num_samples must be >= 0, got {num_samples}")
    if num_dates < 1:
        raise ValueError(f"num_dates must be >= 1, got {num_dates}")
    if size < 16:
        raise ValueError(f"size must be >= 16, got {size}")
    rng = np.random.default_rng([seed, 10])
    labels = rng.permutation(np.arange(num_samples) % len(TS_CLASS_NAMES))
    return [labels[start : start + _CHUNK] for start in range(0, num_samples, _CHUNK)]


def generate_timeseries(
    num_samples: int, num_dates: int = 12, size: int = 32, seed: int = 0
) -> TimeSeriesSet:
    """Generate labelled synthetic Sentinel-2 L2A time series over one year.

    Each location is a ``size x size`` patch of one class (see :data:`TS_CLASS_NAMES`) with a
    neighbouring field of another class covering up to 30 %. Per pixel and date, reflectance
    mixes the class's green spectrum (vigorous crop, broadleaf or conifer canopy, urban grass)
    with its background (bare soil, leaf-off litter, built-up materials) by the class's
    phenology (:func:`greenness`), with a per-location phase shift (~10 days) and amplitude;
    water turbidity peaks in summer. Acquisitions are one random date per ``365 / T``-day slot,
    each lost with probability 0.15 (padding); winter dates may be snow-covered, any date cloudy
    (with shadow); illumination, haze, band PSFs, noise and nodata come from
    :mod:`domains.remote_sensing.synthetic`.

    Args:
        num_samples: Number of locations; classes are balanced and shuffled.
        num_dates: Acquisition slots ``T`` per location.
        size: Height and width in pixels (at least 16).
        seed: Seed; the output is a pure function of the arguments.

    Returns:
        The :class:`TimeSeriesSet`.

    Raises:
        ValueError: On a negative ``num_samples``, ``num_dates < 1`` or ``size < 16``.
    """
    parts = [
        _generate_chunk(np.random.default_rng([seed, 11, i]), labels, num_dates, size)
        for i, labels in enumerate(_ts_chunks(num_samples, num_dates, size, seed))
    ]
    if not parts:
        c = len(S2_L2A_WAVELENGTHS)
        shape = (0, num_dates, c, size, size)
        empty = np.zeros(0, dtype=np.int64)
        return TimeSeriesSet(
            np.zeros(shape, np.float32), np.zeros(shape, bool),
            np.zeros((0, num_dates), np.float32), np.zeros((0, num_dates), bool),
            empty, empty, empty.astype(np.float32),
        )  # fmt: skip
    fields = TimeSeriesSet.__dataclass_fields__
    return TimeSeriesSet(*(np.concatenate([getattr(p, f) for p in parts]) for f in fields))


def default_timeseries_root(num_samples: int, num_dates: int, size: int, seed: int) -> Path:
    """Folder of the embedded default time series in the cache (generator version in the name)."""
    name = f"timeseries-v{TIMESERIES_VERSION}-n{num_samples}-t{num_dates}-s{size}-seed{seed}"
    return cache_root() / "remote_sensing" / name


def write_timeseries_folder(
    root: Path | str, num_samples: int, num_dates: int = 12, size: int = 32, seed: int = 0
) -> Path:
    """Write generated time series as dated GeoTIFFs in the layout
    :class:`~domains.remote_sensing.timeseries.TimeSeriesDataModule` reads.

    Layout: ``root/locations/loc<i>/S2L2A_<YYYYMMDD>.tif`` (one file per delivered acquisition,
    uint16 reflectance / 1e-4 with nodata 0, CRS :data:`~domains.remote_sensing.synthetic.CRS`,
    a 10 m transform shared by the location's dates), ``root/labels.csv`` (``location,label``),
    ``root/classes.txt`` and ``root/dataset.json``. Written under a temporary name and renamed;
    an existing ``root`` is reused as is.

    Args:
        root: Destination folder.
        num_samples: Number of locations.
        num_dates: Acquisition slots per location (some are lost, see
            :func:`generate_timeseries`).
        size: Height and width in pixels.
        seed: Generator seed.

    Returns:
        ``root``.

    Raises:
        ValueError: On invalid arguments (see :func:`generate_timeseries`).
    """
    root = Path(root)
    if root.is_dir():
        return root
    chunks = _ts_chunks(num_samples, num_dates, size, seed)
    with atomic_folder(root) as temp:
        rows: list[tuple[str, str]] = []
        spacing = PIXEL_SIZE_M * size * 1.5
        i = 0
        for chunk, labels in enumerate(chunks):
            series = _generate_chunk(
                np.random.default_rng([seed, 11, chunk]), labels, num_dates, size
            )
            for j in range(len(labels)):
                name = TS_CLASS_NAMES[series.labels[j]]
                location = f"locations/loc{i:05d}"
                (temp / location).mkdir(parents=True)
                x0 = 400_000.0 + (i % 128) * spacing
                y0 = 5_300_000.0 - (i // 128) * spacing
                for step in np.flatnonzero(series.date_valid[j]):
                    day = _EPOCH + datetime.timedelta(days=int(series.dates[j, step]))
                    path = temp / location / f"S2L2A_{day:%Y%m%d}.tif"
                    _write_tif(path, series.values[j, step], series.valid[j, step], x0, y0,
                               CLASS=name, DATE=day.isoformat())  # fmt: skip
                rows.append((location, name))
                i += 1
        with open(temp / "labels.csv", "w", newline="") as file:
            writer = csv.writer(file)
            writer.writerow(["location", "label"])
            writer.writerows(rows)
        (temp / CLASSES_FILE).write_text("\n".join(TS_CLASS_NAMES) + "\n")
        meta = {"timeseries_version": TIMESERIES_VERSION, "num_samples": num_samples,
                "num_dates": num_dates, "size": size, "seed": seed, "crs": CRS,
                "bands": list(BAND_NAMES), "wavelengths_um": list(S2_L2A_WAVELENGTHS)}  # fmt: skip
        (temp / "dataset.json").write_text(json.dumps(meta, indent=1))
    return root
