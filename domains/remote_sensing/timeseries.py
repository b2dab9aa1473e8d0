"""Multi-temporal stacks ``T x C x H x W`` with acquisition dates, and their synthetic default.

A user's layout is a folder per location holding one GeoTIFF per acquisition, plus a labels CSV
next to those folders::

    root/labels.csv               location,label      (location: folder relative to root)
    root/classes.txt              optional, one class name a line, in label order
    root/<location>/*.tif         dates in the file names (YYYY-MM-DD or YYYYMMDD in the stem)
    root/<location>/dates.csv     optional instead: path,date (path relative to the location)

Each date is read with :func:`domains.remote_sensing.patches.read_patch`; all dates of a location
must share CRS, transform and shape. Dates are sorted, then fitted to a fixed ``num_dates`` so
that samples batch: long series keep ``num_dates`` evenly spaced dates, short ones are padded at
the end with all-invalid steps (``valid=False`` everywhere, so every patch of such a step becomes
a padding token in :class:`~domains.remote_sensing.tokenizer.WavelengthPatchTokenizer`, which
has no separate time mask), flagged ``date_valid=False`` and dated like the last real date.

The embedded default is a synthetic Sentinel-2 L2A crop-type / phenology set (see
:mod:`domains.remote_sensing.synthetic_timeseries`) whose classes a single date cannot tell
apart: a winter crop in May and a summer crop in August have the same spectrum; only the
trajectory over the year differs.
"""

from __future__ import annotations

import csv
import datetime
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset, get_worker_info

from domains.remote_sensing.patches import CLASSES_FILE, PatchIndex, read_patch
from domains.remote_sensing.raster import RasterMismatchError
from domains.remote_sensing.synthetic import S2_L2A_WAVELENGTHS
from domains.remote_sensing.synthetic_timeseries import (
    default_timeseries_root,
    write_timeseries_folder,
)
from foundations.data import (
    LabelledSplitsDataModule,
    check_fractions,
    random_split,
    stratified_split,
)

DATES_FILE = "dates.csv"
"""Optional file in a location folder: ``path,date`` rows, overriding dates in file names."""

RASTER_SUFFIXES = (".tif", ".tiff")

EPOCH = datetime.date(1970, 1, 1)

_DATE_PATTERNS = (
    re.compile(r"(?<!\d)(\d{4})-(\d{2})-(\d{2})(?!\d)"),
    re.compile(r"(?<!\d)(\d{4})(\d{2})(\d{2})(?!\d)"),
)


# --------------------------------------------------------------------------------------------
# Dates and file listing


def parse_date(text: str) -> datetime.date | None:
    """The first valid ``YYYY-MM-DD`` or ``YYYYMMDD`` date anywhere in ``text``.

    Digits that run on (``202101011``) do not match, and impossible dates (``20211345``) are
    skipped; ``S2A_20210314T103021_...`` gives 2021-03-14.

    Args:
        text: A file stem or a CSV cell.

    Returns:
        The date, or ``None`` when ``text`` holds none.
    """
    found: list[tuple[int, datetime.date]] = []
    for pattern in _DATE_PATTERNS:
        for match in pattern.finditer(text):
            year, month, day = (int(g) for g in match.groups())
            try:
                found.append((match.start(), datetime.date(year, month, day)))
            except ValueError:
                continue
    return min(found)[1] if found else None


def days_since_epoch(day: datetime.date) -> float:
    """Days from 1970-01-01 to ``day`` (the contract's ``dates`` unit)."""
    return float((day - EPOCH).days)


@dataclass(frozen=True)
class SeriesFiles:
    """The acquisitions of one location, sorted by date.

    Attributes:
        paths: One GeoTIFF per acquisition.
        days: float64 ``[n]`` days since 1970-01-01, non-decreasing.
    """

    paths: tuple[Path, ...]
    days: np.ndarray


def list_series(location: Path, dates_csv: str = DATES_FILE) -> SeriesFiles:
    """List a location's GeoTIFFs with their dates, sorted by date (then file name).

    Dates come from ``location/dates_csv`` (``path,date`` rows) when that file exists, else from
    each file's stem (see :func:`parse_date`).

    Args:
        location: The location's folder.
        dates_csv: Name of the optional dates file in the folder.

    Returns:
        The sorted :class:`SeriesFiles`.

    Raises:
        FileNotFoundError: When the folder, or a file the dates CSV lists, does not exist.
        ValueError: Naming the folder or file, when there is no GeoTIFF, a file name holds no
            date, or the dates CSV is malformed.
    """
    if not location.is_dir():
        raise FileNotFoundError(f"location folder {location} does not exist")
    table = location / dates_csv
    if table.is_file():
        entries = _read_dates_csv(table)
    else:
        files = sorted(p for p in location.iterdir() if p.suffix.lower() in RASTER_SUFFIXES)
        entries = []
        for path in files:
            day = parse_date(path.stem)
            if day is None:
                raise ValueError(
                    f"{path}: no date (YYYY-MM-DD or YYYYMMDD) in the file name; rename it or "
                    f"list dates in {table}"
                )
            entries.append((path, day))
    if not entries:
        raise ValueError(
            f"location folder {location} holds no GeoTIFF ({'/'.join(RASTER_SUFFIXES)})"
        )
    entries.sort(key=lambda entry: (entry[1], entry[0].name))
    paths = tuple(path for path, _ in entries)
    days = np.array([days_since_epoch(day) for _, day in entries], dtype=np.float64)
    return SeriesFiles(paths, days)


def _read_dates_csv(table: Path) -> list[tuple[Path, datetime.date]]:
    with open(table, newline="") as file:
        reader = csv.DictReader(file)
        fields = reader.fieldnames or []
        if "path" not in fields or "date" not in fields:
            raise ValueError(f"{table}: needs columns 'path' and 'date', has {fields}")
        rows = [(row["path"] or "", row["date"] or "") for row in reader]
    entries = []
    for line, (name, text) in enumerate(rows, start=2):
        day = parse_date(text)
        if day is None:
            raise ValueError(f"{table}, line {line}: {text!r} is not a YYYY-MM-DD date")
        path = table.parent / name
        if not path.is_file():
            raise FileNotFoundError(f"{path} listed in {table} does not exist")
        entries.append((path, day))
    return entries


def read_locations(csv_path: Path, multilabel: bool = False) -> PatchIndex:
    """Read a labels CSV with columns ``location`` and ``label`` (or ``labels``).

    ``location`` is a folder relative to the CSV's folder. Single-label files name one class in
    ``label``; multilabel files list ``;``-separated classes in ``labels``. Class order comes from
    ``classes.txt`` next to the CSV when present, else the sorted names found.

    Args:
        csv_path: The CSV file.
        multilabel: Read ``labels`` into 0/1 vectors instead of ``label`` into indices.

    Returns:
        A :class:`~domains.remote_sensing.patches.PatchIndex` whose ``paths`` are the location
        folders.

    Raises:
        FileNotFoundError: When the CSV does not exist.
        ValueError: Naming the CSV, on a missing column, no rows, or an unknown class name.
    """
    if not csv_path.is_file():
        raise FileNotFoundError(f"labels file {csv_path} does not exist")
    column = "labels" if multilabel else "label"
    with open(csv_path, newline="") as file:
        reader = csv.DictReader(file)
        fields = reader.fieldnames or []
        if "location" not in fields or column not in fields:
            raise ValueError(f"{csv_path}: needs columns 'location' and {column!r}, has {fields}")
        rows = [(row["location"] or "", row[column] or "") for row in reader]
    if not rows:
        raise ValueError(f"{csv_path}: lists no locations")
    names = [
        [n.strip() for n in text.split(";") if n.strip()] if multilabel else [text.strip()]
        for _, text in rows
    ]
    classes_file = csv_path.parent / CLASSES_FILE
    if classes_file.is_file():
        lines = (line.strip() for line in classes_file.read_text().splitlines())
        class_names = tuple(line for line in lines if line)
    else:
        class_names = tuple(sorted({name for row in names for name in row}))
    lookup = {name: index for index, name in enumerate(class_names)}
    for line, ((location, _), row) in enumerate(zip(rows, names, strict=True), start=2):
        unknown = [name for name in row if name not in lookup]
        if unknown:
            raise ValueError(
                f"{csv_path}, line {line} ({location}): unknown class {unknown[0]!r}; "
                f"known classes: {list(class_names)}"
            )
    if multilabel:
        targets = np.zeros((len(rows), len(class_names)), dtype=np.float32)
        for i, row in enumerate(names):
            targets[i, [lookup[name] for name in row]] = 1.0
    else:
        targets = np.array([lookup[row[0]] for row in names], dtype=np.int64)
    return PatchIndex([csv_path.parent / loc for loc, _ in rows], targets, class_names)


# --------------------------------------------------------------------------------------------
# Reading and fitting a series


def choose_dates(
    count: int, num_dates: int | None, rng: np.random.Generator | None = None
) -> np.ndarray:
    """Which of ``count`` sorted dates to keep.

    Without ``rng``: all dates when they fit, else ``num_dates`` evenly spaced ones (first and
    last included; the middle one for ``num_dates == 1``). With ``rng`` (training): a random
    subset, in date order, of between half and all of ``min(count, num_dates)`` dates.

    Args:
        count: Dates available (at least 1).
        num_dates: Most dates kept, or ``None`` for no limit.
        rng: Draws the random subset; ``None`` for the deterministic choice.

    Returns:
        Sorted int64 indices into the dates.
    """
    limit = count if num_dates is None else min(count, num_dates)
    if rng is not None:
        size = int(rng.integers(math.ceil(limit / 2), limit + 1))
        return np.sort(rng.choice(count, size=size, replace=False)).astype(np.int64)
    if limit == count:
        return np.arange(count, dtype=np.int64)
    if limit == 1:
        return np.array([(count - 1) // 2], dtype=np.int64)
    return np.round(np.linspace(0, count - 1, limit)).astype(np.int64)


def read_series(
    paths: Sequence[Path], days: np.ndarray, wavelengths: Tensor, num_dates: int | None = None
) -> dict[str, Any]:
    """Read dated GeoTIFFs of one location into the time-series contract.

    Args:
        paths: One GeoTIFF per date, in date order.
        days: ``[n]`` days since 1970-01-01 of ``paths``.
        wavelengths: ``[C]`` band centres in micrometres.
        num_dates: Pad the series at the end to this many steps (no padding when ``None``);
            it must not be shorter than ``paths``.

    Returns:
        ``{"image": {"values": [T, C, H, W], "valid": [T, C, H, W], "wavelengths": [C],
        "transform": [6], "dates": [T] float32, "date_valid": [T] bool}, "crs": str}``;
        padded steps are all-invalid zeros dated like the last real date.

    Raises:
        RasterMismatchError: Naming both files, when a date's CRS, transform or shape differs
            from the first date's.
        ValueError: When ``paths`` is empty, ``days`` does not match it, or it is longer than
            ``num_dates``; see also :func:`~domains.remote_sensing.patches.read_patch`.
    """
    if not paths or len(paths) != len(days):
        raise ValueError(f"need one date per file, got {len(paths)} files and {len(days)} dates")
    if num_dates is not None and len(paths) > num_dates:
        raise ValueError(f"{len(paths)} dates do not fit num_dates={num_dates}")
    reads = [read_patch(Path(path), wavelengths) for path in paths]
    first = reads[0]
    for path, other in zip(paths[1:], reads[1:], strict=True):
        differences = []
        shape, ref_shape = other["image"]["values"].shape[1:], first["image"]["values"].shape[1:]
        if shape != ref_shape:
            differences.append(f"shape {tuple(ref_shape)} vs {tuple(shape)}")
        ref_transform, transform = first["image"]["transform"], other["image"]["transform"]
        if not torch.allclose(transform, ref_transform, rtol=0.0, atol=1e-6):
            differences.append(f"transform {ref_transform.tolist()} vs {transform.tolist()}")
        if other["crs"] != first["crs"]:
            differences.append(f"CRS {first['crs'] or 'none'} vs {other['crs'] or 'none'}")
        if differences:
            raise RasterMismatchError(
                f"dates of one location must share a grid: {paths[0]} and {path} differ in "
                + "; ".join(differences)
            )
    values = torch.stack([r["image"]["values"] for r in reads])
    valid = torch.stack([r["image"]["valid"] for r in reads])
    dates = torch.as_tensor(np.asarray(days), dtype=torch.float32)
    pad = 0 if num_dates is None else num_dates - len(paths)
    if pad:
        values = torch.cat([values, values.new_zeros(pad, *values.shape[1:])])
        valid = torch.cat([valid, valid.new_zeros(pad, *valid.shape[1:])])
        dates = torch.cat([dates, dates[-1:].expand(pad)])
    date_valid = torch.arange(len(dates)) < len(paths)
    image = {
        "values": values,
        "valid": valid,
        "wavelengths": wavelengths,
        "transform": first["image"]["transform"],
        "dates": dates,
        "date_valid": date_valid,
    }
    return {"image": image, "crs": first["crs"]}


class TimeSeriesDataset(Dataset[dict[str, Any]]):
    """Dated GeoTIFF stacks read lazily, one contract sample per location.

    Random date subsets (``random_dates``) are drawn from a generator seeded by ``seed`` and, in
    DataLoader workers, by the worker's seed (which the loader's seeded generator sets), so data
    loading never touches the global random state.

    Args:
        series: Each location's sorted acquisitions.
        targets: ``[N]`` class indices or ``[N, K]`` 0/1 vectors.
        wavelengths: ``[C]`` band centres in micrometres, shared by all files.
        num_dates: Fixed ``T`` of every sample (``None``: each location's own length).
        random_dates: Draw a random subset of dates per read (training), see
            :func:`choose_dates`.
        seed: Seed of the random subsets.
    """

    def __init__(
        self,
        series: list[SeriesFiles],
        targets: np.ndarray,
        wavelengths: Tensor,
        num_dates: int | None = None,
        random_dates: bool = False,
        seed: int = 0,
    ) -> None:
        if len(series) != len(targets):
            raise ValueError(f"{len(series)} locations but {len(targets)} targets")
        self.series = series
        self.targets = torch.from_numpy(np.ascontiguousarray(targets))
        self.wavelengths = wavelengths
        self.num_dates = num_dates
        self.random_dates = random_dates
        self.seed = seed
        self._rng: tuple[int | None, np.random.Generator] | None = None

    def __len__(self) -> int:
        return len(self.series)

    def _generator(self) -> np.random.Generator:
        info = get_worker_info()
        key = None if info is None else int(info.seed)
        if self._rng is None or self._rng[0] != key:
            entropy = [self.seed] if key is None else [self.seed, key]
            self._rng = (key, np.random.default_rng(entropy))
        return self._rng[1]

    def __getitem__(self, index: int) -> dict[str, Any]:
        """The contract sample of location ``index`` with its ``"label"``."""
        files = self.series[index]
        rng = self._generator() if self.random_dates else None
        keep = choose_dates(len(files.paths), self.num_dates, rng)
        paths = [files.paths[i] for i in keep]
        sample = read_series(paths, files.days[keep], self.wavelengths, self.num_dates)
        sample["label"] = self.targets[index]
        return sample


# --------------------------------------------------------------------------------------------
# Datamodule


class TimeSeriesDataModule(LabelledSplitsDataModule):
    """Classification of dated GeoTIFF stacks, one folder per location (see the module doc).

    With ``root=None`` the embedded default
    (:func:`~domains.remote_sensing.synthetic_timeseries.write_timeseries_folder`) is generated by
    :meth:`prepare_data` into ``$FOUNDATIONS_CACHE/remote_sensing/timeseries-v1-n{num_samples}-
    t{num_dates}-s{size}-seed{seed}`` and reused afterwards. Splits are drawn from ``seed``
    (stratified by class for single-label data) and are identical on every rank.

    Samples: ``"image"`` (``values``/``valid`` ``[T, C, H, W]``, ``wavelengths``, ``transform``,
    ``dates`` ``[T]`` days since 1970-01-01, ``date_valid`` ``[T]``), ``"crs"`` and ``"label"``.
    Feed ``image`` to a tokenizer with ``max_timesteps >= num_dates``.

    Args:
        root: Folder holding the labels CSV; ``None`` means the generated default.
        sensor_wavelengths: Band centres in micrometres, in file band order; default the 12
            Sentinel-2 L2A bands.
        labels_csv: CSV file name inside ``root`` (columns ``location`` and ``label``).
        dates_csv: Optional per-location dates file name (columns ``path`` and ``date``).
        num_dates: Fixed ``T`` of every sample (longer series are thinned, shorter ones padded);
            ``None`` keeps each location's length (only batchable when they agree, or with
            ``batch_size=1``). Also the generated default's acquisition slots.
        random_dates: In the training split, read a random subset of each location's dates
            every time (see :func:`choose_dates`).
        num_samples: Locations in the generated default (ignored with ``root``).
        size: Patch size of the generated default (ignored with ``root``).
        batch_size: Samples per batch, per device.
        num_workers: DataLoader workers.
        val_fraction: Share of locations for validation.
        test_fraction: Share of locations for test.
        seed: Seed of the generated data, the splits, the shuffles and random date subsets.
        multilabel: Read the CSV's ``labels`` column (``;``-separated class names).

    Raises:
        ValueError: On a non-positive ``batch_size`` or ``num_dates``, negative
            ``num_workers``, fractions that leave nothing to train on, or ``num_dates=None``
            without ``root``.
    """

    def __init__(
        self,
        root: str | None = None,
        sensor_wavelengths: list[float] | None = None,
        labels_csv: str = "labels.csv",
        dates_csv: str = DATES_FILE,
        num_dates: int | None = 12,
        random_dates: bool = False,
        num_samples: int = 1400,
        size: int = 32,
        batch_size: int = 64,
        num_workers: int = 0,
        val_fraction: float = 0.2,
        test_fraction: float = 0.2,
        seed: int = 0,
        multilabel: bool = False,
    ) -> None:
        super().__init__(batch_size, num_workers, seed)
        check_fractions(val_fraction, test_fraction)
        if num_dates is not None and num_dates < 1:
            raise ValueError(f"num_dates must be positive or None, got {num_dates}")
        if num_dates is None and root is None:
            raise ValueError("the generated default needs num_dates (its acquisition slots)")
        self.save_hyperparameters()
        self.generated = root is None
        self.root = (
            Path(root).expanduser()
            if root is not None
            else default_timeseries_root(num_samples, num_dates or 0, size, seed)
        )
        self.wavelengths = torch.tensor(
            sensor_wavelengths if sensor_wavelengths is not None else S2_L2A_WAVELENGTHS,
            dtype=torch.float32,
        )
        self.labels_csv = labels_csv
        self.dates_csv = dates_csv
        self.num_dates = num_dates
        self.random_dates = random_dates
        self.num_samples = num_samples
        self.size = size
        self.val_fraction = val_fraction
        self.test_fraction = test_fraction
        self.multilabel = multilabel
        self._index: PatchIndex | None = None

    @property
    def location_index(self) -> PatchIndex:
        """The labels CSV's contents (read on first use, generating the default if needed)."""
        if self._index is None:
            self.prepare_data()
            self._index = read_locations(self.root / self.labels_csv, self.multilabel)
        return self._index

    @property
    def class_names(self) -> tuple[str, ...]:
        """Name of each class index."""
        return self.location_index.class_names

    @property
    def num_classes(self) -> int:
        """Number of classes."""
        return len(self.class_names)

    def prepare_data(self) -> None:
        """Generate the default dataset unless it exists; nothing to do for a user folder."""
        if self.generated:
            assert self.num_dates is not None
            write_timeseries_folder(
                self.root, self.num_samples, self.num_dates, self.size, self.seed
            )

    def split_indices(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The fixed, sorted ``(train, val, test)`` indices into the CSV's rows."""
        targets = self.location_index.targets
        if self.multilabel:
            return random_split(len(targets), self.val_fraction, self.test_fraction, self.seed)
        return stratified_split(targets, self.val_fraction, self.test_fraction, self.seed)

    def setup(self, stage: str | None = None) -> None:
        """Read the CSV, list and date every location's files, and split.

        Raises:
            FileNotFoundError: Naming the CSV or a missing location folder or file.
            ValueError: On an invalid CSV, a location without GeoTIFFs or an undated file.
        """
        if self.full is not None:
            return
        index = self.location_index
        series = [list_series(location, self.dates_csv) for location in index.paths]

        def subset(rows: np.ndarray, random_dates: bool = False) -> TimeSeriesDataset:
            return TimeSeriesDataset(
                [series[i] for i in rows],
                index.targets[rows],
                self.wavelengths,
                self.num_dates,
                random_dates,
                self.seed,
            )

        train, val, test = self.split_indices()
        self.full = subset(np.arange(len(series)))
        self.splits = {
            "train": subset(train, self.random_dates),
            "val": subset(val),
            "test": subset(test),
        }
