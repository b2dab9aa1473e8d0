"""Synthetic variable stars: determinism, classes, cadence, errors, spectra and files."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from astropy.timeseries import LombScargle

from domains.astronomy.synthetic import (
    GENERATOR_VERSION,
    STAR_CLASSES,
    WAVELENGTH,
    Star,
    generate_stars,
    write_variable_star_folder,
)


@pytest.fixture(scope="module")
def stars() -> list[Star]:
    return generate_stars(440, seed=7)


def _of(stars: list[Star], name: str) -> list[Star]:
    return [s for s in stars if s.star_class == name]


def _main_band(star: Star) -> np.ndarray:
    bands, counts = np.unique(star.band, return_counts=True)
    return star.band == bands[np.argmax(counts)]


def test_deterministic_per_seed() -> None:
    a, b, c = generate_stars(30, seed=1), generate_stars(30, seed=1), generate_stars(30, seed=2)
    for x, y in zip(a, b, strict=True):
        assert x.star_class == y.star_class
        np.testing.assert_array_equal(x.mag, y.mag)
        np.testing.assert_array_equal(x.time, y.time)
    assert not all(np.array_equal(x.mag, y.mag) for x, y in zip(a, c, strict=False))


def test_every_class_present(stars: list[Star]) -> None:
    assert {s.star_class for s in stars} == set(STAR_CLASSES)
    assert {s.star_class for s in generate_stars(len(STAR_CLASSES), seed=3)} == set(STAR_CLASSES)


def test_observation_counts_and_bands(stars: list[Star]) -> None:
    counts = np.array([s.time.size for s in stars])
    assert counts.min() >= 30 and counts.max() <= 600
    assert set(np.concatenate([s.band for s in stars])) == {"g", "r", "i"}
    assert all(np.all(np.diff(s.time) >= 0) or s.time.size < 2 for s in stars)


@pytest.mark.parametrize(("name", "multiples"), [("rr_lyrae_ab", (1.0,)),
                                                  ("eclipsing_ew", (1.0, 0.5, 2.0))])  # fmt: skip
def test_periods_recoverable(stars: list[Star], name: str, multiples: tuple[float, ...]) -> None:
    chosen = [s for s in _of(stars, name) if _main_band(s).sum() >= 150][:4]
    assert len(chosen) >= 3
    found = 0
    for star in chosen:
        m = _main_band(star)
        frequency, power = LombScargle(star.time[m], star.mag[m], star.mag_err[m]).autopower(
            minimum_frequency=0.5, maximum_frequency=10.0, samples_per_peak=10
        )
        best = 1.0 / frequency[np.argmax(power)]
        found += any(abs(best - k * star.period) < 0.02 * k * star.period for k in multiples)
    assert found >= len(chosen) - 1  # nightly cadence: one daily alias is tolerated


def test_seasonal_gaps(stars: list[Star]) -> None:
    multi_year = [s for s in stars if np.ptp(s.time) > 450]
    assert len(multi_year) > 50
    assert all(np.diff(s.time).max() > 60 for s in multi_year)


def test_errors_heteroscedastic(stars: list[Star]) -> None:
    mag = np.concatenate([s.mag for s in stars])
    err = np.concatenate([s.mag_err for s in stars])
    assert np.all(err > 0)
    assert np.corrcoef(mag, np.log(err))[0, 1] > 0.5


def test_mira_amplitude_exceeds_rr_lyrae(stars: list[Star]) -> None:
    def spread(star: Star) -> float:
        lo, hi = np.percentile(star.mag[_main_band(star)], [5, 95])
        return float(hi - lo)

    mira = np.median([spread(s) for s in _of(stars, "mira")])
    rrl = np.median([spread(s) for s in _of(stars, "rr_lyrae_ab") + _of(stars, "rr_lyrae_c")])
    assert mira > 2.0 > rrl and mira > 3 * rrl


def _window(flux: np.ndarray, low: float, high: float) -> float:
    return float(np.median(flux[(low <= WAVELENGTH) & (high > WAVELENGTH)]))


def test_cooler_stars_are_redder(stars: list[Star]) -> None:
    def red_blue(star: Star) -> float:
        assert star.flux is not None
        return _window(star.flux, 8000, 9000) / _window(star.flux, 4200, 5000)

    cool = [red_blue(s) for s in _of(stars, "mira") if s.flux is not None]
    hot = [red_blue(s) for s in _of(stars, "delta_scuti") if s.flux is not None]
    assert np.median(cool) > 3 * np.median(hot)
    colour = {n: [s.metadata["color_g_r"] for s in _of(stars, n) if s.metadata] for n in
              ("mira", "delta_scuti")}  # fmt: skip
    assert np.median(colour["mira"]) > np.median(colour["delta_scuti"]) + 0.5


def test_h_alpha_in_a_f_stars(stars: list[Star]) -> None:
    depths = []
    for star in _of(stars, "delta_scuti"):
        if star.flux is None:
            continue
        continuum = (_window(star.flux, 6450, 6510) + _window(star.flux, 6620, 6680)) / 2
        depths.append(1 - _window(star.flux, 6555, 6571) / continuum)
    assert np.median(depths) > 0.15


def test_missing_fractions(stars: list[Star]) -> None:
    assert abs(np.mean([s.flux is None for s in stars]) - 0.3) < 0.07
    assert abs(np.mean([s.metadata is None for s in stars]) - 0.1) < 0.05
    none = generate_stars(40, seed=2, missing_spectrum=0.0, missing_metadata=1.0)
    assert all(s.flux is not None and s.metadata is None for s in none)


def test_parallax_consistent(stars: list[Star]) -> None:
    meta = pd.DataFrame([s.metadata for s in stars if s.metadata])
    assert (meta["parallax_error"] > 0).all()
    bright_rrl = [s.metadata for s in _of(stars, "rr_lyrae_ab") if s.metadata]
    # RR Lyrae (M ~ 0.6) at g ~ 14 are ~ 4 kpc away: parallax ~ 0.25 mas, not tens of mas.
    assert all(m["parallax"] < 2.0 for m in bright_rrl)


def test_folder_written_and_readable(tmp_path: Path) -> None:
    start = time.perf_counter()
    root = write_variable_star_folder(tmp_path / "stars", 500, seed=5)
    assert time.perf_counter() - start < 10.0
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    photometry = pd.read_csv(root / "photometry.csv")
    assert list(photometry.columns) == ["object_id", "time", "mag", "mag_err", "band"]
    assert photometry["time"].between(57000, 61000).all()
    labels = pd.read_csv(root / "labels.csv")
    assert list(labels.columns) == ["object_id", "class"] and len(labels) == 500
    assert set(labels["class"]) == set(STAR_CLASSES)
    metadata = pd.read_csv(root / "metadata.csv")
    assert len(metadata) == 500 and metadata["parallax"].isna().mean() > 0.03
    spectra = sorted((root / "spectra").glob("*.csv"))
    spectrum = pd.read_csv(spectra[0])
    assert list(spectrum.columns) == ["wavelength", "flux", "ivar"] and len(spectrum) == 1000
    assert (spectrum["ivar"] > 0).all()
    info = json.loads((root / "dataset.json").read_text())
    assert info["generator_version"] == GENERATOR_VERSION and info["seed"] == 5
    assert info["num_spectra"] == len(spectra) and info["num_observations"] == len(photometry)
    assert write_variable_star_folder(root, 500, seed=5) == root
