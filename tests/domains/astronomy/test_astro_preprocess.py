"""Tests for light-curve cleaning, normalisation, crop/pad, periods and table tokenising."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from domains.astronomy.io import LightCurveTable, read_photometry_table
from domains.astronomy.preprocess import (
    clean_light_curve,
    crop_or_pad,
    lomb_scargle_period,
    phase_fold,
    robust_normalise,
    tokenise_table,
)

ASAS = Path(__file__).resolve().parents[4] / "shared" / "data" / "asas"


def test_clean_drops_nan_dupes_and_sorts() -> None:
    time = np.array([3.0, 1.0, 2.0, 2.0, np.nan, 4.0, 2.0])
    value = np.array([30.0, 10.0, 20.0, 21.0, 1.0, np.inf, 22.0])
    error = np.array([0.3, 0.1, 0.5, 0.2, 0.1, 0.1, 0.9])
    curve = clean_light_curve(time, value, error)
    np.testing.assert_array_equal(curve["time"], [1.0, 2.0, 3.0])
    np.testing.assert_array_equal(curve["value"], [10.0, 21.0, 30.0])
    np.testing.assert_array_equal(curve["error"], [0.1, 0.2, 0.3])
    np.testing.assert_array_equal(curve["band"], [0, 0, 0])
    with pytest.raises(ValueError, match="one length"):
        clean_light_curve(time, value[:2], error)


def test_robust_normalise_stats() -> None:
    value = np.array([10.0, 11.0, 12.0, 13.0, 100.0])
    normed, err, median, scale = robust_normalise(value, np.ones(5))
    assert median == 12.0
    assert scale == pytest.approx(1.4826 * 1.0)
    np.testing.assert_allclose(normed, (value - 12.0) / scale)
    np.testing.assert_allclose(err, 1.0 / scale)
    _, _, median, scale = robust_normalise(np.full(4, 5.0), np.ones(4), min_scale=0.01)
    assert (median, scale) == (5.0, 0.01)
    assert robust_normalise(np.array([]), np.array([]))[2:] == (0.0, 1.0)


def test_pad_and_crop_masks() -> None:
    curve = {"time": np.arange(5.0), "band": np.arange(5)}
    padded = crop_or_pad(curve, 8)
    np.testing.assert_array_equal(padded["mask"], [True] * 5 + [False] * 3)
    np.testing.assert_array_equal(padded["time"], [0, 1, 2, 3, 4, 0, 0, 0])
    assert padded["band"].dtype == curve["band"].dtype

    long = {"time": np.arange(100.0)}
    even = crop_or_pad(long, 10)
    assert even["mask"].all()
    assert even["time"][0] == 0.0 and even["time"][-1] == 99.0
    assert np.all(np.diff(even["time"]) > 0)

    window = crop_or_pad(long, 10, rng=np.random.default_rng(0))["time"]
    np.testing.assert_array_equal(np.diff(window), np.ones(9))
    assert 0 <= window[0] <= 90
    empty = crop_or_pad({"time": np.array([])}, 3)
    assert not empty["mask"].any()
    with pytest.raises(ValueError, match="length"):
        crop_or_pad(long, 0)


def test_lomb_scargle_recovers_period_on_irregular_sampling() -> None:
    rng = np.random.default_rng(1)
    time = np.sort(rng.uniform(0.0, 300.0, 400))
    period = 3.7
    value = 12.0 + 0.4 * np.sin(2 * np.pi * time / period) + rng.normal(0, 0.05, time.size)
    found, power = lomb_scargle_period(time, value, np.full(time.size, 0.05), 0.5, 50.0)
    assert found == pytest.approx(period, rel=0.01)
    assert 0.0 < power <= 1.0
    phase = phase_fold(time, found)
    assert phase.min() >= 0.0 and phase.max() < 1.0
    with pytest.raises(ValueError):
        lomb_scargle_period(time, value, min_period=5.0, max_period=1.0)
    with pytest.raises(ValueError):
        phase_fold(time, 0.0)


def _table(tmp_path: Path) -> LightCurveTable:
    rng = np.random.default_rng(2)
    rows = []
    for obj, n in [(1, 40), (2, 5), (3, 17)]:
        times = rng.uniform(0, 100, n)
        for t in times:
            rows.append((obj, t, rng.normal(10, 1), rng.uniform(0.01, 0.1)))
    rows.append((2, rows[41][1], 99.0, 5.0))  # duplicate time with a larger error
    rows.append((3, np.nan, 1.0, 0.1))
    rows.append((4, np.nan, 1.0, 0.1))  # object with no usable observation
    frame = pd.DataFrame(rows, columns=["object_id", "time", "value", "error"])
    frame = frame.sample(frac=1.0, random_state=0)  # shuffled, objects interleaved
    path = tmp_path / "t.csv"
    frame.to_csv(path, index=False)
    return read_photometry_table(path)


def test_tokenise_table_matches_per_object_pipeline(tmp_path: Path) -> None:
    table = _table(tmp_path)
    length = 16
    tokens = tokenise_table(table, length)
    n = len(table)
    for key in ("time", "value", "error", "band", "mask"):
        assert tokens[key].shape == (n, length)
    for key in ("t0", "median", "scale", "n_obs"):
        assert tokens[key].shape == (n,)
    for i in range(n):
        raw = table.get(i)
        curve = clean_light_curve(raw["time"], raw["value"], raw["error"], raw["band"])
        value, error, median, scale = robust_normalise(curve["value"], curve["error"])
        t0 = curve["time"][0] if curve["time"].size else 0.0
        ref = crop_or_pad(
            {"time": curve["time"] - t0, "value": value, "error": error, "band": curve["band"]},
            length,
        )
        assert tokens["n_obs"][i] == curve["time"].size
        assert tokens["median"][i] == pytest.approx(median)
        assert tokens["scale"][i] == pytest.approx(scale)
        assert tokens["t0"][i] == pytest.approx(t0)
        np.testing.assert_array_equal(tokens["mask"][i], ref["mask"])
        for key in ("time", "value", "error"):
            np.testing.assert_allclose(tokens[key][i], ref[key], rtol=1e-6, atol=1e-6)
    ids = table.object_ids.tolist()
    n_obs = dict(zip(ids, tokens["n_obs"].tolist(), strict=True))
    assert n_obs == {"1": 40, "2": 5, "3": 17, "4": 0}
    assert not tokens["mask"][ids.index("4")].any()
    random = tokenise_table(table, 8, rng=np.random.default_rng(0))
    real = dict(zip(ids, random["mask"].sum(axis=1).tolist(), strict=True))
    assert real == {"1": 8, "2": 5, "3": 8, "4": 0}


@pytest.mark.skipif(not (ASAS / "photometry.csv.gz").is_file(), reason="ASAS data absent")
def test_tokenise_real_asas() -> None:
    table = read_photometry_table(
        ASAS / "photometry.csv.gz", time_col="hjd", value_col="mag", error_col="mag_err"
    )
    tokens = tokenise_table(table, 128)
    assert tokens["value"].shape == (13_909, 128)
    assert int(tokens["n_obs"].sum()) <= 6_334_240
    assert np.all(tokens["scale"] >= 1e-3)
    assert np.all(tokens["time"][tokens["mask"]] >= 0)
