"""Light-curve preprocessing: cleaning, robust normalisation, crop/pad, periods, tokenising.

The per-object functions (:func:`clean_light_curve`, :func:`robust_normalise`,
:func:`crop_or_pad`) define the pipeline; :func:`tokenise_table` applies the same pipeline to
every object of a :class:`~domains.astronomy.io.LightCurveTable` at once with whole-array
numpy operations (sorts over segment keys, gathers), so millions of rows take seconds.
"""

from __future__ import annotations

import numpy as np
from astropy.timeseries import LombScargle

from domains.astronomy.io import LightCurveTable

MAD_TO_SIGMA = 1.4826
"""Factor turning a median absolute deviation into a Gaussian standard deviation."""


def clean_light_curve(
    time: np.ndarray,
    value: np.ndarray,
    error: np.ndarray,
    band: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """Drop non-finite rows and duplicate times, and sort by time.

    Of several rows sharing one time (and band), the one with the smallest error is kept.

    Args:
        time: Observation times, shape ``[n]``.
        value: Magnitudes or fluxes, shape ``[n]``.
        error: Measurement errors, shape ``[n]``.
        band: Optional integer band codes, shape ``[n]`` (zeros if None).

    Returns:
        Dict of arrays ``time``, ``value``, ``error`` (float64) and ``band`` (int64), sorted by
        time.

    Raises:
        ValueError: If the arrays have different lengths.
    """
    time = np.asarray(time, np.float64)
    value = np.asarray(value, np.float64)
    error = np.asarray(error, np.float64)
    band = np.zeros(time.shape, np.int64) if band is None else np.asarray(band, np.int64)
    if not time.shape == value.shape == error.shape == band.shape or time.ndim != 1:
        raise ValueError(
            "time, value, error and band must be 1D arrays of one length, got "
            f"{time.shape}, {value.shape}, {error.shape}, {band.shape}"
        )
    keep = np.isfinite(time) & np.isfinite(value) & np.isfinite(error)
    time, value, error, band = time[keep], value[keep], error[keep], band[keep]
    order = np.lexsort((error, band, time))
    time, value, error, band = time[order], value[order], error[order], band[order]
    first = np.ones(time.shape, bool)
    first[1:] = (time[1:] != time[:-1]) | (band[1:] != band[:-1])
    return {"time": time[first], "value": value[first], "error": error[first], "band": band[first]}


def robust_normalise(
    value: np.ndarray, error: np.ndarray, min_scale: float = 1e-3
) -> tuple[np.ndarray, np.ndarray, float, float]:
    """Centre on the median and divide by the scaled median absolute deviation.

    Args:
        value: Magnitudes or fluxes, shape ``[n]``.
        error: Measurement errors, shape ``[n]``.
        min_scale: Floor of the scale, so that constant curves do not blow up.

    Returns:
        ``(normalised value, normalised error, median, scale)`` with
        ``scale = max(1.4826 * MAD, min_scale)``; for an empty curve median is 0 and scale 1.
    """
    value = np.asarray(value, np.float64)
    error = np.asarray(error, np.float64)
    if value.size == 0:
        return value.copy(), error.copy(), 0.0, 1.0
    median = float(np.median(value))
    scale = max(MAD_TO_SIGMA * float(np.median(np.abs(value - median))), min_scale)
    return (value - median) / scale, error / scale, median, scale


def _window_positions(
    counts: np.ndarray, length: int, rng: np.random.Generator | None
) -> tuple[np.ndarray, np.ndarray]:
    """Positions ``[N, length]`` inside each object, and the mask of real ones."""
    steps = np.arange(length, dtype=np.int64)
    counts = np.asarray(counts, np.int64)
    long = counts > length
    mask = steps[None, :] < counts[:, None]
    if rng is not None:
        start = np.zeros(counts.shape, np.int64)
        start[long] = rng.integers(0, counts[long] - length + 1)
        positions = start[:, None] + steps[None, :]
    else:
        positions = np.broadcast_to(steps, (counts.shape[0], length)).copy()
        if length > 1 and np.any(long):
            spread = np.rint(steps[None, :] * ((counts[long, None] - 1) / (length - 1)))
            positions[long] = spread.astype(np.int64)
    return np.where(mask, positions, 0), mask


def crop_or_pad(
    curve: dict[str, np.ndarray], length: int, rng: np.random.Generator | None = None
) -> dict[str, np.ndarray]:
    """Bring a time-sorted curve to exactly ``length`` points, with a mask of real points.

    Longer curves are cropped: a random contiguous window when ``rng`` is given, otherwise an
    evenly spaced subsample that keeps the first and last point. Shorter ones are zero-padded.

    Args:
        curve: Dict of equal-length 1D arrays (e.g. from :func:`clean_light_curve`).
        length: Output length (>= 1).
        rng: Random generator for random crops; None for the deterministic subsample.

    Returns:
        Dict with every array of ``curve`` at shape ``[length]`` and ``mask`` (bool, True for
        real observations).

    Raises:
        ValueError: If ``length`` < 1 or the arrays differ in shape.
    """
    if length < 1:
        raise ValueError(f"length must be >= 1, got {length}")
    arrays = {key: np.asarray(a) for key, a in curve.items()}
    lengths = {a.shape for a in arrays.values()}
    if len(lengths) > 1 or any(a.ndim != 1 for a in arrays.values()):
        raise ValueError(f"curve arrays must be 1D of one length, got shapes {sorted(lengths)}")
    n = next(iter(arrays.values())).shape[0] if arrays else 0
    positions, masks = _window_positions(np.array([n]), length, rng)
    position, mask = positions[0], masks[0]
    out: dict[str, np.ndarray] = {}
    for key, array in arrays.items():
        picked = array[position] if n else np.zeros(length, array.dtype)
        out[key] = np.where(mask, picked, 0).astype(array.dtype)
    out["mask"] = mask
    return out


def lomb_scargle_period(
    time: np.ndarray,
    value: np.ndarray,
    error: np.ndarray | None = None,
    min_period: float = 0.1,
    max_period: float = 100.0,
    samples_per_peak: int = 10,
) -> tuple[float, float]:
    """Best period of an irregularly sampled curve from astropy's Lomb-Scargle periodogram.

    Args:
        time: Observation times in days, shape ``[n]``.
        value: Values, shape ``[n]``.
        error: Optional errors, shape ``[n]``.
        min_period: Shortest period searched (days), > 0.
        max_period: Longest period searched (days), > ``min_period``.
        samples_per_peak: Frequency-grid oversampling per periodogram peak width.

    Returns:
        ``(period in days, periodogram power at that period)``.

    Raises:
        ValueError: If the period bounds are invalid or fewer than 3 points are given.
    """
    if not 0 < min_period < max_period:
        raise ValueError(f"need 0 < min_period < max_period, got {min_period}, {max_period}")
    if np.asarray(time).size < 3:
        raise ValueError("need at least 3 observations for a periodogram")
    periodogram = LombScargle(time, value, error)
    frequency, power = periodogram.autopower(
        minimum_frequency=1.0 / max_period,
        maximum_frequency=1.0 / min_period,
        samples_per_peak=samples_per_peak,
    )
    best = int(np.argmax(power))
    return float(1.0 / frequency[best]), float(power[best])


def phase_fold(time: np.ndarray, period: float, t0: float | None = None) -> np.ndarray:
    """Phase in ``[0, 1)`` of each time for a period.

    Args:
        time: Times in days.
        period: Period in days (> 0).
        t0: Reference epoch of phase 0 (the first time if None).

    Returns:
        Phases, same shape as ``time``.

    Raises:
        ValueError: If ``period`` <= 0.
    """
    if period <= 0:
        raise ValueError(f"period must be > 0, got {period}")
    time = np.asarray(time, np.float64)
    reference = (float(time.min()) if time.size else 0.0) if t0 is None else t0
    return np.mod(time - reference, period) / period


def _segment_median(values: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Median of each segment ``values[offsets[i]:offsets[i + 1]]`` (NaN when empty).

    Segments are bucketed by size class (powers of two), gathered into padded matrices and
    sorted along rows, which is much faster than one global sort keyed by segment.
    """
    counts = np.diff(offsets)
    out = np.full(counts.shape, np.nan)
    nonempty = np.flatnonzero(counts > 0)
    if nonempty.size == 0:
        return out
    size_class = np.ceil(np.log2(counts[nonempty])).astype(np.int64)
    for cls in np.unique(size_class):
        members = nonempty[size_class == cls]
        width = int(counts[members].max())
        columns = np.arange(width, dtype=np.int64)
        member_counts = counts[members]
        inside = columns[None, :] < member_counts[:, None]
        rows = np.where(inside, offsets[members, None] + columns[None, :], 0)
        block = np.where(inside, values[rows], np.inf)
        block.sort(axis=1)
        lo = (member_counts - 1) // 2
        hi = member_counts // 2
        picks = np.arange(members.size)
        out[members] = 0.5 * (block[picks, lo] + block[picks, hi])
    return out


def tokenise_table(
    table: LightCurveTable,
    length: int,
    min_scale: float = 1e-3,
    rng: np.random.Generator | None = None,
) -> dict[str, np.ndarray]:
    """Clean, normalise and crop/pad every object of a table, vectorised over all objects.

    Equivalent, object by object, to :func:`clean_light_curve`, then :func:`robust_normalise`
    (on the cleaned curve), then :func:`crop_or_pad`, with times made relative to ``t0``, the
    first cleaned time.

    Args:
        table: The light curves.
        length: Output length per object (>= 1).
        min_scale: Floor of the robust scale.
        rng: Random generator for random crops; None for deterministic even subsampling.

    Returns:
        Dict of arrays: ``time``, ``value``, ``error`` (float32, ``[N, length]``), ``band``
        (int64, ``[N, length]``), ``mask`` (bool, ``[N, length]``), and per object ``t0``,
        ``median``, ``scale`` (float64, ``[N]``) and ``n_obs`` (int64, ``[N]``, cleaned count).
        Objects left with no observation have an all-False mask, median 0 and scale 1.

    Raises:
        ValueError: If ``length`` < 1.
    """
    if length < 1:
        raise ValueError(f"length must be >= 1, got {length}")
    n_objects = len(table)
    segment = np.repeat(np.arange(n_objects, dtype=np.int64), table.counts)
    time, value, error, band = table.time, table.value, table.error, table.band
    keep = np.isfinite(time) & np.isfinite(value) & np.isfinite(error)
    if not keep.all():
        segment, time, value, error, band = (
            segment[keep],
            time[keep],
            value[keep],
            error[keep],
            band[keep],
        )
    same = segment[1:] == segment[:-1]
    time_sorted = bool(np.all((time[1:] > time[:-1]) | ~same))
    if not time_sorted:  # general case: sort by time within objects, ties by band then error
        order = np.lexsort((error, band, time, segment))
        segment, time, value, error, band = (
            segment[order],
            time[order],
            value[order],
            error[order],
            band[order],
        )
        first = np.ones(time.shape, bool)
        first[1:] = (segment[1:] != segment[:-1]) | (time[1:] != time[:-1])
        first[1:] |= band[1:] != band[:-1]
        if not first.all():
            segment, time, value, error, band = (
                segment[first],
                time[first],
                value[first],
                error[first],
                band[first],
            )
    counts = np.bincount(segment, minlength=n_objects)
    offsets = np.zeros(n_objects + 1, np.int64)
    np.cumsum(counts, out=offsets[1:])

    median = np.nan_to_num(_segment_median(value, offsets), nan=0.0)
    mad = _segment_median(np.abs(value - median[segment]), offsets)
    scale = np.maximum(MAD_TO_SIGMA * np.nan_to_num(mad, nan=1.0 / MAD_TO_SIGMA), min_scale)
    scale[counts == 0] = 1.0
    t0 = np.zeros(n_objects)
    t0[counts > 0] = time[offsets[:-1][counts > 0]]

    positions, mask = _window_positions(counts, length, rng)
    rows = offsets[:-1, None] + positions
    rows = np.where(mask, rows, 0) if time.size else np.zeros_like(rows)
    if time.size == 0:
        mask = np.zeros_like(mask)

    def gather(values: np.ndarray) -> np.ndarray:
        if values.size == 0:
            return np.zeros(rows.shape, values.dtype)
        return np.where(mask, values[rows], 0)

    return {
        "time": gather(time - t0[segment]).astype(np.float32),
        "value": gather((value - median[segment]) / scale[segment]).astype(np.float32),
        "error": gather(error / scale[segment]).astype(np.float32),
        "band": gather(band).astype(np.int64),
        "mask": mask,
        "t0": t0,
        "median": median,
        "scale": scale,
        "n_obs": counts.astype(np.int64),
    }
