"""Reading windows of one scene (one multi-band file, or single-band files stacked) onto the
reference file's grid, with nodata turned into a validity mask."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import affine
import numpy as np
import rasterio
import rasterio.windows
import torch
from rasterio.enums import Resampling
from rasterio.vrt import WarpedVRT
from rasterio.windows import Window


class RasterMismatchError(ValueError):
    """Two rasters that should share a grid do not (CRS, transform or shape)."""


@dataclass
class RasterWindow:
    """Values of a window on the reference grid.

    Args:
        values: float32 ``[C, H, W]``; 0 wherever ``valid`` is False.
        valid: bool ``[C, H, W]``; False where the source was nodata, masked, not finite, or
            outside the scene.
        transform: Affine transform of the window's pixel grid.
        crs: The reference file's CRS (``"EPSG:n"`` when it has a code, else WKT).
    """

    values: np.ndarray
    valid: np.ndarray
    transform: affine.Affine
    crs: str

    def to_sample(self, wavelengths: Sequence[float]) -> dict[str, torch.Tensor]:
        """The domain's image contract dict (see ``domains.remote_sensing``).

        Args:
            wavelengths: Centre wavelength (µm) of each channel.

        Returns:
            ``{"values", "valid", "wavelengths", "transform"}`` as tensors.

        Raises:
            ValueError: When the number of wavelengths differs from the channels.
        """
        if len(wavelengths) != self.values.shape[0]:
            raise ValueError(f"{len(wavelengths)} wavelengths for {self.values.shape[0]} channels")
        return {
            "values": torch.from_numpy(np.ascontiguousarray(self.values, dtype=np.float32)),
            "valid": torch.from_numpy(np.ascontiguousarray(self.valid, dtype=bool)),
            "wavelengths": torch.tensor(list(wavelengths), dtype=torch.float32),
            "transform": torch.tensor(tuple(self.transform)[:6], dtype=torch.float64),
        }


def crs_string(crs: Any) -> str:
    """``"EPSG:n"`` when the CRS has a code, else its WKT, ``""`` when there is none."""
    return "" if crs is None else str(crs.to_string())


def crs_differs(a: Any, b: Any) -> bool:
    """Whether two CRSs are declared differently.

    rasterio's ``==`` calls EPSG:3358 and EPSG:32119 equal (same projection, different datum
    realisation); a declaration check must not, so EPSG codes are compared when both exist.
    """
    if a is None or b is None:
        return (a is None) != (b is None)
    code_a, code_b = a.to_epsg(), b.to_epsg()
    if code_a is not None and code_b is not None:
        return bool(code_a != code_b)
    return bool(a != b)


def _open(path: str | Path) -> Any:
    if not Path(path).is_file():
        raise FileNotFoundError(f"raster file not found: {path}")
    return rasterio.open(path)


def check_aligned(paths: Sequence[str | Path], allow_crs_alias: bool = False) -> None:
    """Check that every file shares the first file's CRS, transform and shape.

    Args:
        paths: Raster files that must lie on one grid (e.g. bands and a label raster).
        allow_crs_alias: When only the declared CRS differs (same transform and shape, as the
            labels and bands of ``landsat7_nc``: EPSG:3358 vs EPSG:32119), warn naming both
            files instead of raising.

    Raises:
        FileNotFoundError: When a file does not exist.
        RasterMismatchError: Naming both files and what differs.
    """
    if not paths:
        return
    with _open(paths[0]) as first:
        ref = (first.crs, first.transform, (first.height, first.width))
    for path in paths[1:]:
        with _open(path) as other:
            crs, transform, shape = other.crs, other.transform, (other.height, other.width)
        differences = []
        if shape != ref[2]:
            differences.append(f"shape {ref[2]} vs {shape}")
        if not transform.almost_equals(ref[1]):
            differences.append(f"transform {tuple(ref[1])[:6]} vs {tuple(transform)[:6]}")
        crs_mismatch = crs_differs(crs, ref[0])
        if crs_mismatch:
            differences.append(f"CRS {crs_string(ref[0])} vs {crs_string(crs)}")
        if not differences:
            continue
        message = f"{paths[0]} and {path} are not aligned: " + "; ".join(differences)
        if crs_mismatch and len(differences) == 1 and allow_crs_alias:
            warnings.warn(
                message + " (same transform and shape: treating the CRS declarations as "
                "aliases of one grid)",
                stacklevel=2,
            )
            continue
        raise RasterMismatchError(message)


@dataclass
class _Source:
    path: Path
    dataset: Any  # the opened file, or a WarpedVRT onto the reference grid
    indexes: list[int]
    nodata: float | None


class RasterStack:
    """The open files of one scene, read as one ``[C, H, W]`` raster on the reference grid.

    ``paths`` is one multi-band file (its first ``len(band_names)`` bands are read, all when
    ``band_names`` is None) or several single-band files stacked in order. Files whose grid
    differs from the reference file's (another resolution or extent) are resampled onto it
    with a ``WarpedVRT``; files with the reference's transform and shape are read directly,
    whatever CRS they declare. Keep one per worker process: handles are not picklable.

    Args:
        paths: The scene's files.
        band_names: Names of the channels, for error messages and counts.
        reference: Index in ``paths`` of the file whose grid the output uses.
        resampling: Resampling of files on another grid.
        nodata: Fill value for files that declare none (e.g. the sensor's convention).

    Raises:
        FileNotFoundError: When a file does not exist.
        ValueError: On a wrong band count (naming the file) or a bad reference index.
    """

    def __init__(
        self,
        paths: Sequence[str | Path],
        band_names: Sequence[str] | None = None,
        reference: int = 0,
        resampling: Resampling = Resampling.bilinear,
        nodata: float | None = None,
    ) -> None:
        self.paths = [Path(p) for p in paths]
        if not self.paths:
            raise ValueError("no raster files given")
        if not 0 <= reference < len(self.paths):
            raise ValueError(f"reference {reference} is not an index of the {len(paths)} files")
        self._handles: list[Any] = []
        try:
            self._open_all(band_names, reference, resampling, nodata)
        except BaseException:
            self.close()
            raise

    def _open_all(
        self,
        band_names: Sequence[str] | None,
        reference: int,
        resampling: Resampling,
        nodata: float | None,
    ) -> None:
        datasets = []
        for path in self.paths:
            datasets.append(_open(path))
            self._handles.append(datasets[-1])
        ref = datasets[reference]
        self.height, self.width = ref.height, ref.width
        self.transform: affine.Affine = ref.transform
        self.crs = crs_string(ref.crs)
        if len(self.paths) == 1:
            wanted = ref.count if band_names is None else len(band_names)
            if ref.count < wanted:
                raise ValueError(
                    f"{self.paths[0]} has {ref.count} bands, fewer than the {wanted} band "
                    f"names {list(band_names or [])}"
                )
            indexes_per_file = [list(range(1, wanted + 1))]
        else:
            if band_names is not None and len(band_names) != len(self.paths):
                raise ValueError(
                    f"{len(band_names)} band names for {len(self.paths)} single-band files"
                )
            for path, dataset in zip(self.paths, datasets, strict=True):
                if dataset.count != 1:
                    raise ValueError(
                        f"{path} has {dataset.count} bands; files stacked as bands must have one"
                    )
            indexes_per_file = [[1]] * len(self.paths)
        self.sources: list[_Source] = []
        for path, dataset, indexes in zip(self.paths, datasets, indexes_per_file, strict=True):
            file_nodata = dataset.nodata if dataset.nodata is not None else nodata
            same_grid = (dataset.height, dataset.width) == (self.height, self.width) and (
                dataset.transform.almost_equals(self.transform)
            )
            if not same_grid:
                vrt_options: dict[str, Any] = {}
                if file_nodata is not None:
                    vrt_options = {"src_nodata": file_nodata, "nodata": file_nodata}
                dataset = WarpedVRT(
                    dataset,
                    crs=ref.crs,
                    transform=self.transform,
                    width=self.width,
                    height=self.height,
                    resampling=resampling,
                    **vrt_options,
                )
                self._handles.append(dataset)
            self.sources.append(_Source(path, dataset, indexes, file_nodata))
        self.count = sum(len(source.indexes) for source in self.sources)

    def read(self, window: Window) -> RasterWindow:
        """Read ``window`` (reference pixels; may reach beyond the scene, which is invalid).

        Args:
            window: Integer window on the reference grid.

        Returns:
            The window's values and validity on the reference grid.
        """
        row, col = round(window.row_off), round(window.col_off)
        height, width = round(window.height), round(window.width)
        values = np.zeros((self.count, height, width), dtype=np.float32)
        valid = np.zeros((self.count, height, width), dtype=bool)
        r0, c0 = max(row, 0), max(col, 0)
        r1, c1 = min(row + height, self.height), min(col + width, self.width)
        if r1 > r0 and c1 > c0:
            inside = Window(c0, r0, c1 - c0, r1 - r0)
            out = (slice(None), slice(r0 - row, r1 - row), slice(c0 - col, c1 - col))
            channel = 0
            for source in self.sources:
                data = source.dataset.read(source.indexes, window=inside)
                ok = source.dataset.read_masks(source.indexes, window=inside) > 0
                ok &= np.isfinite(data) if data.dtype.kind == "f" else True
                if source.nodata is not None:
                    ok &= data != np.asarray(source.nodata).astype(data.dtype)
                block = slice(channel, channel + len(source.indexes))
                values[block, out[1], out[2]] = np.where(ok, data, 0).astype(np.float32)
                valid[block, out[1], out[2]] = ok
                channel += len(source.indexes)
        transform = self.transform @ affine.Affine.translation(col, row)
        return RasterWindow(values, valid, transform, self.crs)

    def close(self) -> None:
        """Close every handle (VRTs first)."""
        for handle in reversed(self._handles):
            handle.close()
        self._handles = []

    def __enter__(self) -> RasterStack:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def read_window(
    paths: Sequence[Path],
    window: Window,
    band_names: Sequence[str] | None = None,
    reference: int = 0,
    resampling: Resampling = Resampling.bilinear,
    nodata: float | None = None,
) -> RasterWindow:
    """Read one window of a scene onto the reference file's grid (see :class:`RasterStack`).

    Args:
        paths: One multi-band file, or single-band files stacked in order.
        window: Window in the reference file's pixels; parts beyond the scene are invalid.
        band_names: Channel names; with one file, its first ``len(band_names)`` bands are read.
        reference: Index of the file whose grid is used.
        resampling: Resampling for files on another grid.
        nodata: Fill value for files that declare none.

    Returns:
        float32 values (0 at nodata), validity, the window's transform and the CRS.

    Raises:
        FileNotFoundError: When a file does not exist.
        ValueError: On a wrong band count, naming the file.
    """
    with RasterStack(paths, band_names, reference, resampling, nodata) as stack:
        return stack.read(window)
