"""Light-curve classification from one long-format photometry table and a labels table.

:class:`PhotometryTableDataModule` reads the table once with
:func:`~domains.astronomy.io.read_photometry_table`, tokenises every object with
:func:`~domains.astronomy.preprocess.tokenise_table` (deterministic, evenly subsampled crops),
keeps the ``[N, L]`` arrays in memory and caches them as a ``.npz`` under
``cache_root() / "astronomy"``, keyed by the table's path, modification time, size and the
tokenising settings, so later runs skip parsing.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch.utils.data import Dataset

from domains.astronomy.baselines import best_periods
from domains.astronomy.io import read_catalogue, read_photometry_table
from domains.astronomy.preprocess import tokenise_table
from foundations.data import (
    LabelledSplitsDataModule,
    check_fractions,
    random_split,
    stratified_split,
)
from foundations.io import atomic_save_npz, cache_root

CACHE_VERSION = 2
"""Bumped whenever the cached arrays change meaning; part of the cache key. 2: object ids are
read as text, so tables whose ids parsed ambiguously as numbers are tokenised again."""

PERIODS_VERSION = 1
"""Bumped whenever the cached periods change meaning (grid, cropping)."""

TOKEN_KEYS = ("time", "value", "error", "band", "mask")
"""The per-observation arrays that form ``sample["photometry"]``."""

SCALAR_KEYS = ("t0", "median", "scale", "n_obs")
"""The per-object arrays returned as scalars next to ``sample["photometry"]``."""

PERIOD_KEYS = ("period", "power")
"""Per-object Lomb-Scargle period (days) and power, with ``periods=True``."""

OBJECT_KEYS = ("period", "power", "median", "scale")
"""Per-object scalars also put inside ``sample["photometry"]`` with ``periods=True``, so that a
tokenizer reading only the photometry (``ObservationTokenizer(object_features=True)``) sees
them."""


@dataclass
class TokenisedTable:
    """A tokenised photometry table.

    Attributes:
        ids: Object identifiers as strings, ``[N]``.
        arrays: ``TOKEN_KEYS`` arrays ``[N, L]`` and ``SCALAR_KEYS`` arrays ``[N]``.
        band_names: Name of each band code.
    """

    ids: np.ndarray
    arrays: dict[str, np.ndarray]
    band_names: tuple[str, ...]


class PhotometryDataset(Dataset[dict[str, Any]]):
    """In-memory light curves following the :mod:`domains.astronomy` sample contract.

    Args:
        table: The tokenised table.
        rows: Rows of ``table`` in this dataset.
        labels: int64 class index per entry of ``rows`` (``-1`` for unlabelled data).
    """

    def __init__(self, table: TokenisedTable, rows: np.ndarray, labels: np.ndarray) -> None:
        if len(rows) != len(labels):
            raise ValueError(f"{len(rows)} rows but {len(labels)} labels")
        self.ids = table.ids[rows]
        self.object_keys = OBJECT_KEYS if "period" in table.arrays else ()
        self.tensors = {
            key: torch.from_numpy(np.ascontiguousarray(table.arrays[key][rows]))
            for key in (*TOKEN_KEYS, *SCALAR_KEYS, *(PERIOD_KEYS if self.object_keys else ()))
        }
        self.labels = torch.from_numpy(np.ascontiguousarray(labels, dtype=np.int64))

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def __getitem__(self, index: int) -> dict[str, Any]:
        """``{"photometry": {...}, "t0", "median", "scale", "n_obs", "object_id", "label"}``."""
        sample: dict[str, Any] = {
            "photometry": {
                key: self.tensors[key][index] for key in (*TOKEN_KEYS, *self.object_keys)
            }
        }
        for key in SCALAR_KEYS:
            sample[key] = self.tensors[key][index]
        sample["object_id"] = str(self.ids[index])
        sample["label"] = self.labels[index]
        return sample


class PhotometryTableDataModule(LabelledSplitsDataModule):
    """Light curves from a long-format photometry table, with labels from a CSV.

    Samples follow the light-curve contract of :mod:`domains.astronomy` under the key
    ``"photometry"`` (``time``, ``value``, ``error``, ``band``, ``mask``, each ``[length]``),
    plus the per-object scalars ``t0``, ``median``, ``scale`` and ``n_obs``, the string
    ``object_id`` and the int64 ``label``.

    Which objects are kept:

    * with ``labels``, only objects listed in the labels table (objects of the photometry table
      that it does not list are unlabelled and excluded); every listed object must be in the
      table;
    * objects left with no observation after cleaning (NaN, duplicate times) are excluded;
    * classes with fewer than ``min_class_count`` kept objects are dropped (for ASAS the
      7 Beta Cephei stars, under the default of 10), so that every kept class can appear in
      every split;
    * without ``labels``, every object is kept with label ``-1``, ``class_names`` is empty and
      the splits are random.

    Splits are stratified by class (random without labels), drawn from ``seed``, and identical
    on every rank.

    Args:
        photometry: Long-format CSV (optionally compressed) or Parquet table.
        labels: CSV or Parquet table with ``id_col`` and ``label_col`` columns, or ``None``
            for unlabelled data.
        label_col: Column of ``labels`` holding the class name.
        id_col: Object identifier column (in both files).
        time_col: Observation time column, in days.
        value_col: Magnitude or flux column.
        error_col: Measurement error column.
        band_col: Passband column, or ``None`` for single-band surveys.
        length: Observations per object after cropping/padding.
        batch_size: Samples per batch, per device.
        num_workers: DataLoader workers.
        val_fraction: Share of each class for validation.
        test_fraction: Share of each class for test.
        seed: Seed of the splits and of the training order.
        min_class_count: Drop classes with fewer objects than this.
        cache: Read and write the tokenised-array cache.
        periods: Also find every object's best Lomb-Scargle period and power
            (:func:`~domains.astronomy.baselines.best_period` on its cropped light curve,
            cached by the light curves' content, so a copied or moved table reuses them:
            minutes for ASAS, once) and put them, with ``median`` and ``scale``, inside
            ``sample["photometry"]`` (:data:`OBJECT_KEYS`), for period-aware tokenizers and
            phase folding.

    Raises:
        ValueError: On a non-positive ``batch_size`` or ``length``, negative ``num_workers``
            or fractions that leave nothing to train on.
    """

    def __init__(
        self,
        photometry: str,
        labels: str | None = None,
        label_col: str = "class",
        id_col: str = "object_id",
        time_col: str = "hjd",
        value_col: str = "mag",
        error_col: str = "mag_err",
        band_col: str | None = None,
        length: int = 256,
        batch_size: int = 64,
        num_workers: int = 0,
        val_fraction: float = 0.2,
        test_fraction: float = 0.2,
        seed: int = 0,
        min_class_count: int = 10,
        cache: bool = True,
        periods: bool = False,
    ) -> None:
        super().__init__(batch_size, num_workers, seed)
        if length < 1:
            raise ValueError(f"length must be positive, got {length}")
        check_fractions(val_fraction, test_fraction)
        self.save_hyperparameters()
        self.photometry = Path(photometry).expanduser()
        self.labels_path = Path(labels).expanduser() if labels is not None else None
        self.label_col = label_col
        self.columns = {
            "id_col": id_col,
            "time_col": time_col,
            "value_col": value_col,
            "error_col": error_col,
            "band_col": band_col,
        }
        self.length = length
        self.val_fraction = val_fraction
        self.test_fraction = test_fraction
        self.min_class_count = min_class_count
        self.use_cache = cache
        self.periods = periods
        self._table: TokenisedTable | None = None
        self._rows: np.ndarray | None = None
        self._targets: np.ndarray | None = None
        self._class_names: tuple[str, ...] = ()

    # -- reading -----------------------------------------------------------------------------

    def cache_path(self) -> Path:
        """The ``.npz`` file caching the tokenised table for these settings.

        Raises:
            FileNotFoundError: When the photometry table does not exist.
        """
        if not self.photometry.is_file():
            raise FileNotFoundError(f"{self.photometry}: no such photometry table")
        stat = self.photometry.stat()
        key = json.dumps(
            {
                "version": CACHE_VERSION,
                "path": str(self.photometry.resolve()),
                "mtime_ns": stat.st_mtime_ns,
                "size": stat.st_size,
                "length": self.length,
                **self.columns,
            },
            sort_keys=True,
        )
        digest = hashlib.sha256(key.encode()).hexdigest()[:24]
        return cache_root() / "astronomy" / f"{self.photometry.name}-{digest}.npz"

    def _read_table(self) -> TokenisedTable:
        path = self.cache_path()
        if self.use_cache and path.is_file():
            with np.load(path, allow_pickle=False) as data:
                arrays = {key: data[key] for key in (*TOKEN_KEYS, *SCALAR_KEYS)}
                return TokenisedTable(
                    data["ids"], arrays, tuple(str(b) for b in data["band_names"])
                )
        columns = self.columns
        table = read_photometry_table(
            self.photometry,
            id_col=str(columns["id_col"]),
            time_col=str(columns["time_col"]),
            value_col=str(columns["value_col"]),
            error_col=str(columns["error_col"]),
            band_col=columns["band_col"],
        )
        arrays = tokenise_table(table, self.length)
        ids = table.ids  # text already: read_photometry_table returns ids as str
        if self.use_cache:
            band_names = np.asarray(table.band_names, dtype=str)
            atomic_save_npz(path, False, ids=ids, band_names=band_names, **arrays)
        return TokenisedTable(ids, arrays, table.band_names)

    def periods_cache_path(self, table: TokenisedTable) -> Path:
        """The ``.npz`` file caching the periods of ``table``'s light curves.

        Keyed by the content of the tokenised light curves (times, values, errors, mask), not
        by the table file's path and modification time like :meth:`cache_path`: a copied,
        moved or re-downloaded table is tokenised again in seconds, and the period search,
        minutes for a survey, is not repeated.
        """
        digest = hashlib.sha256(f"periods-v{PERIODS_VERSION}".encode())
        for key in ("time", "value", "error", "mask"):
            array = np.ascontiguousarray(table.arrays[key])
            digest.update(f"{key}:{array.dtype}:{array.shape}".encode())
            digest.update(array.data)
        return cache_root() / "astronomy" / f"periods-{digest.hexdigest()[:24]}.npz"

    def _add_periods(self, table: TokenisedTable) -> None:
        """Put each object's Lomb-Scargle period and power into ``table.arrays``."""
        path = self.periods_cache_path(table)
        if self.use_cache and path.is_file():
            with np.load(path, allow_pickle=False) as data:
                if len(data["period"]) == len(table.ids):
                    table.arrays.update({key: data[key] for key in PERIOD_KEYS})
                    return
        arrays = table.arrays
        found = best_periods(
            arrays["time"],
            arrays["value"],
            arrays["error"],
            arrays["mask"],
            progress=f"periods of {self.photometry.name}",
        )
        periods = {
            "period": found[:, 0].astype(np.float32),
            "power": found[:, 1].astype(np.float32),
        }
        if self.use_cache:
            atomic_save_npz(path, False, **periods)
        table.arrays.update(periods)

    def _read_labels(self, table: TokenisedTable) -> tuple[np.ndarray, np.ndarray]:
        """Rows of ``table`` to keep and their class names, in table order."""
        assert self.labels_path is not None
        path, id_col = self.labels_path, str(self.columns["id_col"])
        frame = read_catalogue(path, id_col, kind="labels", required=[self.label_col])
        frame = frame[[id_col, self.label_col]]
        if frame.isna().any().any():
            raise ValueError(f"{path}: empty {id_col!r} or {self.label_col!r} values")
        duplicated = frame[id_col][frame[id_col].duplicated()].unique()
        if len(duplicated):
            raise ValueError(f"{path}: object ids listed more than once: {list(duplicated[:5])}")
        lookup = pd.Series(np.arange(len(table.ids)), index=table.ids)
        missing = frame[id_col][~frame[id_col].isin(lookup.index)]
        if len(missing):
            raise ValueError(
                f"{path}: {len(missing)} object id(s) not in the photometry table "
                f"{self.photometry}, e.g. {list(missing[:5])}"
            )
        rows = lookup[frame[id_col]].to_numpy(dtype=np.int64)
        names = frame[self.label_col].astype(str).to_numpy()
        order = np.argsort(rows, kind="stable")
        return rows[order], names[order]

    def _load(self) -> None:
        if self._table is not None:
            return
        table = self._read_table()
        if self.periods:
            self._add_periods(table)
        observed = table.arrays["n_obs"] > 0
        if self.labels_path is None:
            self._rows = np.flatnonzero(observed).astype(np.int64)
            self._targets = np.full(len(self._rows), -1, dtype=np.int64)
            self._class_names = ()
            self._table = table
            return
        rows, names = self._read_labels(table)
        keep = observed[rows]
        rows, names = rows[keep], names[keep]
        classes, counts = np.unique(names, return_counts=True)
        kept_classes = classes[counts >= self.min_class_count]
        if not len(kept_classes):
            raise ValueError(
                f"{self.labels_path}: no class has min_class_count={self.min_class_count} "
                f"objects with observations (counts: {dict(zip(classes, counts, strict=True))})"
            )
        keep = np.isin(names, kept_classes)
        self._rows = rows[keep]
        self._targets = np.searchsorted(kept_classes, names[keep]).astype(np.int64)
        self._class_names = tuple(str(c) for c in kept_classes)
        self._table = table

    # -- public API --------------------------------------------------------------------------

    @property
    def table(self) -> TokenisedTable:
        """The tokenised photometry table (read, or loaded from the cache, on first use)."""
        self._load()
        assert self._table is not None
        return self._table

    @property
    def targets(self) -> np.ndarray:
        """int64 class index of every kept object (``-1`` without labels)."""
        self._load()
        assert self._targets is not None
        return self._targets

    @property
    def object_ids(self) -> np.ndarray:
        """Identifier of every kept object, in table order."""
        self._load()
        assert self._rows is not None
        return self.table.ids[self._rows]

    @property
    def class_names(self) -> tuple[str, ...]:
        """Name of each class index (sorted; empty without labels)."""
        self._load()
        return self._class_names

    @property
    def num_classes(self) -> int:
        """Number of classes."""
        return len(self.class_names)

    @property
    def num_bands(self) -> int:
        """Number of band codes (for ``ObservationTokenizer(num_bands=...)``)."""
        return len(self.table.band_names)

    def split_indices(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The fixed, sorted ``(train, val, test)`` indices into the kept objects."""
        targets = self.targets
        if self.labels_path is None:
            return random_split(len(targets), self.val_fraction, self.test_fraction, self.seed)
        return stratified_split(targets, self.val_fraction, self.test_fraction, self.seed)

    def setup(self, stage: str | None = None) -> None:
        """Read (or load from the cache) the table, apply the labels and split.

        Raises:
            FileNotFoundError: Naming a missing photometry or labels file.
            ValueError: Naming the file, on an unreadable table or labels file, a labels id
                missing from the table, or no class with ``min_class_count`` objects.
        """
        if self.full is not None:
            return
        table, targets = self.table, self.targets
        assert self._rows is not None
        rows = self._rows

        def subset(index: np.ndarray) -> PhotometryDataset:
            return PhotometryDataset(table, rows[index], targets[index])

        train, val, test = self.split_indices()
        self.full = subset(np.arange(len(rows)))
        self.splits = {"train": subset(train), "val": subset(val), "test": subset(test)}
