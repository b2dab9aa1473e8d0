"""Tests for the astronomy readers: photometry tables, Kepler/TESS FITS, spectra."""

from __future__ import annotations

import gzip
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from astropy.io import fits

from domains.astronomy.io import (
    read_catalogue,
    read_kepler_fits,
    read_photometry_table,
    read_spectrum,
    read_tess_fits,
)

ASAS = Path(__file__).resolve().parents[4] / "shared" / "data" / "asas"


def _long_frame() -> pd.DataFrame:
    # Object 7 is split in two runs to check the grouping; ids in order of first appearance.
    return pd.DataFrame(
        {
            "object_id": [7, 7, 3, 3, 3, 7, 11],
            "hjd": [1.0, 2.0, 10.0, 11.0, 12.0, 3.0, 5.0],
            "mag": [12.0, 12.1, 9.0, 9.1, 9.2, 12.2, 15.0],
            "mag_err": [0.01, 0.02, 0.03, 0.04, 0.05, 0.06, 0.07],
            "band": ["V", "V", "g", "V", "g", "V", "g"],
        }
    )


def _read(path: Path, **kwargs: str | None):
    return read_photometry_table(
        path, time_col="hjd", value_col="mag", error_col="mag_err", **kwargs
    )


@pytest.mark.parametrize("name", ["phot.csv", "phot.csv.gz"])
def test_long_csv_round_trip(tmp_path: Path, name: str) -> None:
    frame = _long_frame()
    path = tmp_path / name
    frame.to_csv(path, index=False)
    table = _read(path, band_col="band")
    assert len(table) == 3
    assert table.object_ids.tolist() == ["7", "3", "11"]
    assert table.offsets.tolist() == [0, 3, 6, 7]
    assert table.n_rows == 7
    first = table.get(0)
    assert first["object_id"] == "7"
    np.testing.assert_array_equal(first["time"], [1.0, 2.0, 3.0])
    np.testing.assert_array_equal(first["value"], [12.0, 12.1, 12.2])
    np.testing.assert_array_equal(first["error"], [0.01, 0.02, 0.06])
    assert table.band_names == ("V", "g")
    np.testing.assert_array_equal(table.get(1)["band"], [1, 0, 1])
    np.testing.assert_array_equal(table.get(-1)["value"], [15.0])
    with pytest.raises(IndexError):
        table.get(3)


def test_string_ids_and_no_band(tmp_path: Path) -> None:
    frame = _long_frame().assign(object_id=lambda f: "star_" + f["object_id"].astype(str))
    path = tmp_path / "s.csv"
    frame.drop(columns="band").to_csv(path, index=False)
    table = _read(path)
    assert table.object_ids.tolist() == ["star_7", "star_3", "star_11"]
    assert table.band.tolist() == [0] * 7
    assert table.time.flags.c_contiguous and table.time.dtype == np.float64


def test_ids_are_text_so_distinct_spellings_stay_distinct(tmp_path: Path) -> None:
    # As numbers, "007" and "7" would be one object; a column mixing numbers and names could
    # also come back with 7 and "7" as two objects that print alike.
    path = tmp_path / "ids.csv"
    path.write_text(
        "object_id,hjd,mag,mag_err\n007,1,10,0.1\n7,2,11,0.1\nsyn7,3,12,0.1\n7,4,13,0.1\n"
    )
    table = _read(path)
    assert table.object_ids.tolist() == ["007", "7", "syn7"]
    np.testing.assert_array_equal(table.get(1)["value"], [11.0, 13.0])


def test_missing_ids_name_file(tmp_path: Path) -> None:
    path = tmp_path / "noid.csv"
    path.write_text("object_id,hjd,mag,mag_err\na,1,10,0.1\n,2,11,0.1\n")
    with pytest.raises(
        ValueError, match=r"noid\.csv: column 'object_id' has missing object identifiers"
    ):
        _read(path)


def test_missing_column_names_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    _long_frame().drop(columns="mag_err").to_csv(path, index=False)
    with pytest.raises(ValueError, match=r"bad\.csv.*mag_err"):
        _read(path)


def test_non_numeric_names_file(tmp_path: Path) -> None:
    frame = _long_frame().astype({"mag": object})
    frame.loc[2, "mag"] = "bright"
    path = tmp_path / "text.csv"
    frame.to_csv(path, index=False)
    with pytest.raises(ValueError, match=r"text\.csv.*non-numeric"):
        _read(path)


def test_empty_files_name_file(tmp_path: Path) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(ValueError, match=r"empty\.csv.*empty"):
        _read(empty)
    header = tmp_path / "header.csv.gz"
    with gzip.open(header, "wt") as handle:
        handle.write("object_id,hjd,mag,mag_err\n")
    with pytest.raises(ValueError, match=r"header\.csv\.gz.*no rows"):
        _read(header)
    with pytest.raises(FileNotFoundError, match="absent"):
        _read(tmp_path / "absent.csv")


def test_parquet_round_trip_with_ids_as_text(tmp_path: Path) -> None:
    path = tmp_path / "phot.parquet"
    _long_frame().to_parquet(path)
    table = _read(path, band_col="band")
    assert table.object_ids.tolist() == ["7", "3", "11"]
    assert table.offsets.tolist() == [0, 3, 6, 7]
    np.testing.assert_array_equal(table.get(0)["value"], [12.0, 12.1, 12.2])
    np.testing.assert_array_equal(table.get(1)["band"], [1, 0, 1])
    assert table.band_names == ("V", "g")
    # Rows already grouped by object need no reordering copy: the arrays must still be writable
    # and equal to the CSV's.
    grouped = _long_frame().sort_values("object_id", kind="stable")
    grouped.to_parquet(path)
    grouped.to_csv(tmp_path / "phot.csv", index=False)
    table, from_csv = _read(path, band_col="band"), _read(tmp_path / "phot.csv", band_col="band")
    for name in ("time", "value", "error", "band"):
        column = getattr(table, name)
        np.testing.assert_array_equal(column, getattr(from_csv, name))
        assert column.flags.writeable, f"{name} is a read-only view of Arrow memory"


def test_parquet_float_ids_read_as_the_labels_write_them(tmp_path: Path) -> None:
    # An integer id column that went through floats (a join with nulls, say) must give "7", as
    # read_catalogue does for the labels, not "7.0".
    path = tmp_path / "phot.parquet"
    _long_frame().astype({"object_id": float}).to_parquet(path)
    assert _read(path).object_ids.tolist() == ["7", "3", "11"]
    fractional = _long_frame().astype({"object_id": float})
    fractional["object_id"] += 0.5
    fractional.to_parquet(path)
    assert _read(path).object_ids.tolist() == ["7.5", "3.5", "11.5"]


def test_bad_parquet_names_file(tmp_path: Path) -> None:
    corrupt = tmp_path / "corrupt.parquet"
    corrupt.write_bytes(b"PAR1 not really")
    with pytest.raises(ValueError, match=r"corrupt\.parquet: not a readable Parquet file"):
        _read(corrupt)
    lacking = tmp_path / "lacking.parquet"
    _long_frame().drop(columns="mag_err").to_parquet(lacking)
    with pytest.raises(ValueError, match=r"lacking\.parquet: missing column.*mag_err"):
        _read(lacking)
    text = tmp_path / "text.parquet"
    _long_frame().astype({"mag": str}).to_parquet(text)
    with pytest.raises(ValueError, match=r"text\.parquet: column 'mag' is not numeric"):
        _read(text)


def test_catalogue_ids_are_text_in_csv_and_parquet(tmp_path: Path) -> None:
    csv = tmp_path / "labels.csv"
    csv.write_text("object_id,class\n007,RRAB\n7,EW\n")
    assert read_catalogue(csv, "object_id")["object_id"].tolist() == ["007", "7"]
    # An integer id column with a null is stored as floats; "7.0" would match no other file.
    parquet = tmp_path / "meta.parquet"
    pd.DataFrame({"object_id": [7.0, None, 11.0], "parallax": [1.0, 2.0, 3.0]}).to_parquet(parquet)
    ids = read_catalogue(parquet, "object_id")["object_id"].tolist()
    assert ids[0] == "7" and ids[2] == "11" and pd.isna(ids[1])


def test_catalogue_errors_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"absent\.csv: no such labels file"):
        read_catalogue(tmp_path / "absent.csv", "object_id", kind="labels")
    corrupt = tmp_path / "corrupt.parquet"
    corrupt.write_bytes(b"PAR1 not really")
    with pytest.raises(ValueError, match=r"corrupt\.parquet: not a readable Parquet file"):
        read_catalogue(corrupt, "object_id")
    no_id = tmp_path / "no_id.parquet"
    pd.DataFrame({"name": ["a"], "parallax": [1.0]}).to_parquet(no_id)
    with pytest.raises(ValueError, match=r"no_id\.parquet: missing column\(s\) \['object_id'\]"):
        read_catalogue(no_id, "object_id")
    no_class = tmp_path / "no_class.csv"
    no_class.write_text("object_id,ra_deg\n7,1.5\n")
    with pytest.raises(ValueError, match=r"no_class\.csv: missing column\(s\) \['class'\]"):
        read_catalogue(no_class, "object_id", kind="labels", required=["class"])


def _mission_fits(path: Path, telescope: str, extname: str) -> np.ndarray:
    n = 20
    times = 100.0 + 0.02 * np.arange(n)
    times[3] = np.nan
    flux = 1000.0 + np.arange(n, dtype=np.float64)
    flux[5] = np.nan
    columns = [
        fits.Column(name="TIME", format="D", unit="d", array=times),
        fits.Column(name="SAP_FLUX", format="E", unit="e-/s", array=flux),
        fits.Column(name="SAP_FLUX_ERR", format="E", unit="e-/s", array=np.full(n, 3.0)),
        fits.Column(name="PDCSAP_FLUX", format="E", unit="e-/s", array=flux),
        fits.Column(name="PDCSAP_FLUX_ERR", format="E", unit="e-/s", array=np.full(n, 2.0)),
        fits.Column(name="QUALITY", format="J", array=(np.arange(n) == 7).astype(np.int32)),
    ]
    table = fits.BinTableHDU.from_columns(columns, name=extname)
    header = table.header
    header["EXTVER"] = 1
    header["TELESCOP"] = telescope
    header["TIMEREF"] = "SOLARSYSTEM"
    header["TASSIGN"] = "SPACECRAFT"
    header["TIMESYS"] = "TDB"
    header["TIMEUNIT"] = "d"
    header["BJDREFI"] = 2454833
    header["BJDREFF"] = 0.0
    primary = fits.PrimaryHDU()
    primary.header["TELESCOP"] = telescope
    fits.HDUList([primary, table]).writeto(path)
    return times


@pytest.mark.parametrize(
    ("telescope", "extname", "reader"),
    [("Kepler", "LIGHTCURVE", read_kepler_fits), ("TESS", "LIGHTCURVE", read_tess_fits)],
)
def test_mission_fits_round_trip(tmp_path: Path, telescope: str, extname: str, reader) -> None:
    path = tmp_path / f"{telescope}.fits"
    times = _mission_fits(path, telescope, extname)
    curve = reader(path)
    assert curve["time"].shape == curve["flux"].shape == curve["flux_err"].shape == (18,)
    expected = 2454833.0 + np.delete(times, [3, 5])
    np.testing.assert_allclose(curve["time"], expected, rtol=0, atol=1e-6)
    np.testing.assert_allclose(curve["flux"], np.delete(1000.0 + np.arange(20), [3, 5]))
    assert np.all(curve["flux_err"] == 2.0)
    assert reader(path, drop_flagged=True)["time"].shape == (17,)
    assert reader(path, flux_column="sap_flux")["flux"].shape == (18,)


def test_mission_fits_errors_name_file(tmp_path: Path) -> None:
    text = tmp_path / "notfits.fits"
    text.write_text("hello")
    with pytest.raises(ValueError, match=r"notfits\.fits"):
        read_kepler_fits(text)
    other = tmp_path / "other.fits"
    _mission_fits(other, "HST", "LIGHTCURVE")
    with pytest.raises(ValueError, match=r"other\.fits"):
        read_tess_fits(other)


def test_spectrum_csv_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "spec.csv"
    wave = np.linspace(4000.0, 5000.0, 11)
    pd.DataFrame({"wavelength": wave, "flux": wave / 1e3, "ivar": np.full(11, 4.0)}).to_csv(
        path, index=False
    )
    spectrum = read_spectrum(path)
    np.testing.assert_allclose(spectrum.wavelength, wave)
    np.testing.assert_allclose(spectrum.flux, wave / 1e3)
    np.testing.assert_allclose(spectrum.ivar, 4.0)
    in_nm = read_spectrum(path, wavelength_unit="nm")
    np.testing.assert_allclose(in_nm.wavelength, wave * 10.0)


def test_spectrum_fits_table_and_image(tmp_path: Path) -> None:
    wave_nm = np.linspace(400.0, 500.0, 6)
    columns = [
        fits.Column(name="WAVELENGTH", format="D", unit="nm", array=wave_nm),
        fits.Column(name="FLUX", format="D", unit="erg/(s cm2 Angstrom)", array=np.ones(6)),
        fits.Column(name="IVAR", format="D", array=np.full(6, 9.0)),
    ]
    table_path = tmp_path / "table.fits"
    fits.HDUList([fits.PrimaryHDU(), fits.BinTableHDU.from_columns(columns)]).writeto(table_path)
    spectrum = read_spectrum(table_path)
    np.testing.assert_allclose(spectrum.wavelength, wave_nm * 10.0)
    np.testing.assert_allclose(spectrum.ivar, 9.0)

    image = fits.PrimaryHDU(np.arange(5, dtype=np.float32))
    image.header["CRVAL1"] = 3.6
    image.header["CDELT1"] = 0.001
    image.header["CRPIX1"] = 1
    image.header["DC-FLAG"] = 1
    log_path = tmp_path / "log.fits"
    image.writeto(log_path)
    spectrum = read_spectrum(log_path)
    np.testing.assert_allclose(spectrum.wavelength, 10.0 ** (3.6 + 0.001 * np.arange(5)))
    np.testing.assert_allclose(spectrum.flux, np.arange(5))

    linear = fits.PrimaryHDU(np.ones(4))
    linear.header.update({"CRVAL1": 0.5, "CDELT1": 0.1, "CUNIT1": "um"})
    linear_path = tmp_path / "linear.fits"
    linear.writeto(linear_path)
    np.testing.assert_allclose(read_spectrum(linear_path).wavelength, [5000, 6000, 7000, 8000])


def test_spectrum_errors_name_file(tmp_path: Path) -> None:
    path = tmp_path / "nowave.csv"
    pd.DataFrame({"x": [1.0], "flux": [2.0]}).to_csv(path, index=False)
    with pytest.raises(ValueError, match=r"nowave\.csv.*wavelength"):
        read_spectrum(path)
    bad_unit = tmp_path / "unit.fits"
    image = fits.PrimaryHDU(np.ones(3))
    image.header.update({"CRVAL1": 1.0, "CDELT1": 1.0, "CUNIT1": "kg"})
    image.writeto(bad_unit)
    with pytest.raises(ValueError, match=r"unit\.fits.*length"):
        read_spectrum(bad_unit)


@pytest.mark.skipif(not (ASAS / "photometry.csv.gz").is_file(), reason="ASAS data absent")
def test_real_asas_table() -> None:
    start = time.perf_counter()
    table = _read(ASAS / "photometry.csv.gz")
    elapsed = time.perf_counter() - start
    labels = pd.read_csv(
        ASAS / "labels.csv", usecols=["object_id", "n_obs"], dtype={"object_id": str}
    )
    assert len(table) == len(labels) == 13_909
    assert table.n_rows == 6_334_240 == int(labels["n_obs"].sum())
    assert set(table.object_ids.tolist()) == set(labels["object_id"].tolist())
    counts = dict(zip(table.object_ids.tolist(), table.counts.tolist(), strict=True))
    assert all(counts[i] == n for i, n in zip(labels["object_id"], labels["n_obs"], strict=True))
    assert elapsed < 30.0
