"""Readers for astronomical data: long-format photometry tables, Kepler/TESS FITS, spectra.

Photometry tables (one row per observation, many objects per file) are read with pandas into a
:class:`LightCurveTable`, a CSR-like layout: one contiguous array per column, rows grouped by
object, and ``offsets`` marking where each object starts. Mission light curves and spectra are
decoded by astropy. Every reader turns a library failure into a ``ValueError`` whose message
names the file.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import astropy.units as u
import numpy as np
import pandas as pd
from astropy.io import fits
from astropy.timeseries import TimeSeries

CSV_SUFFIXES = (".csv", ".csv.gz", ".csv.bz2", ".csv.xz", ".csv.zst")
PARQUET_SUFFIXES = (".parquet", ".pq")
FITS_SUFFIXES = (".fits", ".fit", ".fts", ".fits.gz")

_WAVELENGTH_NAMES = ("wavelength", "wave", "lambda", "lam")
_LOG_WAVELENGTH_NAMES = ("loglam",)


def _suffix(path: Path) -> str:
    name = path.name.lower()
    for suffix in (*CSV_SUFFIXES, *PARQUET_SUFFIXES, *FITS_SUFFIXES):
        if name.endswith(suffix):
            return suffix
    return path.suffix.lower()


@dataclass
class LightCurveTable:
    """Many light curves in one CSR-like layout.

    Rows of object ``i`` are ``offsets[i]:offsets[i + 1]`` of every column, in file order.

    Attributes:
        ids: Object identifiers as text (``str``), shape ``[N]``, in order of first appearance in
            the file.
        offsets: Row offsets, shape ``[N + 1]``, ``offsets[0] == 0``, ``offsets[-1] == n_rows``.
        time: Observation times (days), shape ``[n_rows]``, float64.
        value: Magnitudes or fluxes, shape ``[n_rows]``, float64.
        error: Measurement errors, shape ``[n_rows]``, float64.
        band: Integer passband codes, shape ``[n_rows]``, int64 (indices into ``band_names``).
        band_names: Name of each band code (``("",)`` when the file has no band column).
        source: The file the table was read from, if any.
    """

    ids: np.ndarray
    offsets: np.ndarray
    time: np.ndarray
    value: np.ndarray
    error: np.ndarray
    band: np.ndarray
    band_names: tuple[str, ...] = ("",)
    source: Path | None = None

    def __len__(self) -> int:
        return int(self.ids.shape[0])

    @property
    def object_ids(self) -> np.ndarray:
        """Object identifiers, shape ``[N]``."""
        return self.ids

    @property
    def n_rows(self) -> int:
        """Total number of observations over all objects."""
        return int(self.time.shape[0])

    @property
    def counts(self) -> np.ndarray:
        """Number of observations per object, shape ``[N]``."""
        return np.diff(self.offsets)

    def get(self, i: int) -> dict[str, Any]:
        """Return the observations of object ``i``.

        Args:
            i: Object index in ``[0, len(self))`` (negative indices count from the end).

        Returns:
            Dict with ``object_id`` and views ``time``, ``value``, ``error``, ``band``.

        Raises:
            IndexError: If ``i`` is out of range.
        """
        n = len(self)
        if not -n <= i < n:
            raise IndexError(f"object index {i} out of range for {n} objects")
        i %= n
        lo, hi = int(self.offsets[i]), int(self.offsets[i + 1])
        return {
            "object_id": self.ids[i],
            "time": self.time[lo:hi],
            "value": self.value[lo:hi],
            "error": self.error[lo:hi],
            "band": self.band[lo:hi],
        }


def _read_frame(path: Path, columns: list[str], numeric: list[str], id_col: str) -> pd.DataFrame:
    suffix = _suffix(path)
    if suffix in PARQUET_SUFFIXES:
        import pyarrow.parquet as pq  # imported here: 0.14 s that most commands do not need

        try:
            available = list(pq.read_schema(path).names)
        except Exception as exc:  # pyarrow raises several unrelated types
            raise ValueError(f"{path}: not a readable Parquet file ({exc})") from exc
        _check_columns(path, available, columns)
        frame = pd.read_parquet(path, columns=columns)
    else:
        try:
            header = pd.read_csv(path, nrows=0)
        except pd.errors.EmptyDataError as exc:
            raise ValueError(f"{path}: file is empty (no header row)") from exc
        except (OSError, UnicodeDecodeError, pd.errors.ParserError) as exc:
            raise ValueError(f"{path}: not a readable CSV file ({exc})") from exc
        _check_columns(path, list(header.columns), columns)
        dtypes: dict[str, Any] = dict.fromkeys(numeric, np.float64)
        # Identifiers as text: parsed as numbers, "007" and "7" would merge into one object,
        # and a column mixing numbers and names could hold 7 and "7" as two.
        dtypes[id_col] = str
        try:  # pandas' C parser: pyarrow's was no faster on ASAS's gzipped CSV
            frame = pd.read_csv(path, usecols=columns, dtype=dtypes)
        except (ValueError, TypeError) as exc:
            raise ValueError(
                f"{path}: non-numeric value in one of the columns {numeric} ({exc})"
            ) from exc
        except (OSError, pd.errors.ParserError) as exc:
            raise ValueError(f"{path}: not a readable CSV file ({exc})") from exc
    for name in numeric:
        if not pd.api.types.is_numeric_dtype(frame[name].dtype):
            raise ValueError(f"{path}: column {name!r} is not numeric ({frame[name].dtype})")
    if len(frame) == 0:
        raise ValueError(f"{path}: table has a header but no rows")
    return frame


def _check_columns(path: Path, available: list[str], wanted: list[str]) -> None:
    missing = [c for c in wanted if c not in available]
    if missing:
        raise ValueError(f"{path}: missing column(s) {missing}; the file has {available}")


def _ids_as_text(ids: pd.Series) -> pd.Series:
    """Identifiers as text, as the CSV readers give them. A Parquet integer column with nulls
    arrives as floats, whose ``"7.0"`` would not match the ``"7"`` of another file."""
    if pd.api.types.is_float_dtype(ids.dtype) and bool((ids.dropna() % 1 == 0).all()):
        ids = ids.astype("Int64")
    return ids.astype(str)


def read_catalogue(
    path: str | Path, id_col: str, kind: str = "catalogue", required: Sequence[str] = ()
) -> pd.DataFrame:
    """Read a table with one row per object (labels, catalogue metadata), CSV or Parquet.

    Args:
        path: CSV file (optionally compressed) or Parquet file.
        id_col: Column holding the object identifier, returned as text (``"007"`` stays
            ``"007"`` in a CSV).
        kind: What the table holds, for error messages (``"labels"``, ``"metadata"``).
        required: Columns the table must have besides ``id_col``.

    Returns:
        The whole table as a DataFrame.

    Raises:
        FileNotFoundError: If ``path`` does not exist.
        ValueError: Naming the file, when it cannot be read or lacks ``id_col`` or a
            ``required`` column.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such {kind} file")
    if _suffix(path) in PARQUET_SUFFIXES:
        try:
            frame = pd.read_parquet(path)
        except Exception as exc:  # pyarrow raises several unrelated types
            raise ValueError(f"{path}: not a readable Parquet file ({exc})") from exc
        if id_col in frame.columns:
            frame[id_col] = _ids_as_text(frame[id_col])
    else:
        try:
            frame = pd.read_csv(path, dtype={id_col: str})
        except (pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError) as exc:
            raise ValueError(f"{path}: not a readable CSV file ({exc})") from exc
    _check_columns(path, list(frame.columns), [id_col, *required])
    return frame


def read_photometry_table(
    path: str | Path,
    id_col: str = "object_id",
    time_col: str = "time",
    value_col: str = "value",
    error_col: str = "error",
    band_col: str | None = None,
) -> LightCurveTable:
    """Read a long-format photometry table (one row per observation) into a CSR layout.

    Rows are grouped by object with one factorisation and one stable sort (no Python loop over
    objects); within an object, rows keep their file order.

    Args:
        path: CSV file (optionally compressed, e.g. ``.csv.gz``) or Parquet file.
        id_col: Column holding the object identifier.
        time_col: Column holding the observation time in days (e.g. ``"hjd"`` for ASAS).
        value_col: Column holding the magnitude or flux (e.g. ``"mag"``).
        error_col: Column holding the measurement error (e.g. ``"mag_err"``).
        band_col: Optional column holding the passband (any type; coded as integers).

    Returns:
        The table as a :class:`LightCurveTable`.

    Raises:
        FileNotFoundError: If ``path`` does not exist.
        ValueError: If the file is empty, not a table, lacks a column, or holds a non-numeric
            time, value or error; the message names the file.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    numeric = [time_col, value_col, error_col]
    columns = [id_col, *numeric] + ([band_col] if band_col is not None else [])
    frame = _read_frame(path, columns, numeric, id_col)

    codes, uniques = pd.factorize(frame[id_col], sort=False)
    if np.any(codes < 0):  # before np.bincount, which rejects the -1 of a missing id
        raise ValueError(f"{path}: column {id_col!r} has missing object identifiers")
    counts = np.bincount(codes, minlength=len(uniques))
    offsets = np.zeros(len(uniques) + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    order: np.ndarray | None = None
    if np.any(codes[1:] < codes[:-1]):  # rows of an object are not contiguous in the file
        order = np.argsort(codes, kind="stable")

    def column(name: str, dtype: Any) -> np.ndarray:
        values = np.asarray(frame[name].to_numpy(dtype=dtype))
        if order is not None:
            values = values[order]
        elif not values.flags.writeable:  # Arrow memory, from Parquet
            values = values.copy()
        return np.ascontiguousarray(values)

    if band_col is not None:
        band_codes, band_uniques = pd.factorize(frame[band_col], sort=True)
        if np.any(band_codes < 0):
            raise ValueError(f"{path}: column {band_col!r} has missing values")
        band = band_codes.astype(np.int64)
        band = band if order is None else band[order]
        band_names = tuple(str(b) for b in band_uniques)
    else:
        band = np.zeros(len(frame), dtype=np.int64)
        band_names = ("",)
    return LightCurveTable(
        ids=np.asarray(_ids_as_text(pd.Series(uniques))).astype(str),
        offsets=offsets,
        time=column(time_col, np.float64),
        value=column(value_col, np.float64),
        error=column(error_col, np.float64),
        band=np.ascontiguousarray(band),
        band_names=band_names,
        source=path,
    )


def _read_mission_fits(
    path: str | Path, fmt: str, flux_column: str, drop_flagged: bool
) -> dict[str, np.ndarray]:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            series = TimeSeries.read(path, format=fmt)
    except (OSError, KeyError, IndexError, NotImplementedError, ValueError, TypeError) as exc:
        raise ValueError(f"{path}: not a readable {fmt} light curve ({exc!r})") from exc
    err_column = f"{flux_column}_err"
    for name in (flux_column, err_column):
        if name not in series.colnames:
            raise ValueError(f"{path}: {fmt} light curve has no column {name!r}")
    time = np.asarray(series.time.tdb.jd, dtype=np.float64)
    flux = np.asarray(getattr(series[flux_column], "value", series[flux_column]), np.float64)
    flux_err = np.asarray(getattr(series[err_column], "value", series[err_column]), np.float64)
    keep = np.isfinite(time) & np.isfinite(flux) & np.isfinite(flux_err)
    if drop_flagged and "quality" in series.colnames:
        keep &= np.asarray(series["quality"]) == 0
    return {"time": time[keep], "flux": flux[keep], "flux_err": flux_err[keep]}


def read_kepler_fits(
    path: str | Path, flux_column: str = "pdcsap_flux", drop_flagged: bool = False
) -> dict[str, np.ndarray]:
    """Read a Kepler light-curve FITS file with astropy's ``kepler.fits`` reader.

    Args:
        path: Kepler ``*_llc.fits`` / ``*_slc.fits`` file.
        flux_column: Lower-case flux column, ``"pdcsap_flux"`` or ``"sap_flux"``; its error is
            the column of the same name with ``_err`` appended.
        drop_flagged: Also drop rows with a non-zero ``QUALITY`` flag.

    Returns:
        Dict of float64 arrays ``time`` (BJD in days, TDB), ``flux`` and ``flux_err``, with
        rows holding a NaN in any of them removed.

    Raises:
        FileNotFoundError: If ``path`` does not exist.
        ValueError: If the file is not FITS, not a Kepler light curve, or lacks the flux
            columns; the message names the file.
    """
    return _read_mission_fits(path, "kepler.fits", flux_column, drop_flagged)


def read_tess_fits(
    path: str | Path, flux_column: str = "pdcsap_flux", drop_flagged: bool = False
) -> dict[str, np.ndarray]:
    """Read a TESS light-curve FITS file with astropy's ``tess.fits`` reader.

    Args:
        path: TESS ``*_lc.fits`` file (light curve in the ``LIGHTCURVE`` extension).
        flux_column: Lower-case flux column, ``"pdcsap_flux"`` or ``"sap_flux"``.
        drop_flagged: Also drop rows with a non-zero ``QUALITY`` flag.

    Returns:
        Dict of float64 arrays ``time`` (BJD in days, TDB), ``flux`` and ``flux_err``, with
        rows holding a NaN in any of them removed.

    Raises:
        FileNotFoundError: If ``path`` does not exist.
        ValueError: If the file is not FITS, not a TESS light curve, or lacks the flux
            columns; the message names the file.
    """
    return _read_mission_fits(path, "tess.fits", flux_column, drop_flagged)


@dataclass
class Spectrum:
    """A one-dimensional spectrum.

    Attributes:
        wavelength: Wavelengths in Angstrom, shape ``[L]``.
        flux: Flux density, shape ``[L]``, in the file's units (``flux_unit``).
        ivar: Inverse variance of ``flux``, shape ``[L]`` (ones when the file has none).
        flux_unit: The flux unit as written in the file ("" when absent).
        source: The file the spectrum was read from.
    """

    wavelength: np.ndarray
    flux: np.ndarray
    ivar: np.ndarray
    flux_unit: str = ""
    source: Path | None = None


def _to_angstrom(path: Path, values: np.ndarray, unit: Any) -> np.ndarray:
    if unit is None or str(unit).strip() == "":
        return values.astype(np.float64)
    try:
        quantity = u.Quantity(values, unit=u.Unit(unit))
        return np.asarray(quantity.to_value(u.AA, equivalencies=u.spectral()), np.float64)
    except (ValueError, TypeError, u.UnitsError) as exc:
        raise ValueError(f"{path}: wavelength unit {unit!r} is not a length ({exc})") from exc


def _pick(names: list[str], candidates: tuple[str, ...]) -> str | None:
    lower = {n.lower(): n for n in names}
    for candidate in candidates:
        if candidate in lower:
            return lower[candidate]
    return None


def _spectrum_from_columns(
    path: Path, columns: dict[str, np.ndarray], units: dict[str, Any], default_unit: str | None
) -> Spectrum:
    names = list(columns)
    flux_name = _pick(names, ("flux",))
    wave_name = _pick(names, _WAVELENGTH_NAMES)
    log_name = _pick(names, _LOG_WAVELENGTH_NAMES)
    if flux_name is None or (wave_name is None and log_name is None):
        raise ValueError(
            f"{path}: a spectrum needs a 'flux' column and a 'wavelength' (or 'loglam') column; "
            f"the file has {names}"
        )
    if wave_name is not None:
        unit = units.get(wave_name) or default_unit
        wavelength = _to_angstrom(path, np.asarray(columns[wave_name], np.float64), unit)
    else:
        assert log_name is not None
        wavelength = 10.0 ** np.asarray(columns[log_name], np.float64)
    flux = np.asarray(columns[flux_name], np.float64)
    ivar_name = _pick(names, ("ivar", "inverse_variance"))
    ivar = np.ones_like(flux) if ivar_name is None else np.asarray(columns[ivar_name], np.float64)
    return Spectrum(wavelength, flux, ivar, str(units.get(flux_name) or ""), path)


def read_spectrum(path: str | Path, wavelength_unit: str | None = None) -> Spectrum:
    """Read a 1D spectrum from FITS or CSV, with wavelengths converted to Angstrom.

    FITS: the first binary-table HDU with ``flux`` and ``wavelength``/``wave``/``lambda``
    (or SDSS-style ``loglam``) columns is used, its ``TUNIT`` giving the wavelength unit; else
    a one-dimensional image HDU whose wavelength grid is given by ``CRVAL1``, ``CDELT1`` (or
    ``CD1_1``), ``CRPIX1`` and ``CUNIT1`` (``DC-FLAG = 1`` marks a log10 grid). CSV: columns
    ``wavelength`` (or ``wave``/``lambda``/``loglam``), ``flux`` and optionally ``ivar``.

    Args:
        path: FITS or CSV file.
        wavelength_unit: Unit of the wavelengths when the file gives none (Angstrom if None).

    Returns:
        The :class:`Spectrum`, with ``ivar`` of ones when the file has no inverse variance.

    Raises:
        FileNotFoundError: If ``path`` does not exist.
        ValueError: If the file cannot be parsed, has no spectrum, or has a wavelength unit
            that is not a length; the message names the file.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    if _suffix(path) in CSV_SUFFIXES:
        try:
            frame = pd.read_csv(path)
        except pd.errors.EmptyDataError as exc:
            raise ValueError(f"{path}: file is empty") from exc
        except (OSError, UnicodeDecodeError, pd.errors.ParserError) as exc:
            raise ValueError(f"{path}: not a readable CSV file ({exc})") from exc
        if len(frame) == 0:
            raise ValueError(f"{path}: spectrum has a header but no rows")
        try:
            columns = {c: frame[c].to_numpy(dtype=np.float64) for c in frame.columns}
        except (ValueError, TypeError) as exc:
            raise ValueError(f"{path}: non-numeric value in the spectrum ({exc})") from exc
        return _spectrum_from_columns(path, columns, {}, wavelength_unit)
    try:
        with fits.open(path) as hdus:
            for hdu in hdus:
                if isinstance(hdu, fits.BinTableHDU) and hdu.data is not None:
                    cols = hdu.columns
                    names = list(cols.names)
                    if _pick(names, ("flux",)) is None:
                        continue
                    columns = {n: np.asarray(hdu.data[n]).ravel() for n in names}
                    units = {c.name: c.unit for c in cols}
                    return _spectrum_from_columns(path, columns, units, wavelength_unit)
            for hdu in hdus:
                if isinstance(hdu, fits.PrimaryHDU | fits.ImageHDU) and hdu.data is not None:
                    data = np.asarray(hdu.data, np.float64)
                    if data.ndim != 1:
                        continue
                    return _spectrum_from_image(path, data, hdu.header, wavelength_unit)
    except OSError as exc:
        raise ValueError(f"{path}: not a readable FITS file ({exc})") from exc
    raise ValueError(f"{path}: no 1D spectrum (binary table with flux, or 1D image) found")


def _spectrum_from_image(
    path: Path, flux: np.ndarray, header: Any, default_unit: str | None
) -> Spectrum:
    if "CRVAL1" not in header:
        raise ValueError(f"{path}: 1D image has no CRVAL1 keyword for its wavelength grid")
    step = header.get("CDELT1", header.get("CD1_1"))
    if step is None:
        raise ValueError(f"{path}: 1D image has no CDELT1 or CD1_1 keyword")
    pixel = np.arange(flux.shape[0], dtype=np.float64) + 1.0
    grid = float(header["CRVAL1"]) + (pixel - float(header.get("CRPIX1", 1.0))) * float(step)
    if int(header.get("DC-FLAG", 0)) == 1:
        wavelength = 10.0**grid
    else:
        wavelength = _to_angstrom(path, grid, header.get("CUNIT1") or default_unit)
    return Spectrum(wavelength, flux, np.ones_like(flux), str(header.get("BUNIT", "")), path)
