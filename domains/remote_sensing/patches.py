"""Patch classification from a folder of GeoTIFF patches and a labels CSV (EuroSAT-MS layout)."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
import torch
from rasterio.errors import RasterioError
from torch import Tensor
from torch.utils.data import Dataset

from domains.remote_sensing.synthetic import (
    GENERATOR_VERSION,
    S2_L2A_WAVELENGTHS,
    SCALE_TAG,
    write_patch_folder,
)
from foundations.data import (
    LabelledSplitsDataModule,
    check_fractions,
    random_split,
    stratified_split,
)
from foundations.io import cache_root

CLASSES_FILE = "classes.txt"
"""Optional file next to the labels CSV: one class name a line, in label order."""

INTEGER_SCALE = 1e-4
"""Reflectance per digital number assumed for integer files without a scale (Sentinel-2 L2A)."""


def default_root(num_samples: int, size: int, seed: int) -> Path:
    """Folder of the embedded default dataset in the cache; the generator version is part of
    the name, so a changed generator never reuses an old folder."""
    name = f"synthetic-v{GENERATOR_VERSION}-n{num_samples}-s{size}-seed{seed}"
    return cache_root() / "remote_sensing" / name


def _scale(src: Any) -> np.ndarray:
    """Per-band reflectance scale: the ``REFLECTANCE_SCALE`` tag, else GDAL band scales when
    set, else :data:`INTEGER_SCALE` for integer data and 1 for floating-point data."""
    tag = src.tags().get(SCALE_TAG)
    if tag is not None:
        return np.full(src.count, float(tag), dtype=np.float32)
    scales = np.asarray(src.scales, dtype=np.float32)
    if np.any(scales != 1.0):
        return scales
    integer = np.issubdtype(np.dtype(src.dtypes[0]), np.integer)
    return np.full(src.count, INTEGER_SCALE if integer else 1.0, dtype=np.float32)


def read_patch(path: Path, wavelengths: Tensor) -> dict[str, Any]:
    """Read one GeoTIFF patch into the remote-sensing sample contract.

    Args:
        path: The GeoTIFF.
        wavelengths: ``[C]`` band centres in micrometres; the file must have ``C`` bands.

    Returns:
        ``{"image": {"values", "valid", "wavelengths", "transform"}, "crs": str}``; nodata and
        non-finite values are ``valid=False`` and 0 in ``values``; ``crs`` is ``""`` when the
        file has none.

    Raises:
        FileNotFoundError: When ``path`` does not exist.
        ValueError: Naming the file, when it is not a readable raster or its band count does
            not match ``wavelengths``.
    """
    if not path.is_file():
        raise FileNotFoundError(f"patch file {path} does not exist")
    try:
        with rasterio.open(path) as src:
            if src.count != len(wavelengths):
                raise ValueError(
                    f"{path}: {src.count} bands but {len(wavelengths)} sensor wavelengths"
                )
            data = src.read()
            nodata, scale = src.nodata, _scale(src)
            transform = tuple(src.transform)[:6]
            crs = src.crs.to_string() if src.crs is not None else ""
    except RasterioError as error:
        raise ValueError(f"{path}: not a readable GeoTIFF: {error}") from error
    valid = np.ones(data.shape, dtype=bool) if nodata is None else data != nodata
    values = data.astype(np.float32) * scale[:, None, None]
    valid &= np.isfinite(values)
    values[~valid] = 0.0
    image = {
        "values": torch.from_numpy(values),
        "valid": torch.from_numpy(valid),
        "wavelengths": wavelengths,
        "transform": torch.tensor(transform, dtype=torch.float64),
    }
    return {"image": image, "crs": crs}


@dataclass(frozen=True)
class PatchIndex:
    """What a labels CSV lists.

    Attributes:
        paths: Absolute path of every patch, in CSV order.
        targets: int64 ``[N]`` class indices, or float32 ``[N, K]`` 0/1 vectors (multilabel).
        class_names: Name of each class index.
    """

    paths: list[Path]
    targets: np.ndarray
    class_names: tuple[str, ...]


def read_index(csv_path: Path, multilabel: bool = False) -> PatchIndex:
    """Read a labels CSV (``path`` relative to its folder, plus ``label`` or ``labels``).

    Single-label files need a ``label`` column holding a class name; multilabel files a
    ``labels`` column of ``;``-separated class names (possibly empty). Class order comes from
    ``classes.txt`` next to the CSV when present, else the sorted names found in the CSV.

    Args:
        csv_path: The CSV file.
        multilabel: Read ``labels`` into 0/1 vectors instead of ``label`` into indices.

    Returns:
        The :class:`PatchIndex`.

    Raises:
        FileNotFoundError: When the CSV does not exist.
        ValueError: Naming the CSV, on a missing column, an empty file, or a class name not in
            ``classes.txt``.
    """
    if not csv_path.is_file():
        raise FileNotFoundError(f"labels file {csv_path} does not exist")
    column = "labels" if multilabel else "label"
    with open(csv_path, newline="") as file:
        reader = csv.DictReader(file)
        fields = reader.fieldnames or []
        if "path" not in fields or column not in fields:
            raise ValueError(f"{csv_path}: needs columns 'path' and {column!r}, has {fields}")
        rows = [(row["path"], row[column] or "") for row in reader]
    if not rows:
        raise ValueError(f"{csv_path}: lists no patches")
    names = [
        [n.strip() for n in text.split(";") if n.strip()] if multilabel else [text.strip()]
        for _, text in rows
    ]
    classes_file = csv_path.parent / CLASSES_FILE
    if classes_file.is_file():
        class_names = tuple(line.strip() for line in classes_file.read_text().splitlines())
        class_names = tuple(name for name in class_names if name)
    else:
        class_names = tuple(sorted({name for row in names for name in row}))
    lookup = {name: index for index, name in enumerate(class_names)}
    for line, ((path, _), row) in enumerate(zip(rows, names, strict=True), start=2):
        for name in row:
            if name not in lookup:
                raise ValueError(
                    f"{csv_path}, line {line} ({path}): unknown class {name!r}; "
                    f"known classes: {list(class_names)}"
                )
    if multilabel:
        targets = np.zeros((len(rows), len(class_names)), dtype=np.float32)
        for i, row in enumerate(names):
            targets[i, [lookup[name] for name in row]] = 1.0
    else:
        targets = np.array([lookup[row[0]] for row in names], dtype=np.int64)
    paths = [csv_path.parent / path for path, _ in rows]
    return PatchIndex(paths, targets, class_names)


class PatchFolderDataset(Dataset[dict[str, Any]]):
    """GeoTIFF patches read lazily, one contract sample per file.

    Args:
        paths: Patch files.
        targets: ``[N]`` class indices or ``[N, K]`` 0/1 vectors.
        wavelengths: ``[C]`` band centres in micrometres, shared by all files.
    """

    def __init__(self, paths: list[Path], targets: np.ndarray, wavelengths: Tensor) -> None:
        if len(paths) != len(targets):
            raise ValueError(f"{len(paths)} paths but {len(targets)} targets")
        self.paths = paths
        self.targets = torch.from_numpy(np.ascontiguousarray(targets))
        self.wavelengths = wavelengths

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> dict[str, Any]:
        """The contract sample of file ``index`` with its ``"label"``."""
        sample = read_patch(self.paths[index], self.wavelengths)
        sample["label"] = self.targets[index]
        return sample


class PatchFolderDataModule(LabelledSplitsDataModule):
    """Patch classification from a folder of GeoTIFFs and a labels CSV (EuroSAT-MS layout).

    With ``root=None`` the embedded default (:mod:`domains.remote_sensing.synthetic`) is
    generated by :meth:`prepare_data` into
    ``$FOUNDATIONS_CACHE/remote_sensing/synthetic-n{num_samples}-s{size}-seed{seed}`` and reused
    afterwards. Splits are drawn from ``seed`` (stratified by class for single-label data,
    random for multilabel data) and are identical on every rank.

    Samples follow the domain's contract: ``"image"`` (``values``, ``valid``, ``wavelengths``,
    ``transform``), ``"crs"`` (a string; a list after collation) and ``"label"`` (an int64
    index, or a float32 0/1 ``[K]`` vector when ``multilabel``).

    Args:
        root: Folder holding the labels CSV, whose paths are relative to it; ``None`` means the
            generated default.
        sensor_wavelengths: Band centres in micrometres, in file band order; default the 12
            Sentinel-2 L2A bands.
        labels_csv: CSV file name inside ``root``.
        num_samples: Patches in the generated default (ignored with ``root``).
        size: Patch size of the generated default (ignored with ``root``).
        batch_size: Samples per batch, per device.
        num_workers: DataLoader workers.
        val_fraction: Share of samples for validation.
        test_fraction: Share of samples for test.
        seed: Seed of the generated data and of the splits and shuffles.
        multilabel: Read the CSV's ``labels`` column (``;``-separated class names).

    Raises:
        ValueError: On a non-positive ``batch_size``, negative ``num_workers`` or fractions
            that leave nothing to train on.
    """

    def __init__(
        self,
        root: str | None = None,
        sensor_wavelengths: list[float] | None = None,
        labels_csv: str = "labels.csv",
        num_samples: int = 2000,
        size: int = 64,
        batch_size: int = 64,
        num_workers: int = 0,
        val_fraction: float = 0.2,
        test_fraction: float = 0.2,
        seed: int = 0,
        multilabel: bool = False,
    ) -> None:
        super().__init__(batch_size, num_workers, seed)
        check_fractions(val_fraction, test_fraction)
        self.save_hyperparameters()
        self.generated = root is None
        self.root = (
            Path(root).expanduser() if root is not None else default_root(num_samples, size, seed)
        )
        self.wavelengths = torch.tensor(
            sensor_wavelengths if sensor_wavelengths is not None else S2_L2A_WAVELENGTHS,
            dtype=torch.float32,
        )
        self.labels_csv = labels_csv
        self.num_samples = num_samples
        self.size = size
        self.val_fraction = val_fraction
        self.test_fraction = test_fraction
        self.multilabel = multilabel
        self._index: PatchIndex | None = None

    @property
    def patch_index(self) -> PatchIndex:
        """The labels CSV's contents (read on first use, generating the default if needed)."""
        if self._index is None:
            self.prepare_data()
            self._index = read_index(self.root / self.labels_csv, self.multilabel)
        return self._index

    @property
    def class_names(self) -> tuple[str, ...]:
        """Name of each class index."""
        return self.patch_index.class_names

    @property
    def num_classes(self) -> int:
        """Number of classes."""
        return len(self.class_names)

    def prepare_data(self) -> None:
        """Generate the default dataset unless it exists (written to a temporary folder and
        renamed); nothing to do for a user folder."""
        if self.generated:
            write_patch_folder(self.root, self.num_samples, self.size, self.seed)

    def split_indices(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The fixed, sorted ``(train, val, test)`` indices into the CSV's rows."""
        targets = self.patch_index.targets
        if self.multilabel:
            return random_split(len(targets), self.val_fraction, self.test_fraction, self.seed)
        return stratified_split(targets, self.val_fraction, self.test_fraction, self.seed)

    def setup(self, stage: str | None = None) -> None:
        """Read the CSV, check that every listed file exists, and split.

        Raises:
            FileNotFoundError: Naming the CSV or the first listed patch file that is missing.
            ValueError: On an invalid CSV (see :func:`read_index`).
        """
        if self.full is not None:
            return
        index = self.patch_index
        for path in index.paths:
            if not path.is_file():
                raise FileNotFoundError(
                    f"patch file {path} listed in {self.root / self.labels_csv} does not exist"
                )

        def subset(rows: np.ndarray) -> PatchFolderDataset:
            paths = [index.paths[i] for i in rows]
            return PatchFolderDataset(paths, index.targets[rows], self.wavelengths)

        train, val, test = self.split_indices()
        self.full = subset(np.arange(len(index.paths)))
        self.splits = {"train": subset(train), "val": subset(val), "test": subset(test)}
