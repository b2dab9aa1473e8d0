"""Reading the spectra and catalogue-metadata parts of a variable-star folder into arrays.

A folder in the layout of :func:`~domains.astronomy.synthetic.write_variable_star_folder`
(``photometry.csv``, ``spectra/<object_id>.csv|.fits``, ``metadata.csv``, ``labels.csv``)
is read object by object in a given order:

* :func:`read_spectra_folder` resamples every object's spectrum onto one common grid
  (:func:`~domains.astronomy.spectra.resample_spectrum`) and returns ``[N, G]`` flux and
  inverse variance, with a presence flag per object (objects without a file are absent);
* :func:`read_metadata_table` returns ``[N, F]`` standardised features with NaN where a value
  is missing (objects absent from the table are all NaN), and the standardisation statistics.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from domains.astronomy.io import read_catalogue, read_spectrum
from domains.astronomy.spectra import resample_spectrum

SPECTRUM_SUFFIXES = (".csv", ".csv.gz", ".fits", ".fit", ".fits.gz")
"""File name endings recognised as spectra in the spectra folder."""

MAD_TO_SIGMA = 1.4826


@dataclass
class SpectraArrays:
    """Spectra of N objects on a common grid.

    Attributes:
        flux: float32 ``[N, G]``; 0 for absent objects and empty bins.
        ivar: float32 ``[N, G]``; 0 marks an absent object or an empty bin.
        present: bool ``[N]``, whether the object has a spectrum file.
    """

    flux: np.ndarray
    ivar: np.ndarray
    present: np.ndarray


@dataclass
class MetadataArrays:
    """Catalogue features of N objects.

    Attributes:
        values: float32 ``[N, F]``, standardised as ``(x - median) / scale``; NaN if missing.
        columns: Feature names, in column order.
        median: float64 ``[F]`` median of each raw feature over the objects that have it.
        scale: float64 ``[F]`` ``1.4826 * MAD`` of each feature (1 where it is 0 or undefined).
    """

    values: np.ndarray
    columns: tuple[str, ...]
    median: np.ndarray
    scale: np.ndarray

    @property
    def present(self) -> np.ndarray:
        """bool ``[N]``: the object has at least one observed feature."""
        return np.isfinite(self.values).any(axis=1)


def spectrum_files(folder: Path) -> dict[str, Path]:
    """Spectrum file of each object id in ``folder`` (the name without its ending).

    Raises:
        ValueError: Naming both files when one id has two spectrum files.
    """
    found: dict[str, Path] = {}
    if not folder.is_dir():
        return found
    for path in sorted(folder.iterdir()):
        suffix = next((s for s in SPECTRUM_SUFFIXES if path.name.lower().endswith(s)), None)
        if suffix is None or not path.is_file():
            continue
        object_id = path.name[: -len(suffix)]
        if object_id in found:
            raise ValueError(
                f"{path}: a second spectrum for {object_id!r} (also {found[object_id]})"
            )
        found[object_id] = path
    return found


def read_resampled_spectrum(path: Path, grid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Read one spectrum file and rebin it onto ``grid``.

    Returns:
        ``(flux [G], ivar [G])`` float64.

    Raises:
        ValueError: Naming the file when it cannot be read, has a negative inverse variance,
            or has no valid pixel inside the grid's range (often a wavelength unit problem).
    """
    spectrum = read_spectrum(path)
    ivar = spectrum.ivar
    if np.any(ivar < 0):
        raise ValueError(f"{path}: negative inverse variance in {int(np.sum(ivar < 0))} pixel(s)")
    flux, out_ivar = resample_spectrum(spectrum.wavelength, spectrum.flux, ivar, grid)
    if not np.any(out_ivar > 0):
        wave = spectrum.wavelength[np.isfinite(spectrum.wavelength)]
        span = f"{wave.min():.1f}..{wave.max():.1f} A" if wave.size else "no finite wavelength"
        raise ValueError(
            f"{path}: no valid pixel (finite flux, ivar > 0) inside the grid "
            f"{grid[0]:.1f}..{grid[-1]:.1f} A; the file covers {span}"
        )
    return flux, out_ivar


def read_spectra_folder(folder: Path, object_ids: np.ndarray, grid: np.ndarray) -> SpectraArrays:
    """Resampled spectra of ``object_ids`` (in that order) from ``folder``.

    Spectrum files of objects not in ``object_ids`` are ignored.

    Raises:
        ValueError: Naming the file, from :func:`read_resampled_spectrum`.
    """
    files = spectrum_files(folder)
    n, size = len(object_ids), len(grid)
    flux = np.zeros((n, size), np.float32)
    ivar = np.zeros((n, size), np.float32)
    present = np.zeros(n, bool)
    for row, object_id in enumerate(object_ids):
        path = files.get(str(object_id))
        if path is None:
            continue
        flux[row], ivar[row] = read_resampled_spectrum(path, grid)
        present[row] = True
    return SpectraArrays(flux, ivar, present)


def read_metadata_table(
    path: Path,
    object_ids: np.ndarray,
    id_col: str = "object_id",
    columns: list[str] | None = None,
) -> MetadataArrays:
    """Standardised catalogue features of ``object_ids`` (in that order) from a CSV or
    Parquet table.

    Args:
        path: CSV or Parquet with ``id_col`` and the feature columns (empty cells or nulls are
            missing values).
        object_ids: Objects to return; those not in the file get all-NaN rows.
        id_col: Identifier column.
        columns: Feature columns; ``None`` takes every column but ``id_col``.

    Returns:
        The :class:`MetadataArrays`; statistics are taken over ``object_ids`` only.

    Raises:
        FileNotFoundError: If ``path`` does not exist.
        ValueError: Naming the file, on an unreadable CSV or Parquet file, a missing or
            non-numeric column, or an id listed twice.
    """
    frame = read_catalogue(path, id_col, kind="metadata")
    names = [c for c in frame.columns if c != id_col] if columns is None else list(columns)
    missing = [c for c in names if c not in frame.columns]
    if missing or not names:
        raise ValueError(
            f"{path}: missing feature column(s) {missing or '(none given)'}; the file has "
            f"{list(frame.columns)}"
        )
    for name in names:
        if not pd.api.types.is_numeric_dtype(frame[name].dtype):
            raise ValueError(
                f"{path}: feature column {name!r} is not numeric ({frame[name].dtype})"
            )
    duplicated = frame[id_col][frame[id_col].duplicated()].unique()
    if len(duplicated):
        raise ValueError(f"{path}: object ids listed more than once: {list(duplicated[:5])}")
    table = frame.set_index(id_col)[names].astype(np.float64)
    # A copy: from Parquet, to_numpy() can be a read-only view of Arrow memory.
    raw = table.reindex([str(i) for i in object_ids]).to_numpy(copy=True)
    raw[~np.isfinite(raw)] = np.nan
    with np.errstate(all="ignore"):
        observed = np.isfinite(raw).any(axis=0)
        median = np.zeros(len(names))
        median[observed] = np.nanmedian(raw[:, observed], axis=0)
        mad = np.full(len(names), np.nan)
        mad[observed] = np.nanmedian(np.abs(raw[:, observed] - median[observed]), axis=0)
    scale = MAD_TO_SIGMA * mad
    scale = np.where(np.isfinite(scale) & (scale > 0), scale, 1.0)
    values = ((raw - median) / scale).astype(np.float32)
    return MetadataArrays(values, tuple(str(n) for n in names), median, scale)
