"""LightningDataModules for rasters: random scene windows (pretraining) and patches around
labelled pixels (probes and benchmarks)."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Literal

import affine
import lightning
import numpy as np
import rasterio
import rasterio.transform
import torch
from rasterio.windows import Window
from torch import Tensor
from torch.utils.data import DataLoader, Dataset, Sampler

from domains.remote_sensing.raster import RasterStack, RasterWindow, check_aligned
from domains.remote_sensing.sensors import Sensor, get_sensor
from foundations.data import (
    LabelledSplitsDataModule,
    random_split,
    spatial_block_split,
)

VECTOR_SUFFIXES = (".shp", ".gpkg")


def to_physical(window: RasterWindow, sensor: Sensor) -> RasterWindow:
    """Apply the sensor's ``scale``/``offset`` where valid (invalid values stay 0)."""
    values = np.where(window.valid, window.values * sensor.scale + sensor.offset, 0.0)
    return RasterWindow(values.astype(np.float32), window.valid, window.transform, window.crs)


def resolve_scene_files(scene: str, band_files: Sequence[str] | None) -> list[Path]:
    """The files of one scene, in band order.

    Args:
        scene: A multi-band raster when ``band_files`` is None, else a folder.
        band_files: Glob patterns relative to the folder, one per band, in band order
            (e.g. ``["*_B02.tif", "*_B03.tif"]``); each must match exactly one file.

    Returns:
        The scene's files.

    Raises:
        FileNotFoundError: When a file or folder is missing or a pattern matches nothing.
        ValueError: When a pattern matches several files.
    """
    if band_files is None:
        if not Path(scene).is_file():
            raise FileNotFoundError(f"scene file not found: {scene}")
        return [Path(scene)]
    folder = Path(scene)
    if not folder.is_dir():
        raise FileNotFoundError(f"scene folder not found: {scene} (band_files need a folder)")
    files = []
    for pattern in band_files:
        matches = sorted(folder.glob(pattern))
        if len(matches) != 1:
            found = [m.name for m in matches]
            if not matches:
                raise FileNotFoundError(f"no file in {folder} matches {pattern!r}")
            raise ValueError(f"{len(matches)} files in {folder} match {pattern!r}: {found}")
        files.append(matches[0])
    return files


class EpochWindowSampler(Sampler[int]):
    """Yields ``epoch * n, ..., epoch * n + n - 1``: window ids unique to each epoch.

    The dataset derives each window from ``(seed, id)``, so windows depend only on the seed,
    the epoch and the position, never on workers or the global RNG; Lightning calls
    :meth:`set_epoch` at each epoch start (also through its DDP wrapper), so a resumed run
    draws the same windows.

    Args:
        windows_per_epoch: Windows per epoch.
    """

    def __init__(self, windows_per_epoch: int) -> None:
        self.windows_per_epoch = windows_per_epoch
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self) -> Iterator[int]:
        start = self.epoch * self.windows_per_epoch
        return iter(range(start, start + self.windows_per_epoch))

    def __len__(self) -> int:
        return self.windows_per_epoch


class SceneWindowDataset(Dataset[dict[str, Any]]):
    """Random windows of one or many scenes; window ``i`` is drawn from ``(seed, stream, i)``.

    Files are opened lazily in the process that reads (each DataLoader worker), never pickled.

    Args:
        scenes: Files of each scene (see :func:`resolve_scene_files`).
        shapes: ``(height, width)`` of each scene's reference grid.
        sensor: The sensor restricted to the read bands.
        window_size: Side of a window, in reference pixels.
        length: Number of windows (ids ``0..length-1``; the train sampler goes beyond).
        min_valid_fraction: Windows with fewer valid values are redrawn.
        max_tries: Draws per window; when none reaches ``min_valid_fraction`` the most valid
            one is used.
        seed: Base seed.
        stream: Separates train (0) and validation (1) windows.
    """

    def __init__(
        self,
        scenes: list[list[Path]],
        shapes: list[tuple[int, int]],
        sensor: Sensor,
        window_size: int,
        length: int,
        min_valid_fraction: float,
        max_tries: int,
        seed: int,
        stream: int,
    ) -> None:
        self.scenes = scenes
        self.shapes = shapes
        self.sensor = sensor
        self.window_size = window_size
        self.length = length
        self.min_valid_fraction = min_valid_fraction
        self.max_tries = max_tries
        self.seed = seed
        self.stream = stream
        areas = np.array([(h - window_size + 1) * (w - window_size + 1) for h, w in shapes])
        self.weights = areas / areas.sum()
        self._stacks: dict[int, RasterStack] = {}
        self._pid = os.getpid()

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_stacks"] = {}
        return state

    def _stack(self, scene: int) -> RasterStack:
        if self._pid != os.getpid():  # forked worker: inherited handles are not ours to use
            self._stacks, self._pid = {}, os.getpid()
        if scene not in self._stacks:
            self._stacks[scene] = RasterStack(
                self.scenes[scene], self.sensor.band_names, nodata=self.sensor.nodata
            )
        return self._stacks[scene]

    def __len__(self) -> int:
        return self.length

    def draw(self, index: int) -> tuple[int, RasterWindow]:
        """The scene index and window for window id ``index``."""
        rng = np.random.default_rng([self.seed, self.stream, index])
        best: tuple[float, int, RasterWindow] | None = None
        for _ in range(self.max_tries):
            scene = int(rng.choice(len(self.scenes), p=self.weights))
            height, width = self.shapes[scene]
            row = int(rng.integers(0, height - self.window_size + 1))
            col = int(rng.integers(0, width - self.window_size + 1))
            window = self._stack(scene).read(Window(col, row, self.window_size, self.window_size))
            fraction = float(window.valid.mean())
            if best is None or fraction > best[0]:
                best = (fraction, scene, window)
            if fraction >= self.min_valid_fraction:
                break
        assert best is not None
        return best[1], best[2]

    def __getitem__(self, index: int) -> dict[str, Any]:
        """``{"image": contract dict, "crs": str}`` for window id ``index``."""
        _, window = self.draw(index)
        window = to_physical(window, self.sensor)
        return {"image": window.to_sample(self.sensor.wavelengths()), "crs": window.crs}


class SceneWindowDataModule(lightning.LightningDataModule):
    """Random square windows from one or many scenes, for self-supervised pretraining.

    Each scene is a multi-band GeoTIFF (``band_files`` None), or a folder whose single-band
    files are picked, in band order, by the glob patterns ``band_files`` (the first file is
    the reference grid; others are resampled onto it). Scenes are drawn in proportion to the
    number of windows they hold. Training windows of epoch ``e`` have ids
    ``e * windows_per_epoch + i``, each drawn from ``(seed, 0, id)``: exact on resume and
    independent of workers; validation uses the fixed ids ``0..val_windows-1`` of stream 1.
    Values are physical (``sensor.scale``/``offset`` applied), nodata is ``valid=False``.

    Args:
        scenes: Scene files (or folders with ``band_files``).
        sensor: Registered sensor name (:func:`get_sensor`).
        band_files: Glob patterns, one per band, relative to each scene folder.
        band_names: Sensor bands held by the files, in order; default all the sensor's bands.
        window_size: Window side in reference pixels.
        windows_per_epoch: Training windows per epoch.
        val_windows: Number of fixed validation windows.
        batch_size: Windows per batch.
        num_workers: DataLoader worker processes.
        min_valid_fraction: Windows with a smaller valid fraction are redrawn.
        max_tries: Draws per window before accepting the most valid one.
        seed: Seed of the windows.

    Raises:
        ValueError: On out-of-range sizes or fractions.
    """

    def __init__(
        self,
        scenes: list[str],
        sensor: str,
        band_files: list[str] | None = None,
        band_names: list[str] | None = None,
        window_size: int = 64,
        windows_per_epoch: int = 1024,
        val_windows: int = 64,
        batch_size: int = 32,
        num_workers: int = 0,
        min_valid_fraction: float = 0.5,
        max_tries: int = 10,
        seed: int = 0,
    ) -> None:
        super().__init__()
        if not scenes:
            raise ValueError("scenes is empty")
        if min(window_size, windows_per_epoch, batch_size, max_tries) < 1 or val_windows < 0:
            raise ValueError(
                "window_size, windows_per_epoch, batch_size and max_tries must be positive and "
                "val_windows >= 0"
            )
        if not 0.0 <= min_valid_fraction <= 1.0:
            raise ValueError(f"min_valid_fraction must lie in [0, 1], got {min_valid_fraction}")
        self.save_hyperparameters()
        base = get_sensor(sensor)
        self.sensor = base if band_names is None else base.select(band_names)
        self.scenes = scenes
        self.band_files = band_files
        self.window_size = window_size
        self.windows_per_epoch = windows_per_epoch
        self.val_windows = val_windows
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.min_valid_fraction = min_valid_fraction
        self.max_tries = max_tries
        self.seed = seed
        self.train: SceneWindowDataset | None = None
        self.val: SceneWindowDataset | None = None

    def setup(self, stage: str | None = None) -> None:
        """Find each scene's files and grid size (files are closed again).

        Raises:
            FileNotFoundError: When a scene or band file is missing.
            ValueError: On a wrong band count or a scene smaller than a window.
        """
        if self.train is not None:
            return
        files = [resolve_scene_files(scene, self.band_files) for scene in self.scenes]
        shapes = []
        for scene_files in files:
            with RasterStack(scene_files, self.sensor.band_names) as stack:
                if min(stack.height, stack.width) < self.window_size:
                    raise ValueError(
                        f"{scene_files[0]} is {stack.height}x{stack.width} pixels, smaller "
                        f"than window_size {self.window_size}"
                    )
                shapes.append((stack.height, stack.width))

        def dataset(length: int, stream: int) -> SceneWindowDataset:
            return SceneWindowDataset(
                files,
                shapes,
                self.sensor,
                self.window_size,
                length,
                self.min_valid_fraction,
                self.max_tries,
                self.seed,
                stream,
            )

        self.train = dataset(self.windows_per_epoch, 0)
        self.val = dataset(self.val_windows, 1)

    def _loader(self, dataset: SceneWindowDataset | None, train: bool) -> DataLoader:
        if dataset is None:
            raise RuntimeError("call setup() before asking for a dataloader")
        return DataLoader(
            dataset,
            batch_size=self.batch_size,
            sampler=EpochWindowSampler(self.windows_per_epoch) if train else None,
            drop_last=train and self.windows_per_epoch > self.batch_size,
            num_workers=self.num_workers,
            pin_memory=torch.cuda.is_available(),
            persistent_workers=self.num_workers > 0,
        )

    def train_dataloader(self) -> DataLoader:
        """``windows_per_epoch`` fresh windows per epoch (see :class:`EpochWindowSampler`)."""
        return self._loader(self.train, train=True)

    def val_dataloader(self) -> DataLoader:
        """The same ``val_windows`` windows at every validation."""
        return self._loader(self.val, train=False)


class PatchDataset(Dataset[dict[str, Any]]):
    """Square patches centred on given pixels of a scene held in memory.

    Args:
        values: float32 ``[C, H + 2p, W + 2p]``, the scene padded by ``p = patch_size // 2``.
        valid: bool, same shape; False in the padding.
        rows: ``[N]`` centre rows in scene pixels.
        cols: ``[N]`` centre columns.
        labels: ``[N]`` class indices.
        patch_size: Odd patch side.
        wavelengths: ``[C]`` band centres (µm).
        transform: The scene's (unpadded) affine transform.
        crs: The scene's CRS string.
    """

    def __init__(
        self,
        values: Tensor,
        valid: Tensor,
        rows: np.ndarray,
        cols: np.ndarray,
        labels: np.ndarray,
        patch_size: int,
        wavelengths: Tensor,
        transform: affine.Affine,
        crs: str,
    ) -> None:
        self.values, self.valid = values, valid
        self.rows = np.asarray(rows, dtype=np.int64)
        self.cols = np.asarray(cols, dtype=np.int64)
        self.labels = torch.as_tensor(np.asarray(labels, dtype=np.int64))
        self.patch_size = patch_size
        self.wavelengths = wavelengths
        self.transform = transform
        self.crs = crs

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> dict[str, Any]:
        """``{"image": contract dict, "label": LongTensor[], "crs": str}``."""
        row, col, size = int(self.rows[index]), int(self.cols[index]), self.patch_size
        half = size // 2
        # Padded coordinates: the patch centred on (row, col) starts at (row, col).
        window = (slice(None), slice(row, row + size), slice(col, col + size))
        origin = self.transform @ affine.Affine.translation(col - half, row - half)
        image = {
            "values": self.values[window].clone(),
            "valid": self.valid[window].clone(),
            "wavelengths": self.wavelengths,
            "transform": torch.tensor(tuple(origin)[:6], dtype=torch.float64),
        }
        return {"image": image, "label": self.labels[index], "crs": self.crs}


def read_label_pixels(
    labels: str, reference: Path, label_column: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Row, column and label value of every labelled pixel (raster) or point (vector).

    Raster labels must share the reference band's grid (a different CRS declaration with the
    same grid only warns); nodata, masked and non-finite labels are skipped. Points are
    reprojected to the reference CRS when theirs differs; points outside the scene are skipped.

    Args:
        labels: Label raster, or points file (``.shp``/``.gpkg``).
        reference: The band file whose grid defines pixels.
        label_column: Label field of a points file.

    Returns:
        ``(rows, cols, values)``: int64 pixel indices and float64 stored labels.

    Raises:
        FileNotFoundError: When the labels file is missing.
        RasterMismatchError: When a label raster is not on the reference grid.
        KeyError: When a points file lacks ``label_column``.
    """
    path = Path(labels)
    if not path.is_file():
        raise FileNotFoundError(f"labels file not found: {labels}")
    with rasterio.open(reference) as ref:
        transform, crs, height, width = ref.transform, ref.crs, ref.height, ref.width
    if path.suffix.lower() in VECTOR_SUFFIXES:
        import geopandas

        points = geopandas.read_file(path)
        if label_column not in points.columns:
            raise KeyError(
                f"{path} has no column {label_column!r}; columns: {list(points.columns)}"
            )
        if crs is not None and points.crs is not None and points.crs != crs:
            points = points.to_crs(crs)
        row, col = rasterio.transform.rowcol(transform, points.geometry.x, points.geometry.y)
        rows, cols = np.asarray(row, dtype=np.int64), np.asarray(col, dtype=np.int64)
        values = np.asarray(points[label_column], dtype=np.float64)
        keep = (rows >= 0) & (rows < height) & (cols >= 0) & (cols < width) & np.isfinite(values)
        return rows[keep], cols[keep], values[keep]
    check_aligned([reference, path], allow_crs_alias=True)
    with rasterio.open(path) as source:
        data = source.read(1)
        ok = source.read_masks(1) > 0
        if data.dtype.kind == "f":
            ok &= np.isfinite(data)
        if source.nodata is not None:
            ok &= data != np.asarray(source.nodata).astype(data.dtype)
    rows, cols = np.nonzero(ok)
    return rows.astype(np.int64), cols.astype(np.int64), data[rows, cols].astype(np.float64)


class LabelledPixelsDataModule(LabelledSplitsDataModule):
    """Patches centred on the labelled pixels of one scene, in fixed train/val/test splits.

    The bands are read once into memory on the first band's grid (other resolutions are
    resampled), padded by ``patch_size // 2`` with ``valid=False``. Labels come from a
    raster on the same grid (nodata skipped; a different CRS *declaration* with the same
    transform and shape, as in ``landsat7_nc``, only warns) or from points (``.shp``/
    ``.gpkg``, column ``label_column``) sampled at their pixel. Label ``v`` becomes class
    ``v - label_offset``. Samples are ordered row-major (raster) or in file order (points).

    Args:
        band_files: One multi-band file or single-band files in band order.
        labels: Label raster, or points file.
        sensor: Registered sensor name.
        band_names: The sensor's bands held by ``band_files``, in order.
        patch_size: Odd patch side in pixels.
        split: ``"random"`` over pixels, or ``"spatial"`` by ``block_size`` blocks.
        block_size: Block side in pixels for the spatial split.
        val_fraction: Share of samples for validation.
        test_fraction: Share of samples for test.
        batch_size: Samples per batch.
        seed: Seed of the split and of the training order.
        label_offset: Subtracted from stored labels (1 for labels 1..K).
        class_names: Name of each class; fixes ``num_classes``.
        label_column: Label field of a points file.
        skip_invalid_centres: Skip labelled pixels where every band is nodata.
        num_workers: DataLoader worker processes.

    Raises:
        ValueError: On an even patch size or out-of-range fractions.
        KeyError: On a band the sensor lacks.
    """

    def __init__(
        self,
        band_files: list[str],
        labels: str,
        sensor: str,
        band_names: list[str],
        patch_size: int = 15,
        split: Literal["random", "spatial"] = "random",
        block_size: int = 32,
        val_fraction: float = 0.2,
        test_fraction: float = 0.2,
        batch_size: int = 64,
        seed: int = 0,
        label_offset: int = 1,
        class_names: list[str] | None = None,
        label_column: str = "id",
        skip_invalid_centres: bool = True,
        num_workers: int = 0,
    ) -> None:
        super().__init__(batch_size, num_workers, seed)
        if patch_size < 1 or patch_size % 2 == 0:
            raise ValueError(f"patch_size must be odd and positive, got {patch_size}")
        if split not in ("random", "spatial"):
            raise ValueError(f"split must be 'random' or 'spatial', got {split!r}")
        if block_size < 1:
            raise ValueError(f"block_size must be positive, got {block_size}")
        self.save_hyperparameters()
        self.sensor = get_sensor(sensor).select(band_names)
        self.band_files = band_files
        self.labels_path = labels
        self.patch_size = patch_size
        self.split = split
        self.block_size = block_size
        self.val_fraction = val_fraction
        self.test_fraction = test_fraction
        self.label_offset = label_offset
        self.class_names: tuple[str, ...] = tuple(class_names or ())
        self.label_column = label_column
        self.skip_invalid_centres = skip_invalid_centres
        self._num_classes = len(self.class_names)
        self.split_indices: dict[str, np.ndarray] = {}

    @property
    def num_classes(self) -> int:
        """Number of classes (``class_names``, else the largest class + 1 after setup)."""
        return self._num_classes

    def setup(self, stage: str | None = None) -> None:
        """Read bands and labels, build the patches and split them.

        Raises:
            FileNotFoundError: When a file is missing.
            RasterMismatchError: When the label raster is not on the bands' grid.
            ValueError: On a wrong band count, non-integer or out-of-range labels, or too
                few samples to split.
        """
        if self.full is not None:
            return
        files = [Path(p) for p in self.band_files]
        half = self.patch_size // 2
        with RasterStack(files, self.sensor.band_names, nodata=self.sensor.nodata) as stack:
            height, width = stack.height, stack.width
            scene = stack.read(Window(-half, -half, width + 2 * half, height + 2 * half))
            transform, crs = stack.transform, stack.crs
        scene = to_physical(scene, self.sensor)
        rows, cols, stored = read_label_pixels(self.labels_path, files[0], self.label_column)
        if self.skip_invalid_centres:
            keep = scene.valid[:, rows + half, cols + half].any(axis=0)
            rows, cols, stored = rows[keep], cols[keep], stored[keep]
        if stored.size and not np.all(stored == np.round(stored)):
            raise ValueError(f"{self.labels_path}: labels must be integers")
        classes = np.round(stored).astype(np.int64) - self.label_offset
        if classes.size and classes.min() < 0:
            raise ValueError(
                f"{self.labels_path}: label {classes.min() + self.label_offset} is below "
                f"label_offset {self.label_offset}"
            )
        if self.class_names and classes.size and classes.max() >= len(self.class_names):
            raise ValueError(
                f"{self.labels_path}: class {classes.max()} but only "
                f"{len(self.class_names)} class_names"
            )
        self._num_classes = len(self.class_names) or int(classes.max(initial=-1)) + 1
        if self.split == "random":
            parts = random_split(len(classes), self.val_fraction, self.test_fraction, self.seed)
        else:
            parts = spatial_block_split(
                rows, cols, self.block_size, self.val_fraction, self.test_fraction, self.seed
            )
        values = torch.from_numpy(scene.values)
        valid = torch.from_numpy(scene.valid)
        wavelengths = torch.tensor(self.sensor.wavelengths(), dtype=torch.float32)

        def subset(index: np.ndarray) -> PatchDataset:
            return PatchDataset(
                values,
                valid,
                rows[index],
                cols[index],
                classes[index],
                self.patch_size,
                wavelengths,
                transform,
                crs,
            )

        self.full = subset(np.arange(len(classes)))
        self.split_indices = dict(zip(("train", "val", "test"), parts, strict=True))
        self.splits = {name: subset(index) for name, index in self.split_indices.items()}
