"""The embedded default: a synthetic variable-star population with survey cadence and spectra.

Every star belongs to one class of :data:`STAR_CLASSES`, drawn with equal frequency. A class
fixes the period distribution, the light-curve template (magnitudes; positive is fainter), the
peak-to-peak amplitude in g, the effective temperature and the absolute magnitude:

============  ===================  ================================  ===========  ==========
class         period (days)        template                          amp g (mag)  Teff (K)
============  ===================  ================================  ===========  ==========
rr_lyrae_ab   0.45..0.9            sawtooth, 6 Fourier harmonics     0.5..1.2     6000..7000
rr_lyrae_c    0.25..0.45           near-sinusoidal, weak 2nd harm.   0.2..0.5     6800..7500
cepheid       3..50 (log-uniform)  asymmetric, 4 harmonics           0.3..1.0     5000..6500
delta_scuti   0.03..0.2            two radial modes (P1/P0 = 0.773)  0.02..0.3    7000..8500
eclipsing_ea  1..10                flat, narrow unequal eclipses     0.3..1.5     5500..12000
eclipsing_eb  0.4..2               ellipsoidal + wide unequal ecl.   0.3..1.0     6000..9000
eclipsing_ew  0.25..0.6            continuous, equal minima          0.2..0.8     4500..7000
mira          100..500             large, slightly asymmetric        2.5..7       2500..3300
semiregular   30..200              two modes, random-walk phase      0.1..1.0     3000..4000
rotational    1..30                spots, amplitude evolving         0.01..0.1    3500..6000
constant      --                   none                              0            3800..10000
============  ===================  ================================  ===========  ==========

Cadence is that of a ground-based survey: a 1..4 year baseline starting at the opening of an
observing season, ~4 months a year unobservable, nights chosen at random (weather skips) and
50..600 observations over 1..3 bands (g, r, i) taken minutes apart in a night. The time in
the night drifts through the season (morning early, evening late), which breaks the one-day
alias. The amplitude shrinks towards the red as ``(lambda / lambda_g) ** -slope``, with a
class slope made steeper for cooler stars. Errors grow with magnitude,
``err = a + b * 10 ** (0.4 * (mag - m5))`` with a per-night seeing factor; noise is drawn
from them, observations fainter than :data:`LIMITING_MAG` are lost and a few outliers
(0.5..3 mag) are added.

Spectra (3800..9200 A, :data:`NUM_PIXELS` pixels) are a Planck continuum with Gaussian
absorption lines (Balmer H-alpha..H-delta peaking in A stars, Ca II H&K, Mg b and Na D growing
in cooler stars, TiO band heads below ~3800 K), a radial velocity, interstellar reddening,
and noise with inverse variance set by the star's brightness and the instrument throughput.
Catalogue colours are synthetic photometry of the same reddened model spectrum, so they agree
with temperature and extinction; the parallax follows from the distance implied by the
class's absolute magnitude, with magnitude-dependent error. A configurable fraction of stars
has no spectrum and/or no metadata.

Everything is fully determined by ``seed`` (each star by ``(seed, index)``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from foundations.io import atomic_folder

GENERATOR_VERSION = 1
"""Bump when generated data change, so cached folders are not reused by mistake."""

STAR_CLASSES: tuple[str, ...] = (
    "rr_lyrae_ab", "rr_lyrae_c", "cepheid", "delta_scuti", "eclipsing_ea", "eclipsing_eb",
    "eclipsing_ew", "mira", "semiregular", "rotational", "constant",
)  # fmt: skip
"""Variability classes; a label index is the position in this tuple."""

BANDS: tuple[str, ...] = ("g", "r", "i")
BAND_WAVELENGTHS: tuple[float, ...] = (4770.0, 6231.0, 7625.0)
"""Effective wavelengths in Angstrom, in :data:`BANDS` order."""

_BAND_WINDOWS = ((4000.0, 5500.0), (5500.0, 6900.0), (6900.0, 8400.0))
_M5 = (22.0, 21.8, 21.3)  # 5-sigma depth per band
LIMITING_MAG = 22.5
"""Observations fainter than this are not detected."""

NUM_PIXELS = 1000
WAVELENGTH = np.linspace(3800.0, 9200.0, NUM_PIXELS)
"""Spectral wavelength grid in Angstrom."""

MJD_START = 58000.0
METADATA_COLUMNS: tuple[str, ...] = (
    "gal_l", "gal_b", "parallax", "parallax_error", "mean_g", "mean_r", "mean_i",
    "color_g_r", "color_r_i", "ebv",
)  # fmt: skip

_SPEED_OF_LIGHT_KMS = 299_792.458
_HC_OVER_K = 1.438777e8  # h c / k in Angstrom Kelvin


@dataclass(frozen=True)
class _ClassSpec:
    period: tuple[float, float]
    log_period: bool
    amplitude: tuple[float, float]
    teff: tuple[float, float]
    abs_mag: tuple[float, float]
    slope: float
    mean_g: tuple[float, float] = (13.5, 20.0)


_SPECS: dict[str, _ClassSpec] = {
    "rr_lyrae_ab": _ClassSpec((0.45, 0.9), False, (0.5, 1.2), (6000, 7000), (0.4, 0.9), 1.0),
    "rr_lyrae_c": _ClassSpec((0.25, 0.45), False, (0.2, 0.5), (6800, 7500), (0.4, 0.9), 1.0),
    "cepheid": _ClassSpec((3.0, 50.0), True, (0.3, 1.0), (5000, 6500), (-5.5, -2.0), 1.1),
    "delta_scuti": _ClassSpec((0.03, 0.2), False, (0.02, 0.3), (7000, 8500), (1.3, 2.8), 0.9),
    "eclipsing_ea": _ClassSpec((1.0, 10.0), False, (0.3, 1.5), (5500, 12000), (0.0, 5.0), 0.15),
    "eclipsing_eb": _ClassSpec((0.4, 2.0), False, (0.3, 1.0), (6000, 9000), (1.0, 4.0), 0.15),
    "eclipsing_ew": _ClassSpec((0.25, 0.6), False, (0.2, 0.8), (4500, 7000), (2.5, 5.5), 0.1),
    "mira": _ClassSpec(
        (100.0, 500.0), False, (2.5, 7.0), (2500, 3300), (-2.0, 0.0), 1.4, (11.0, 16.0)
    ),
    "semiregular": _ClassSpec((30.0, 200.0), False, (0.1, 1.0), (3000, 4000), (-1.5, 0.5), 1.2),
    "rotational": _ClassSpec((1.0, 30.0), False, (0.01, 0.1), (3500, 6000), (4.0, 9.0), 0.6),
    "constant": _ClassSpec((0.0, 0.0), False, (0.0, 0.0), (3800, 10000), (-1.0, 8.0), 0.0),
}

# (rest wavelength A, Gaussian sigma A, line family)
_LINES: tuple[tuple[float, float, str], ...] = (
    (6562.8, 9.0, "balmer"), (4861.3, 9.0, "balmer"), (4340.5, 8.0, "balmer"),
    (4101.7, 8.0, "balmer"), (3933.7, 6.0, "cahk"), (3968.5, 6.0, "cahk"),
    (5175.0, 6.0, "mgb"), (5892.9, 4.0, "nad"),
)  # fmt: skip
_TIO_HEADS = (4760.0, 4955.0, 5167.0, 5448.0, 5847.0, 6159.0, 6651.0, 7054.0, 7589.0, 8432.0)

Shape = Callable[[np.ndarray], np.ndarray]


@dataclass
class Star:
    """One generated star with its true parameters and observed modalities.

    Attributes:
        object_id: Identifier, ``star_<index>``.
        star_class: Element of :data:`STAR_CLASSES`.
        period: True period in days (orbital for binaries, mean for semiregulars); NaN for
            constant stars.
        amplitude: True peak-to-peak amplitude in g (mag).
        teff: Effective temperature in K.
        mean_mags: Mean magnitude per band of :data:`BANDS` (reddened, apparent).
        time: Observation times (MJD).
        mag: Observed magnitudes.
        mag_err: Reported magnitude errors.
        band: Band name per observation.
        flux: Observed spectrum on :data:`WAVELENGTH`, or None when missing.
        ivar: Inverse variance of ``flux``, or None when missing.
        metadata: Catalogue values keyed by :data:`METADATA_COLUMNS`, or None when missing.
    """

    object_id: str
    star_class: str
    period: float
    amplitude: float
    teff: float
    mean_mags: np.ndarray
    time: np.ndarray
    mag: np.ndarray
    mag_err: np.ndarray
    band: np.ndarray
    flux: np.ndarray | None
    ivar: np.ndarray | None
    metadata: dict[str, float] | None


def _uniform(rng: np.random.Generator, bounds: tuple[float, float], log: bool = False) -> float:
    low, high = bounds
    if log:
        return float(np.exp(rng.uniform(np.log(low), np.log(high))))
    return float(rng.uniform(low, high))


def _sawtooth(phase: np.ndarray, harmonics: int, decay: float) -> np.ndarray:
    """Fast brightening and slow fading: ``-sum_k decay**(k-1) sin(2 pi k phase) / k``."""
    k = np.arange(1, harmonics + 1)[:, None]
    return -np.sum(decay ** (k - 1) * np.sin(2 * np.pi * k * phase) / k, axis=0)


def _eclipse(phase: np.ndarray, centre: float, width: float) -> np.ndarray:
    """Eclipse profile: 1 at ``centre``, 0 beyond ``width`` (in phase), rounded bottom."""
    delta = np.abs((phase - centre + 0.5) % 1.0 - 0.5)
    return np.clip(1.0 - (delta / width) ** 2, 0.0, 1.0) ** 0.5


def _random_walk(rng: np.random.Generator, span: float, scale: float) -> Shape:
    """A phase random walk on daily knots, ``scale`` cycles per sqrt(day), as a function."""
    knots = np.arange(0.0, span + 2.0)
    walk = np.cumsum(rng.normal(0.0, scale, knots.size))
    return lambda t: np.interp(t, knots, walk)


def _make_shape(rng: np.random.Generator, name: str, period: float, span: float) -> Shape:
    """Draw a star's light-curve template: a function of days since the start, unnormalised."""
    if name == "rr_lyrae_ab":
        decay, offset = rng.uniform(0.6, 0.85), rng.uniform()
        return lambda t: _sawtooth(t / period + offset, 6, decay)
    if name == "cepheid":
        decay, offset = rng.uniform(0.35, 0.6), rng.uniform()
        return lambda t: _sawtooth(t / period + offset, 4, decay)
    if name in ("rr_lyrae_c", "mira"):
        a2, psi, offset = rng.uniform(0.05, 0.2), rng.uniform(0, 2 * np.pi), rng.uniform()
        return lambda t: -(np.cos(2 * np.pi * (t / period + offset))
                           + a2 * np.cos(4 * np.pi * (t / period + offset) + psi))  # fmt: skip
    if name == "delta_scuti":
        a2, psi = rng.uniform(0.1, 0.6), rng.uniform(0, 2 * np.pi)
        return lambda t: (np.sin(2 * np.pi * t / period)
                          + a2 * np.sin(2 * np.pi * t / (0.773 * period) + psi))  # fmt: skip
    if name in ("eclipsing_ea", "eclipsing_eb"):
        wide = name == "eclipsing_eb"
        width = rng.uniform(0.1, 0.18) if wide else rng.uniform(0.02, 0.07)
        ratio = rng.uniform(0.4, 0.8) if wide else rng.uniform(0.1, 0.6)
        ellipsoidal = rng.uniform(0.2, 0.5) if wide else 0.0
        secondary = 0.5 + (0.0 if wide else rng.normal(0.0, 0.02))
        offset = rng.uniform()

        def binary(t: np.ndarray) -> np.ndarray:
            phase = (t / period + offset) % 1.0
            dips = _eclipse(phase, 0.0, width) + ratio * _eclipse(phase, secondary, width)
            return dips + ellipsoidal * 0.5 * (1 - np.cos(4 * np.pi * phase))

        return binary
    if name == "eclipsing_ew":
        unequal, offset = rng.uniform(0.0, 0.05), rng.uniform()
        return lambda t: (
            0.5 * (1 - np.cos(4 * np.pi * (t / period + offset)))
            + unequal * 0.5 * (1 - np.cos(2 * np.pi * (t / period + offset)))
        )
    if name == "semiregular":
        ratio, a2 = rng.uniform(1.4, 2.0), rng.uniform(0.3, 0.8)
        walk1, walk2 = _random_walk(rng, span, 0.02), _random_walk(rng, span, 0.02)
        return lambda t: (np.sin(2 * np.pi * (t / period + walk1(t)))
                          + a2 * np.sin(2 * np.pi * (t / (ratio * period) + walk2(t))))  # fmt: skip
    if name == "rotational":
        evolve, angles = rng.uniform(50.0, 300.0), rng.uniform(0, 2 * np.pi, 2)
        a2 = rng.uniform(0.0, 0.4)

        def spots(t: np.ndarray) -> np.ndarray:
            envelope = 1.0 + 0.6 * np.sin(2 * np.pi * t / evolve + angles[0])
            phase = 2 * np.pi * t / period
            return envelope * (np.cos(phase) + a2 * np.cos(2 * phase + angles[1]))

        return spots
    return np.zeros_like


def _cadence(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, float]:
    """Observation times (MJD), band indices and the baseline in days."""
    baseline = rng.uniform(1.0, 4.0) * 365.25
    target = int(np.exp(rng.uniform(np.log(50), np.log(600))))
    n_bands = int(rng.integers(1, 4))
    bands = np.sort(rng.choice(3, n_bands, replace=False))
    season = rng.uniform(230.0, 250.0)  # observable nights a year: ~4 months lost
    nights = np.arange(int(baseline))
    position = (nights % 365.25) / season
    candidates = nights[position < 1.0]
    n_epochs = max(1, min(-(-target // n_bands), int(0.85 * candidates.size)))
    chosen = np.sort(rng.choice(candidates, n_epochs, replace=False))
    # Morning early in the season, evening late, near local midnight (0.19 d UTC) in between.
    night_time = 0.19 + 0.3 * (0.5 - (chosen % 365.25) / season) + rng.normal(0, 0.04, n_epochs)
    epochs = MJD_START + rng.uniform(0.0, 365.0) + chosen + night_time
    times = (epochs[:, None] + 0.012 * np.arange(n_bands)[None, :]).ravel()
    band_index = np.broadcast_to(bands, (n_epochs, n_bands)).ravel()
    keep = np.sort(rng.permutation(times.size)[: max(target, 50)])
    return times[keep], band_index[keep], float(baseline)


def _planck(wavelength: np.ndarray, teff: float) -> np.ndarray:
    """Planck B_lambda up to a constant."""
    x = np.minimum(_HC_OVER_K / (wavelength * teff), 700.0)
    return (5000.0 / wavelength) ** 5 / np.expm1(x)


def _sigmoid(x: float) -> float:
    return float(1.0 / (1.0 + np.exp(-x)))


def _line_depths(teff: float) -> dict[str, float]:
    """Central depth per line family as a function of temperature."""
    return {
        "balmer": 0.6 * float(np.exp(-0.5 * ((teff - 9000.0) / 2000.0) ** 2)),
        "cahk": 0.7 * _sigmoid((6500.0 - teff) / 600.0),
        "mgb": 0.3 * _sigmoid((6000.0 - teff) / 500.0),
        "nad": 0.35 * _sigmoid((6000.0 - teff) / 500.0),
        "tio": 0.6 * _sigmoid((3700.0 - teff) / 150.0),
    }


def _model_spectrum(teff: float, velocity: float, ebv: float) -> np.ndarray:
    """Noiseless reddened spectrum on :data:`WAVELENGTH`, up to a scale."""
    wave = WAVELENGTH
    flux = _planck(wave, teff)
    depths = _line_depths(teff)
    shift = 1.0 + velocity / _SPEED_OF_LIGHT_KMS
    absorption = np.zeros_like(wave)
    for centre, sigma, family in _LINES:
        width = sigma * (1.5 if family == "balmer" and teff > 7000 else 1.0)
        absorption += depths[family] * np.exp(-0.5 * ((wave - centre * shift) / width) ** 2)
    for head in _TIO_HEADS:  # sharp head, fading to the red
        after = wave - head * shift
        absorption += depths["tio"] * np.where(after >= 0, np.exp(-np.abs(after) / 120.0), 0.0)
    flux = flux * np.exp(-absorption)
    extinction = ebv * 3.1 * (5500.0 / wave) ** 1.3
    return flux * 10 ** (-0.4 * extinction)


def _colours(model: np.ndarray) -> tuple[float, float]:
    """Synthetic AB-like g-r and r-i from band-window means of f_nu."""
    mags = []
    for low, high in _BAND_WINDOWS:
        inside = (low <= WAVELENGTH) & (high > WAVELENGTH)
        f_nu = np.mean(model[inside] * WAVELENGTH[inside] ** 2)
        mags.append(-2.5 * np.log10(f_nu))
    return mags[0] - mags[1], mags[1] - mags[2]


def _observe_spectrum(
    rng: np.random.Generator, model: np.ndarray, mag_r: float
) -> tuple[np.ndarray, np.ndarray]:
    """Scale the model to the r magnitude, add noise; return flux and inverse variance."""
    r_window = (_BAND_WINDOWS[1][0] <= WAVELENGTH) & (_BAND_WINDOWS[1][1] > WAVELENGTH)
    level = 10.0 * 10 ** (-0.4 * (mag_r - 15.0))
    model = model / np.mean(model[r_window]) * level
    snr = float(np.clip(60.0 * 10 ** (-0.2 * (mag_r - 16.0)), 3.0, 150.0))
    throughput = np.exp(-0.5 * ((WAVELENGTH - 6300.0) / 2500.0) ** 2)
    sigma = level / snr * np.sqrt(0.3 + 0.7 * np.maximum(model, 0.0) / level) / throughput
    flux = model + rng.normal(0.0, 1.0, model.size) * sigma
    return flux, 1.0 / sigma**2


def _simulate(seed: int, index: int, name: str, missing: tuple[float, float]) -> Star:
    """Generate star ``index`` of class ``name``; depends only on ``(seed, index, name)``."""
    rng = np.random.default_rng([seed, 1, index])
    spec = _SPECS[name]
    period = _uniform(rng, spec.period, spec.log_period) if name != "constant" else float("nan")
    amplitude = _uniform(rng, spec.amplitude)
    teff = _uniform(rng, spec.teff, log=name == "constant")
    abs_mag = _uniform(rng, spec.abs_mag)
    if name == "cepheid":  # period-luminosity relation, with scatter
        abs_mag = -2.8 * (np.log10(period) - 1.0) - 3.6 + rng.normal(0.0, 0.2)
    gal_l = rng.uniform(0.0, 360.0)
    gal_b = float(np.degrees(np.arcsin(rng.uniform(-1.0, 1.0))))
    ebv = 0.03 / max(abs(np.sin(np.radians(gal_b))), 0.1) * rng.lognormal(0.0, 0.3)
    velocity = rng.normal(0.0, 60.0)
    model = _model_spectrum(teff, velocity, ebv)
    g_r, r_i = _colours(model)
    mean_g = _uniform(rng, spec.mean_g)
    mean_mags = np.array([mean_g, mean_g - g_r, mean_g - g_r - r_i])

    times, band_index, baseline = _cadence(rng)
    start = MJD_START
    shape = _make_shape(rng, name, period, baseline + 400.0)
    grid = np.linspace(0.0, baseline + 365.0, 8192)
    reference = shape(grid)
    spread = float(np.ptp(reference))
    scale = amplitude / spread if spread > 0 else 0.0
    slope = spec.slope * (5500.0 / teff) ** 0.3
    ratios = (np.asarray(BAND_WAVELENGTHS) / BAND_WAVELENGTHS[0]) ** -slope
    true = (
        mean_mags[band_index]
        + (shape(times - start) - reference.mean()) * scale * ratios[band_index]
    )

    n = times.size
    seeing = rng.lognormal(0.0, 0.25, n)
    floor = rng.uniform(0.005, 0.015)
    m5 = np.asarray(_M5)[band_index]
    err = floor + 0.2 * seeing * 10 ** (0.4 * (true - m5))
    mag = true + rng.normal(0.0, 1.0, n) * err
    outliers = rng.uniform(size=n) < rng.uniform(0.0, 0.02)
    mag[outliers] += rng.choice([-1.0, 1.0], outliers.sum()) * rng.uniform(0.5, 3.0, outliers.sum())
    seen = true < LIMITING_MAG
    flux, ivar = _observe_spectrum(rng, model, float(mean_mags[1]))

    distance_pc = 10 ** ((mean_g - abs_mag - ebv * 3.1 * (5500.0 / BAND_WAVELENGTHS[0]) ** 1.3)
                         / 5.0 + 1.0)  # fmt: skip
    parallax_error = 0.02 + 0.3 * 10 ** (0.2 * (mean_g - 20.0))
    metadata = {
        "gal_l": gal_l, "gal_b": gal_b,
        "parallax": 1000.0 / distance_pc + rng.normal(0.0, parallax_error),
        "parallax_error": parallax_error,
        "mean_g": mean_mags[0], "mean_r": mean_mags[1], "mean_i": mean_mags[2],
        "color_g_r": g_r, "color_r_i": r_i, "ebv": ebv,
    }  # fmt: skip
    no_spectrum, no_metadata = rng.uniform(size=2) < np.asarray(missing)
    return Star(
        object_id=f"star_{index:06d}",
        star_class=name,
        period=period,
        amplitude=amplitude,
        teff=teff,
        mean_mags=mean_mags,
        time=times[seen],
        mag=mag[seen],
        mag_err=err[seen],
        band=np.asarray(BANDS)[band_index[seen]],
        flux=None if no_spectrum else flux,
        ivar=None if no_spectrum else ivar,
        metadata=None if no_metadata else {k: float(v) for k, v in metadata.items()},
    )


def _class_plan(num_stars: int, seed: int) -> list[str]:
    """Classes in equal numbers (every class present once ``num_stars >= 11``), shuffled."""
    rng = np.random.default_rng([seed, 0])
    order = np.tile(np.arange(len(STAR_CLASSES)), -(-num_stars // len(STAR_CLASSES)))
    return [STAR_CLASSES[k] for k in rng.permutation(order[:num_stars])]


def generate_stars(
    num_stars: int, seed: int = 0, missing_spectrum: float = 0.3, missing_metadata: float = 0.1
) -> list[Star]:
    """Generate a variable-star population in memory.

    Args:
        num_stars: Number of stars.
        seed: Generator seed.
        missing_spectrum: Probability that a star has no spectrum.
        missing_metadata: Probability that a star has no catalogue metadata.

    Returns:
        The stars, in ``object_id`` order.

    Raises:
        ValueError: On a negative ``num_stars`` or a probability outside [0, 1].
    """
    if num_stars < 0:
        raise ValueError(f"num_stars must be >= 0, got {num_stars}")
    for value in (missing_spectrum, missing_metadata):
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"missing fractions must lie in [0, 1], got {value}")
    missing = (missing_spectrum, missing_metadata)
    return [
        _simulate(seed, i, name, missing) for i, name in enumerate(_class_plan(num_stars, seed))
    ]


def _write_spectrum(path: Path, flux: np.ndarray, ivar: np.ndarray) -> None:
    lines = [f"{w:.2f},{f:.6g},{v:.6g}" for w, f, v in zip(WAVELENGTH, flux, ivar, strict=True)]
    path.write_text("wavelength,flux,ivar\n" + "\n".join(lines) + "\n")


def write_variable_star_folder(
    root: Path | str,
    num_stars: int,
    seed: int = 0,
    missing_spectrum: float = 0.3,
    missing_metadata: float = 0.1,
) -> Path:
    """Write a generated population as CSV files.

    Layout: ``root/photometry.csv`` (long format ``object_id,time,mag,mag_err,band``, time in
    MJD), ``root/spectra/<object_id>.csv`` (``wavelength,flux,ivar``; only stars with a
    spectrum), ``root/metadata.csv`` (``object_id`` and :data:`METADATA_COLUMNS`, one row per
    star, NaN where missing), ``root/labels.csv`` (``object_id,class``) and
    ``root/dataset.json`` (generator version, seed and counts).

    The folder is written under a temporary name next to ``root`` and renamed into place, so a
    half-written folder is never seen as ``root``. An existing ``root`` is reused as is.

    Args:
        root: Destination folder.
        num_stars: Number of stars.
        seed: Generator seed.
        missing_spectrum: Probability that a star has no spectrum.
        missing_metadata: Probability that a star has no metadata.

    Returns:
        ``root``.

    Raises:
        ValueError: On invalid arguments (see :func:`generate_stars`).
    """
    root = Path(root)
    if root.is_dir():
        return root
    stars = generate_stars(num_stars, seed, missing_spectrum, missing_metadata)
    with atomic_folder(root) as temp:
        (temp / "spectra").mkdir()
        counts = [s.time.size for s in stars]
        photometry = pd.DataFrame(
            {
                "object_id": np.repeat([s.object_id for s in stars], counts),
                "time": np.concatenate([s.time for s in stars]) if stars else [],
                "mag": np.concatenate([s.mag for s in stars]) if stars else [],
                "mag_err": np.concatenate([s.mag_err for s in stars]) if stars else [],
                "band": np.concatenate([s.band for s in stars]) if stars else [],
            }
        )
        photometry.to_csv(temp / "photometry.csv", index=False, float_format="%.6f")
        nan_row = dict.fromkeys(METADATA_COLUMNS, float("nan"))
        metadata = pd.DataFrame(
            [{"object_id": s.object_id, **(s.metadata or nan_row)} for s in stars],
            columns=["object_id", *METADATA_COLUMNS],
        )
        metadata.to_csv(temp / "metadata.csv", index=False, float_format="%.6g")
        labels = pd.DataFrame(
            {"object_id": [s.object_id for s in stars], "class": [s.star_class for s in stars]}
        )
        labels.to_csv(temp / "labels.csv", index=False)
        for star in stars:
            if star.flux is not None and star.ivar is not None:
                _write_spectrum(temp / "spectra" / f"{star.object_id}.csv", star.flux, star.ivar)
        meta = {
            "generator_version": GENERATOR_VERSION,
            "seed": seed,
            "num_stars": num_stars,
            "num_observations": int(sum(counts)),
            "num_spectra": sum(s.flux is not None for s in stars),
            "num_metadata": sum(s.metadata is not None for s in stars),
            "missing_spectrum": missing_spectrum,
            "missing_metadata": missing_metadata,
            "classes": {c: sum(s.star_class == c for s in stars) for c in STAR_CLASSES},
            "bands": list(BANDS),
            "wavelength_range": [float(WAVELENGTH[0]), float(WAVELENGTH[-1])],
        }
        (temp / "dataset.json").write_text(json.dumps(meta, indent=1))
    return root
