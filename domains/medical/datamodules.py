"""Datamodules: a folder of CT/MR volumes with a labels CSV, and MedMNIST archives.

Batches use PyTorch's default collate, which already does what the sample contract asks:
tensors (also inside the ``"volume"``/``"image"`` dicts) are stacked and strings
(``"patient"``, ``"report"``) become lists.
"""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor
from torch.utils.data import ConcatDataset, DataLoader, Dataset

from domains.medical.io import Volume, read_medmnist, read_volume
from domains.medical.phantoms import GENERATOR_VERSION, write_phantom_folder
from domains.medical.transforms import SizeMode, VolumePreprocess, Window
from foundations.data import LabelledSplitsDataModule, check_fractions, grouped_split
from foundations.io import atomic_folder, cache_root

CLASSES_FILE = "classes.txt"
"""Optional file next to the labels CSV: one class name a line, in label order."""

CACHE_VERSION = 1
"""Part of every preprocessing cache key; bump when readers or transforms change output."""

Task = Literal["binary", "multiclass", "multilabel"]


def default_root(num_samples: int, seed: int) -> Path:
    """Folder of the embedded phantom dataset in the cache; the generator version is part of
    the name, so a changed generator never reuses an old folder."""
    name = f"phantoms-v{GENERATOR_VERSION}-n{num_samples}-seed{seed}"
    return cache_root() / "medical" / name


@dataclass(frozen=True)
class VolumeIndex:
    """What a volume labels CSV lists.

    Attributes:
        paths: Absolute path of every volume (NIfTI file or DICOM series folder), CSV order.
        targets: int64 ``[N]`` class indices, or ``None`` for an unlabelled CSV.
        class_names: Name of each class index (empty when unlabelled).
        patients: ``[N]`` patient ids (the file path when the CSV has no ``patient`` column).
        reports: Report text of every volume, or ``None`` without a ``report`` column.
    """

    paths: list[Path]
    targets: np.ndarray | None
    class_names: tuple[str, ...]
    patients: np.ndarray
    reports: list[str] | None


def read_volume_index(csv_path: Path) -> VolumeIndex:
    """Read a labels CSV: ``path`` (relative to the CSV's folder), optional ``label`` (class
    name), ``patient`` and ``report``; other columns are ignored.

    Class order comes from ``classes.txt`` next to the CSV when present, else the sorted names.

    Args:
        csv_path: The CSV file.

    Returns:
        The :class:`VolumeIndex`.

    Raises:
        FileNotFoundError: When the CSV does not exist.
        ValueError: Naming the CSV (and line), on a missing ``path`` column, no rows, an empty
            path, or a class not listed in ``classes.txt``.
    """
    if not csv_path.is_file():
        raise FileNotFoundError(f"labels file {csv_path} does not exist")
    with open(csv_path, newline="") as file:
        reader = csv.DictReader(file)
        fields = reader.fieldnames or []
        if "path" not in fields:
            raise ValueError(f"{csv_path}: needs a 'path' column, has {fields}")
        rows = list(reader)
    if not rows:
        raise ValueError(f"{csv_path}: lists no volumes")
    for line, row in enumerate(rows, start=2):
        if not (row.get("path") or "").strip():
            raise ValueError(f"{csv_path}, line {line}: empty path")
    paths = [csv_path.parent / row["path"].strip() for row in rows]
    patients = np.array(
        [(row.get("patient") or "").strip() or row["path"].strip() for row in rows], dtype=str
    )
    reports = [row.get("report") or "" for row in rows] if "report" in fields else None
    if "label" not in fields:
        return VolumeIndex(paths, None, (), patients, reports)
    names = [(row["label"] or "").strip() for row in rows]
    classes_file = csv_path.parent / CLASSES_FILE
    if classes_file.is_file():
        lines = (line.strip() for line in classes_file.read_text().splitlines())
        class_names = tuple(name for name in lines if name)
    else:
        class_names = tuple(sorted(set(names)))
    lookup = {name: index for index, name in enumerate(class_names)}
    for line, (row, name) in enumerate(zip(rows, names, strict=True), start=2):
        if name not in lookup:
            raise ValueError(
                f"{csv_path}, line {line} ({row['path']}): unknown class {name!r}; "
                f"known classes: {list(class_names)}"
            )
    targets = np.array([lookup[name] for name in names], dtype=np.int64)
    return VolumeIndex(paths, targets, class_names, patients, reports)


class _ReadDataset(Dataset[dict[str, Tensor]]):
    """Read and preprocess one volume per item (for filling the cache, or uncached use)."""

    def __init__(self, paths: Sequence[Path], preprocess: VolumePreprocess) -> None:
        self.paths, self.preprocess = list(paths), preprocess

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> dict[str, Tensor]:
        volume: Volume = read_volume(self.paths[index])
        return self.preprocess(volume)


def _cache_key(paths: Sequence[Path], preprocess: VolumePreprocess) -> str:
    files = []
    for path in paths:
        stat = path.stat()
        files.append([str(path.resolve()), stat.st_size, stat.st_mtime_ns])
    settings = asdict(preprocess.settings)
    payload = json.dumps(
        {"version": CACHE_VERSION, "files": files, "settings": settings},
        sort_keys=True,
        default=list,
    )
    return hashlib.sha256(payload.encode()).hexdigest()[:24]


def cache_folder(paths: Sequence[Path], preprocess: VolumePreprocess) -> Path:
    """Where the preprocessed arrays of ``paths`` live: keyed by every file's path, size and
    modification time, the preprocessing settings and :data:`CACHE_VERSION`."""
    return cache_root() / "medical" / "preprocessed" / _cache_key(paths, preprocess)


@contextmanager
def _single_threaded() -> Iterator[None]:
    """Run torch on one thread: on volumes this small, intra-op threads cost far more in
    synchronisation than they save (8x slower preprocessing on a busy 2-core machine)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def build_cache(paths: Sequence[Path], preprocess: VolumePreprocess, num_workers: int = 0) -> Path:
    """Read and preprocess every volume once into ``values.npy``, ``spacing.npy`` and
    ``affine.npy`` in :func:`cache_folder` (kept as is when present).

    Values are stored as float16 when the preprocessing normalises them to ``[0, 1]``
    (windowed CT, percentile-normalised MR: ~5e-4 precision, half the disk and reads) and as
    float32 otherwise. The folder is written under a temporary name and renamed into place.

    Args:
        paths: Volume files or DICOM folders.
        preprocess: The preprocessing; needs a fixed ``size``.
        num_workers: DataLoader workers reading in parallel.

    Returns:
        The cache folder.

    Raises:
        ValueError: When ``preprocess`` has no fixed size, or naming a file that cannot be read.
    """
    size = preprocess.settings.size
    if size is None:
        raise ValueError("caching preprocessed volumes needs a fixed size")
    folder = cache_folder(paths, preprocess)
    if folder.is_dir():
        return folder
    with atomic_folder(folder) as temp:
        dtype = np.float16 if preprocess.settings.window is not None else np.float32
        values = np.lib.format.open_memmap(
            temp / "values.npy", mode="w+", dtype=dtype, shape=(len(paths), 1, *size)
        )
        spacing = np.zeros((len(paths), 3), dtype=np.float32)
        affine = np.zeros((len(paths), 4, 4), dtype=np.float64)
        loader = DataLoader(
            _ReadDataset(paths, preprocess), batch_size=None, num_workers=num_workers
        )
        with _single_threaded():  # workers are single-threaded already
            for i, sample in enumerate(loader):
                values[i] = sample["values"].numpy()
                spacing[i] = sample["spacing"].numpy()
                affine[i] = sample["affine"].numpy()
        values.flush()
        del values
        np.save(temp / "spacing.npy", spacing)
        np.save(temp / "affine.npy", affine)
        meta = {
            "version": CACHE_VERSION,
            "count": len(paths),
            "size": list(size),
            "settings": asdict(preprocess.settings),
        }
        (temp / "meta.json").write_text(json.dumps(meta, indent=1, default=list))
    return folder


class VolumeDataset(Dataset[dict[str, Any]]):
    """Volumes of a :class:`VolumeIndex` (rows ``rows``), from the preprocessing cache or read
    and preprocessed per item.

    Args:
        index: The CSV's contents.
        rows: Which CSV rows, in order.
        preprocess: The preprocessing (used when ``cache`` is ``None``).
        cache: A :func:`build_cache` folder for the index's paths, or ``None``.
        with_reports: Add ``"report"`` to every sample.
    """

    def __init__(
        self,
        index: VolumeIndex,
        rows: np.ndarray,
        preprocess: VolumePreprocess,
        cache: Path | None = None,
        with_reports: bool = False,
    ) -> None:
        self.index, self.rows = index, np.asarray(rows, dtype=np.int64)
        self.preprocess, self.cache, self.with_reports = preprocess, cache, with_reports
        self._values: np.ndarray | None = None
        self.spacing = np.load(cache / "spacing.npy") if cache is not None else None
        self.affine = np.load(cache / "affine.npy") if cache is not None else None

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_values"] = None  # workers re-open the memory map instead of copying it
        return state

    def __len__(self) -> int:
        return len(self.rows)

    def _volume(self, row: int) -> dict[str, Tensor]:
        if self.cache is None or self.spacing is None or self.affine is None:
            return self.preprocess(read_volume(self.index.paths[row]))
        if self._values is None:
            self._values = np.load(self.cache / "values.npy", mmap_mode="r")
        return {
            "values": torch.from_numpy(np.asarray(self._values[row], dtype=np.float32)),
            "spacing": torch.from_numpy(self.spacing[row].copy()),
            "affine": torch.from_numpy(self.affine[row].copy()),
        }

    def __getitem__(self, item: int) -> dict[str, Any]:
        """``{"volume", "patient"}`` plus ``"label"`` when labelled and ``"report"`` when
        asked for."""
        row = int(self.rows[item])
        sample: dict[str, Any] = {
            "volume": self._volume(row),
            "patient": str(self.index.patients[row]),
        }
        if self.index.targets is not None:
            sample["label"] = torch.tensor(self.index.targets[row], dtype=torch.int64)
        if self.with_reports and self.index.reports is not None:
            sample["report"] = self.index.reports[row]
        return sample


def _size(size: int | Sequence[int] | None) -> tuple[int, int, int] | None:
    if size is None:
        return None
    items = (int(size),) * 3 if isinstance(size, int) else tuple(int(s) for s in size)
    if len(items) != 3:
        raise ValueError(f"size needs three numbers (X, Y, Z), got {size!r}")
    return items[0], items[1], items[2]


def _window(window: Window | Sequence[float] | None) -> Window | None:
    if window is None or isinstance(window, str):
        return window
    level, width = (float(v) for v in window)
    return level, width


class VolumeFolderDataModule(LabelledSplitsDataModule):
    """CT/MR volumes (NIfTI files or DICOM series folders) listed in a labels CSV.

    With ``root=None`` the embedded phantom dataset (:mod:`domains.medical.phantoms`) is
    generated by :meth:`prepare_data` into
    ``$FOUNDATIONS_CACHE/medical/phantoms-v{version}-n{num_samples}-seed{seed}``. Splits are
    grouped by patient (:func:`foundations.data.grouped_split`), so no patient's volumes span
    two splits, and are identical on every rank.

    Every volume is read and preprocessed (:class:`~domains.medical.transforms.VolumePreprocess`)
    once, into one memory-mapped array in the cache keyed by the file list and the settings
    (:func:`build_cache`); later epochs, runs and ranks read only that. One ``.npy`` per array
    beats MONAI's ``PersistentDataset`` here: no per-sample pickles to unpickle (the project
    never unpickles cached files), one sequential file the OS pages in and worker processes
    share, and no re-reading at all when the same settings come back.

    Samples: ``"volume"`` (``values [1, X, Y, Z]`` float32, ``spacing [3]`` float32,
    ``affine [4, 4]`` float64), ``"patient"`` (str), ``"label"`` (int64, when the CSV has a
    ``label`` column) and ``"report"`` (str, with ``with_reports``).

    Args:
        root: Folder holding the labels CSV (paths relative to it); ``None`` means the
            generated phantoms.
        labels_csv: CSV file name inside ``root``.
        size: Output ``(X, Y, Z)`` of every volume (an int for a cube).
        target_spacing: Resample to this voxel size (mm) first, or ``None``.
        window: CT window preset (``"soft_tissue"``, ``"lung"``, ``"bone"``, ``"brain"``,
            ``"generic"``, ...) or ``(level, width)``; ``"mr"`` for percentile normalisation;
            ``None`` keeps stored units.
        crop_foreground: Crop to the body before sizing.
        size_mode: ``"resize"``, ``"fit"`` or ``"pad"`` (see ``transforms.FixedSize``).
        num_samples: Volumes in the generated default (ignored with ``root``).
        batch_size: Samples per batch, per device.
        num_workers: DataLoader workers (also used to fill the cache).
        val_fraction: Target share of samples for validation.
        test_fraction: Target share of samples for test.
        seed: Seed of the generated data, the splits and the shuffles.
        with_reports: Add each volume's ``"report"`` (needs a ``report`` column).
        cache: Keep preprocessed volumes in the cache (else read every file every time).

    Raises:
        ValueError: On a non-positive ``batch_size``, negative ``num_workers``, bad fractions
            or sizes, or an unknown window.
    """

    def __init__(
        self,
        root: str | None = None,
        labels_csv: str = "labels.csv",
        size: int | tuple[int, int, int] = (32, 32, 32),
        target_spacing: float | tuple[float, float, float] | None = None,
        window: str | tuple[float, float] | None = "soft_tissue",
        crop_foreground: bool = False,
        size_mode: SizeMode = "resize",
        num_samples: int = 600,
        batch_size: int = 16,
        num_workers: int = 0,
        val_fraction: float = 0.2,
        test_fraction: float = 0.2,
        seed: int = 0,
        with_reports: bool = False,
        cache: bool = True,
    ) -> None:
        super().__init__(batch_size, num_workers, seed)
        check_fractions(val_fraction, test_fraction)
        self.save_hyperparameters()
        self.generated = root is None
        self.root = Path(root).expanduser() if root is not None else default_root(num_samples, seed)
        self.labels_csv = labels_csv
        self.num_samples = num_samples
        self.val_fraction = val_fraction
        self.test_fraction = test_fraction
        self.with_reports = with_reports
        self.use_cache = cache
        self.preprocess = VolumePreprocess(
            size=_size(size),
            target_spacing=target_spacing,
            window=_window(window),
            crop_foreground=crop_foreground,
            size_mode=size_mode,
        )
        self._index: VolumeIndex | None = None
        self.cache_dir: Path | None = None

    @property
    def volume_index(self) -> VolumeIndex:
        """The labels CSV's contents (read on first use, generating the default if needed)."""
        if self._index is None:
            self.prepare_data(build=False)
            self._index = read_volume_index(self.root / self.labels_csv)
        return self._index

    @property
    def class_names(self) -> tuple[str, ...]:
        """Name of each class index."""
        return self.volume_index.class_names

    @property
    def num_classes(self) -> int:
        """Number of classes."""
        return len(self.class_names)

    @property
    def task(self) -> Task:
        """``"binary"`` with two classes, else ``"multiclass"``."""
        return "binary" if self.num_classes == 2 else "multiclass"

    def _check_files(self, index: VolumeIndex) -> None:
        for path in index.paths:
            if not path.exists():
                raise FileNotFoundError(
                    f"volume {path} listed in {self.root / self.labels_csv} does not exist"
                )

    def prepare_data(self, build: bool = True) -> None:
        """Generate the default dataset unless it exists, then fill the preprocessing cache
        (both written to temporary folders and renamed, so concurrent callers are safe)."""
        if self.generated:
            write_phantom_folder(self.root, self.num_samples, self.seed)
        if build and self.use_cache:
            index = self.volume_index
            self._check_files(index)
            self.cache_dir = build_cache(index.paths, self.preprocess, self.num_workers)

    def split_indices(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The fixed, sorted ``(train, val, test)`` CSV rows, grouped by patient."""
        patients = self.volume_index.patients
        return grouped_split(patients, self.val_fraction, self.test_fraction, self.seed)

    def setup(self, stage: str | None = None) -> None:
        """Read the CSV, check the files, load (or build) the cache, and split by patient.

        Raises:
            FileNotFoundError: Naming the CSV or the first listed volume that is missing.
            ValueError: On an invalid CSV, ``with_reports`` without a ``report`` column, or
                an unreadable volume (named).
        """
        if self.full is not None:
            return
        index = self.volume_index
        if self.with_reports and index.reports is None:
            raise ValueError(f"{self.root / self.labels_csv}: with_reports needs a 'report' column")
        self._check_files(index)
        if self.use_cache:
            self.cache_dir = build_cache(index.paths, self.preprocess, self.num_workers)

        def subset(rows: np.ndarray) -> VolumeDataset:
            return VolumeDataset(index, rows, self.preprocess, self.cache_dir, self.with_reports)

        train, val, test = self.split_indices()
        self.full = subset(np.arange(len(index.paths)))
        self.splits = {"train": subset(train), "val": subset(val), "test": subset(test)}


class MedMNISTDataset(Dataset[dict[str, Any]]):
    """One split of a MedMNIST archive as contract samples.

    Images are resized per item (``torch.nn.functional.interpolate``: bilinear with
    anti-aliasing in 2D, trilinear in 3D) rather than all at once, so 64^3 archives are never
    held as float copies.

    Args:
        images: ``[N, H, W]``, ``[N, H, W, 3]`` or ``[N, D, H, W]``.
        labels: ``[N, K]`` integer labels.
        spatial_dims: 2 or 3.
        multilabel: Labels are 0/1 vectors (float32 targets) instead of one index.
        size: Resize every side to this many pixels, or ``None``.
    """

    def __init__(
        self,
        images: np.ndarray,
        labels: np.ndarray,
        spatial_dims: int,
        multilabel: bool,
        size: int | None = None,
    ) -> None:
        self.images, self.spatial_dims, self.size = images, spatial_dims, size
        if multilabel:
            self.targets = torch.from_numpy(labels.astype(np.float32))
        else:
            self.targets = torch.from_numpy(labels[:, 0].astype(np.int64))
        if np.issubdtype(images.dtype, np.integer):
            self.scale = 1.0 / float(np.iinfo(images.dtype).max)
        else:
            self.scale = 1.0

    def __len__(self) -> int:
        return len(self.images)

    def _values(self, index: int) -> Tensor:
        image = torch.from_numpy(np.asarray(self.images[index], dtype=np.float32) * self.scale)
        if self.spatial_dims == 2:
            image = image.permute(2, 0, 1) if image.ndim == 3 else image[None]
            if self.size is not None and tuple(image.shape[1:]) != (self.size, self.size):
                image = F.interpolate(
                    image[None],
                    size=(self.size, self.size),
                    mode="bilinear",
                    antialias=True,
                    align_corners=False,
                )[0]
        else:
            image = image[None]
            if self.size is not None and tuple(image.shape[1:]) != (self.size,) * 3:
                image = F.interpolate(
                    image[None], size=(self.size,) * 3, mode="trilinear", align_corners=False
                )[0]
        return image.clamp_(0.0, 1.0).contiguous()

    def __getitem__(self, index: int) -> dict[str, Any]:
        """``{"image": {"values", "spacing"}, "label"}`` (2D) or ``{"volume": {"values",
        "spacing", "affine"}, "label"}`` (3D); spacing is unknown, so ones."""
        values = self._values(index)
        if self.spatial_dims == 2:
            modality = {"image": {"values": values, "spacing": torch.ones(2)}}
        else:
            volume = {
                "values": values,
                "spacing": torch.ones(3),
                "affine": torch.eye(4, dtype=torch.float64),
            }
            modality = {"volume": volume}
        return {**modality, "label": self.targets[index]}


class MedMNISTDataModule(LabelledSplitsDataModule):
    """A MedMNIST ``.npz`` archive with its official train/val/test splits.

    2D archives give ``"image"`` samples (``values [C, H, W]`` in ``[0, 1]``, ``C`` 1 or 3,
    ``spacing [2]`` ones), 3D archives ``"volume"`` samples (``values [1, D, H, W]``,
    ``spacing [3]`` ones, identity ``affine``). Labels are int64 indices, or float32 0/1
    vectors for multi-label archives (ChestMNIST), with :attr:`task` ``"multilabel"``.

    Args:
        path: The ``.npz`` file.
        size: Resize every side to this many pixels (e.g. 64 or 224), or ``None``.
        batch_size: Samples per batch, per device.
        num_workers: DataLoader workers.
        seed: Seed of the training order.
        class_names: Name of each class (or finding), in label order; default ``"0"``,
            ``"1"``, ...

    Raises:
        ValueError: On a non-positive ``batch_size`` or ``size``, or negative ``num_workers``.
    """

    def __init__(
        self,
        path: str,
        size: int | None = None,
        batch_size: int = 64,
        num_workers: int = 0,
        seed: int = 0,
        class_names: list[str] | None = None,
    ) -> None:
        super().__init__(batch_size, num_workers, seed)
        if batch_size <= 0 or num_workers < 0 or (size is not None and size <= 0):
            raise ValueError(
                f"batch_size and size must be positive and num_workers >= 0, got "
                f"{batch_size}, {size}, {num_workers}"
            )
        self.save_hyperparameters()
        self.path = Path(path).expanduser()
        self.size = size
        self._class_names = tuple(class_names) if class_names is not None else None
        self.multilabel = False
        self._num_classes = 0

    @property
    def task(self) -> Task:
        """``"multilabel"``, ``"binary"`` or ``"multiclass"`` (after :meth:`setup`)."""
        if self.multilabel:
            return "multilabel"
        return "binary" if self.num_classes == 2 else "multiclass"

    @property
    def num_classes(self) -> int:
        """Classes (findings for multi-label archives), known after :meth:`setup`."""
        return len(self._class_names) if self._class_names else self._num_classes

    @property
    def class_names(self) -> tuple[str, ...]:
        """Name of each class index."""
        return self._class_names or tuple(str(i) for i in range(self._num_classes))

    def setup(self, stage: str | None = None) -> None:
        """Read the archive and build the three splits.

        Raises:
            FileNotFoundError: When the archive does not exist.
            ValueError: Naming the archive, when it is malformed or ``class_names`` does not
                match its labels.
        """
        if self.full is not None:
            return
        arrays = read_medmnist(self.path)
        self.multilabel = arrays.multilabel
        labels = np.concatenate(list(arrays.labels.values()))
        self._num_classes = labels.shape[1] if self.multilabel else int(labels.max()) + 1
        if self._class_names is not None and len(self._class_names) < self._num_classes:
            raise ValueError(
                f"{self.path}: {len(self._class_names)} class names for {self._num_classes} classes"
            )
        splits = {
            split: MedMNISTDataset(
                arrays.images[split],
                arrays.labels[split],
                arrays.spatial_dims,
                arrays.multilabel,
                self.size,
            )
            for split in ("train", "val", "test")
        }
        self.splits = dict(splits)
        self.full = ConcatDataset([splits["train"], splits["val"], splits["test"]])
