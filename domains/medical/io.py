"""Readers for medical images: NIfTI and DICOM volumes, radiographs, MedMNIST archives.

Every reader returns arrays in a fixed convention (volumes in canonical RAS+ voxel order with an
affine and spacing in millimetres, intensities in stored physical units such as Hounsfield
units) and turns a library's failure into a ``ValueError`` that names the file and the problem.
Files are decoded by the field's libraries (nibabel, pydicom, Pillow); what is written here is
only the glue they lack: DICOM slice sorting and geometry, and the canonical reorientation of an
array together with its affine.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np
import pydicom
import torch
from nibabel.filebasedimages import ImageFileError
from nibabel.orientations import apply_orientation, inv_ornt_aff, io_orientation
from nibabel.spatialimages import HeaderDataError
from PIL import Image, UnidentifiedImageError
from pydicom.errors import InvalidDicomError
from torch import Tensor

NIFTI_SUFFIXES = (".nii", ".nii.gz")
DICOM_SUFFIXES = (".dcm", ".dicom")
PIL_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp")
MEDMNIST_SPLITS = ("train", "val", "test")

LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0, 1.0])
"""DICOM patient coordinates (LPS+) to NIfTI world coordinates (RAS+)."""

_NIFTI_ERRORS = (
    ImageFileError,
    HeaderDataError,
    OSError,
    EOFError,
    ValueError,
    zlib.error,
    struct.error,
)
_DICOM_ERRORS = (
    InvalidDicomError,
    OSError,
    EOFError,
    ValueError,
    AttributeError,
    KeyError,
    TypeError,
    RuntimeError,
    NotImplementedError,
)
_GEOMETRY_TOLERANCE_MM = 0.05
"""Largest disagreement, in millimetres, between DICOM slices that share one geometry."""


@dataclass(frozen=True, eq=False)
class Volume:
    """A 3D image in canonical RAS+ voxel order.

    Attributes:
        values: ``[X, Y, Z]`` float32 intensities in stored physical units (HU for CT).
        affine: ``[4, 4]`` float64 map from voxel index to RAS+ millimetres.
        spacing: ``[3]`` float64 voxel size in millimetres (column norms of the affine).
        path: The file or folder it was read from, when known.
    """

    values: np.ndarray
    affine: np.ndarray
    spacing: np.ndarray
    path: Path | None = None

    @property
    def shape(self) -> tuple[int, int, int]:
        """``(X, Y, Z)``."""
        x, y, z = self.values.shape
        return int(x), int(y), int(z)

    def to_sample(self) -> dict[str, Tensor]:
        """The volume contract: ``values [1, X, Y, Z]`` float32, ``spacing [3]`` float32 and
        ``affine [4, 4]`` float64; values are as stored (normalise with
        :mod:`domains.medical.transforms` first)."""
        return {
            "values": torch.from_numpy(np.ascontiguousarray(self.values, np.float32)[None]),
            "spacing": torch.as_tensor(self.spacing, dtype=torch.float32),
            "affine": torch.as_tensor(self.affine, dtype=torch.float64),
        }


@dataclass(frozen=True, eq=False)
class Radiograph:
    """A 2D projection image.

    Attributes:
        values: ``[H, W]`` float32 intensities as stored (after the DICOM rescale; MONOCHROME1
            inverted so that higher always means brighter).
        spacing: ``[2]`` float64 pixel size in millimetres along H and W (1.0 when unknown).
        path: The file it was read from, when known.
    """

    values: np.ndarray
    spacing: np.ndarray
    path: Path | None = None

    def to_sample(self) -> dict[str, Tensor]:
        """The radiograph contract: ``values [1, H, W]`` float32 and ``spacing [2]`` float32."""
        return {
            "values": torch.from_numpy(np.ascontiguousarray(self.values, np.float32)[None]),
            "spacing": torch.as_tensor(self.spacing, dtype=torch.float32),
        }


@dataclass(frozen=True, eq=False)
class MedMNISTArrays:
    """The official splits of a MedMNIST ``.npz`` archive.

    Attributes:
        images: ``{split: array}``; 2D ``[N, H, W]`` or ``[N, H, W, 3]``, 3D ``[N, D, H, W]``.
        labels: ``{split: [N, K]}`` integer labels (``K = 1`` for single-label tasks, ``K > 1``
            0/1 columns for multi-label ones such as ChestMNIST).
        path: The archive.
    """

    images: dict[str, np.ndarray]
    labels: dict[str, np.ndarray]
    path: Path | None = field(default=None)

    @property
    def spatial_dims(self) -> int:
        """2 for images, 3 for volumes."""
        image = self.images["train"]
        return 2 if image.ndim == 3 or (image.ndim == 4 and image.shape[-1] == 3) else 3

    @property
    def channels(self) -> int:
        """Colour channels of a 2D image (1 or 3); 1 for volumes."""
        image = self.images["train"]
        return 3 if self.spatial_dims == 2 and image.ndim == 4 else 1

    @property
    def multilabel(self) -> bool:
        """Whether labels are 0/1 vectors over several findings."""
        return self.labels["train"].shape[1] > 1


def spacing_of(affine: np.ndarray) -> np.ndarray:
    """Voxel size in millimetres along each array axis: the column norms of ``affine[:3, :3]``."""
    return np.linalg.norm(np.asarray(affine, dtype=np.float64)[:3, :3], axis=0)


def to_canonical(values: np.ndarray, affine: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Permute and flip a 3D array into the RAS+ voxel order closest to its affine.

    The same operation as ``nibabel.as_closest_canonical`` on an array: oblique affines keep
    their rotation, but every array axis then points mostly along +R, +A, +S.

    Args:
        values: ``[X, Y, Z]`` array.
        affine: Its ``[4, 4]`` voxel-to-RAS+ affine.

    Returns:
        ``(values, affine)`` in canonical order (values copied only when reordered).
    """
    orientation = io_orientation(affine)
    if np.array_equal(orientation, [[0, 1], [1, 1], [2, 1]]):
        return values, np.asarray(affine, dtype=np.float64)
    reordered = apply_orientation(values, orientation)
    new_affine = np.asarray(affine, dtype=np.float64) @ inv_ornt_aff(orientation, values.shape)
    return np.ascontiguousarray(reordered), new_affine


def _finite_volume(values: np.ndarray, affine: np.ndarray, path: Path) -> Volume:
    bad = int(np.size(values) - np.count_nonzero(np.isfinite(values)))
    if bad:
        raise ValueError(f"{path}: {bad} voxels are NaN or infinite")
    spacing = spacing_of(affine)
    if not np.all(np.isfinite(affine)) or np.any(spacing <= 0):
        raise ValueError(f"{path}: degenerate affine (voxel sizes {spacing.tolist()})")
    return Volume(values.astype(np.float32, copy=False), affine, spacing, path)


def read_nifti(path: str | Path, frame: int = 0) -> Volume:
    """Read a NIfTI-1/2 volume into canonical RAS+ order, in stored physical units.

    ``scl_slope``/``scl_inter`` are applied. A 2D image becomes one slice; for a 4D series
    (fMRI, multi-phase) ``frame`` picks the volume; trailing singleton axes are dropped.

    Args:
        path: A ``.nii`` or ``.nii.gz`` file.
        frame: Index along the fourth axis of a 4D file.

    Returns:
        The :class:`Volume` (spacing from the canonical affine's column norms).

    Raises:
        FileNotFoundError: When ``path`` does not exist.
        ValueError: Naming the file, when it is not a readable NIfTI image (not an image,
            truncated or corrupt compression), has more than 4 non-singleton axes, ``frame``
            is out of range, or holds NaN/infinite values.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"NIfTI file {path} does not exist")
    try:
        image: Any = nib.load(path)
        if not isinstance(image, nib.Nifti1Image | nib.Nifti2Image):
            raise ValueError(f"a {type(image).__name__}, not a NIfTI image")
        shape = tuple(int(s) for s in image.shape)
        while len(shape) > 3 and shape[-1] == 1:
            shape = shape[:-1]
        if len(shape) < 2 or len(shape) > 4:
            raise ValueError(f"shape {tuple(image.shape)} is not a 2D, 3D or 4D image")
        if len(shape) == 4 and not 0 <= frame < shape[3]:
            raise ValueError(f"frame {frame} out of range for a 4D series of {shape[3]} frames")
        proxy = image.dataobj
        if len(image.shape) >= 4:
            index: list[slice | int] = [slice(None)] * 3 + [frame if len(shape) == 4 else 0]
            index += [0] * (len(image.shape) - 4)
            data = np.asarray(proxy[tuple(index)], dtype=np.float32)
        else:
            data = np.asarray(image.get_fdata(dtype=np.float32))
        affine = np.asarray(image.affine, dtype=np.float64)
    except _NIFTI_ERRORS as error:
        raise ValueError(f"{path}: not a readable NIfTI image ({error})") from error
    if data.ndim == 2:
        data = data[:, :, None]
    values, affine = to_canonical(data, affine)
    return _finite_volume(values, affine, path)


def _is_dicom_file(path: Path) -> bool:
    """``DICM`` at byte 128 (Part 10 files) or a ``.dcm`` suffix."""
    if path.suffix.lower() in DICOM_SUFFIXES:
        return True
    try:
        with open(path, "rb") as file:
            file.seek(128)
            return file.read(4) == b"DICM"
    except OSError:
        return False


def _floats(value: Any, count: int, what: str, source: Path) -> np.ndarray:
    try:
        array = np.array([float(v) for v in value], dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{source}: invalid {what} {value!r}") from error
    if array.shape != (count,) or not np.all(np.isfinite(array)):
        raise ValueError(f"{source}: {what} needs {count} finite numbers, got {value!r}")
    return array


@dataclass
class _Slice:
    """One DICOM frame with its geometry (LPS+ millimetres)."""

    pixels: np.ndarray  # [rows, columns] float32, rescaled
    position: np.ndarray  # [3] centre of the first transmitted pixel
    orientation: np.ndarray  # [6] row direction, column direction
    pixel_spacing: np.ndarray  # [2] between rows, between columns
    thickness: float
    source: Path


def _attribute(datasets: Sequence[Any], name: str) -> Any:
    """The first non-empty value of ``name`` in the given datasets (or functional groups)."""
    for dataset in datasets:
        if dataset is not None and name in dataset:
            value = dataset.get(name)
            if value is not None and value != "":
                return value
    return None


def _group_item(dataset: Any, sequence: str) -> Any:
    """The first item of a functional-group ``sequence`` of ``dataset``, or ``None``."""
    if dataset is None or sequence not in dataset or not len(dataset.get(sequence)):
        return None
    return dataset.get(sequence)[0]


def _rescale(datasets: Sequence[Any]) -> tuple[float, float]:
    """``(slope, intercept)`` of the modality rescale (RT dose grids: ``DoseGridScaling``)."""
    slope = _attribute(datasets, "RescaleSlope")
    if slope is None:
        slope = _attribute(datasets, "DoseGridScaling")
    intercept = _attribute(datasets, "RescaleIntercept")
    return float(slope if slope is not None else 1.0), float(intercept or 0.0)


def _slices_of(path: Path) -> tuple[list[_Slice], str | None]:
    """Every frame of one DICOM file, rescaled, with its geometry.

    Enhanced multi-frame files give each frame's geometry in the per-frame (else shared)
    functional groups; legacy multi-frame files (RT dose, NM) step along the slice normal by
    ``GridFrameOffsetVector``.
    """
    try:
        ds = pydicom.dcmread(path)
        if "PixelData" not in ds:
            raise ValueError("no pixel data")
        if int(ds.get("SamplesPerPixel", 1)) != 1:
            colour = ds.get("PhotometricInterpretation")
            raise ValueError(f"a colour image ({colour}), not a CT/MR slice")
        pixels = np.asarray(ds.pixel_array)
        frames = int(ds.get("NumberOfFrames", 1) or 1)
        pixels = pixels.reshape(frames, int(ds.Rows), int(ds.Columns))
    except _DICOM_ERRORS as error:
        raise ValueError(f"{path}: not a readable DICOM image ({error})") from error
    shared = _group_item(ds, "SharedFunctionalGroupsSequence")
    per_frame = ds.get("PerFrameFunctionalGroupsSequence")
    offsets = ds.get("GridFrameOffsetVector")
    slices = []
    for k in range(frames):
        own = per_frame[k] if per_frame is not None and k < len(per_frame) else None

        def groups(sequence: str, own: Any = own) -> list[Any]:
            return [_group_item(own, sequence), _group_item(shared, sequence), ds]

        position = _attribute(groups("PlanePositionSequence"), "ImagePositionPatient")
        orientation = _attribute(groups("PlaneOrientationSequence"), "ImageOrientationPatient")
        measures = groups("PixelMeasuresSequence")
        pixel_spacing = (
            _attribute(measures, "PixelSpacing")
            or _attribute([ds], "ImagerPixelSpacing")
            or [1.0, 1.0]
        )
        thickness = _attribute(measures, "SpacingBetweenSlices") or _attribute(
            measures, "SliceThickness"
        )
        slope, intercept = _rescale(groups("PixelValueTransformationSequence"))
        if position is None or orientation is None:
            if frames > 1:
                raise ValueError(f"{path}: frames lack ImagePositionPatient/Orientation")
            position, orientation = [0.0, 0.0, 0.0], [1.0, 0.0, 0.0, 0.0, 1.0, 0.0]
        origin = _floats(position, 3, "ImagePositionPatient", path)
        cosines = _floats(orientation, 6, "ImageOrientationPatient", path)
        if offsets is not None and per_frame is None and frames > 1:
            origin = origin + np.cross(cosines[:3], cosines[3:]) * float(offsets[k])
        slices.append(
            _Slice(
                pixels=pixels[k].astype(np.float32) * np.float32(slope) + np.float32(intercept),
                position=origin,
                orientation=cosines,
                pixel_spacing=_floats(pixel_spacing, 2, "PixelSpacing", path),
                thickness=float(thickness) if thickness else 0.0,
                source=path,
            )
        )
    return slices, ds.get("SeriesInstanceUID")


def _series_files(folder: Path) -> list[Path]:
    if folder.is_file():
        return [folder]
    if not folder.is_dir():
        raise FileNotFoundError(f"DICOM folder {folder} does not exist")
    files = sorted(
        p
        for p in folder.iterdir()
        if p.is_file() and not p.name.startswith(".") and p.name.upper() != "DICOMDIR"
    )
    files = [p for p in files if _is_dicom_file(p)]
    if not files:
        raise ValueError(f"{folder}: holds no DICOM files")
    return files


def _check_geometry(slices: list[_Slice], folder: Path) -> None:
    first = slices[0]
    for item in slices[1:]:
        if item.pixels.shape != first.pixels.shape:
            raise ValueError(
                f"{folder}: inconsistent slice geometry: {item.source.name} is "
                f"{item.pixels.shape}, {first.source.name} is {first.pixels.shape}"
            )
        if not np.allclose(item.orientation, first.orientation, atol=1e-3):
            raise ValueError(
                f"{folder}: inconsistent slice geometry: ImageOrientationPatient of "
                f"{item.source.name} differs from {first.source.name}"
            )
        if not np.allclose(item.pixel_spacing, first.pixel_spacing, atol=1e-3):
            raise ValueError(
                f"{folder}: inconsistent slice geometry: PixelSpacing of {item.source.name} "
                f"differs from {first.source.name}"
            )


def read_dicom_series(folder: str | Path) -> Volume:
    """Read one DICOM series (a folder of slices, or one single- or multi-frame file).

    Frames are sorted by ``ImagePositionPatient`` projected on the slice normal (the cross
    product of the ``ImageOrientationPatient`` row and column directions); each frame gets its
    own ``RescaleSlope``/``RescaleIntercept`` (HU for CT). The voxel-to-LPS affine is built from
    the orientation, ``PixelSpacing`` and the first and last slice positions (so gantry tilt is
    kept), turned into RAS+ and reordered to canonical RAS+ voxel order. A single slice gets
    ``SpacingBetweenSlices``, else ``SliceThickness``, else 1 mm along the normal. Files not
    starting with the DICOM preamble (and without a ``.dcm`` suffix) are ignored.

    Args:
        folder: A folder holding the files of one series, or one DICOM file.

    Returns:
        The :class:`Volume`.

    Raises:
        FileNotFoundError: When ``folder`` does not exist.
        ValueError: Naming the folder or file, when it holds no DICOM files, files of several
            series, unreadable or colour images, or slices of inconsistent geometry (sizes,
            orientations or pixel spacings that differ, duplicate positions, uneven gaps).
    """
    folder = Path(folder)
    files = _series_files(folder)
    slices: list[_Slice] = []
    series: dict[str, list[str]] = {}
    for path in files:
        frames, uid = _slices_of(path)
        slices.extend(frames)
        series.setdefault(str(uid), []).append(path.name)
    if len(series) > 1:
        listing = "; ".join(f"{uid}: {len(names)} files" for uid, names in series.items())
        raise ValueError(
            f"{folder}: files of {len(series)} series (SeriesInstanceUID) mixed: {listing}"
        )
    _check_geometry(slices, folder)
    first = slices[0]
    row, column = first.orientation[:3], first.orientation[3:]
    normal = np.cross(row, column)
    if not np.isclose(np.linalg.norm(normal), 1.0, atol=1e-2):
        raise ValueError(
            f"{folder}: ImageOrientationPatient {first.orientation.tolist()} is "
            "not two orthogonal unit vectors"
        )
    depth = np.array([s.position @ normal for s in slices])
    order = np.argsort(depth, kind="stable")
    slices = [slices[i] for i in order]
    first, depth = slices[0], depth[order]
    if len(slices) > 1:
        gaps = np.diff(depth)
        if np.any(gaps < _GEOMETRY_TOLERANCE_MM):
            duplicate = int(np.argmax(gaps < _GEOMETRY_TOLERANCE_MM))
            raise ValueError(
                f"{folder}: inconsistent slice geometry: {slices[duplicate].source.name} and "
                f"{slices[duplicate + 1].source.name} share a slice position (several echoes, "
                "phases or series?)"
            )
        step = (slices[-1].position - slices[0].position) / (len(slices) - 1)
        expected = slices[0].position + np.arange(len(slices))[:, None] * step
        positions = np.stack([s.position for s in slices])
        error = np.abs(positions - expected).max()
        if error > max(_GEOMETRY_TOLERANCE_MM, 0.05 * np.linalg.norm(step)):
            raise ValueError(
                f"{folder}: inconsistent slice geometry: slice positions deviate up to "
                f"{error:.2f} mm from even spacing of {np.linalg.norm(step):.2f} mm "
                "(missing slices?)"
            )
    else:
        step = normal * (first.thickness if first.thickness > 0 else 1.0)
    row_spacing, column_spacing = first.pixel_spacing
    affine = np.eye(4)
    affine[:3, 0] = row * column_spacing  # array axis 0 runs along a row (over columns)
    affine[:3, 1] = column * row_spacing  # array axis 1 runs down a column (over rows)
    affine[:3, 2] = step
    affine[:3, 3] = first.position
    affine = LPS_TO_RAS @ affine
    values = np.stack([s.pixels.T for s in slices], axis=-1)  # [columns, rows, slices]
    values, affine = to_canonical(values, affine)
    return _finite_volume(values, affine, folder)


def read_volume(path: str | Path) -> Volume:
    """Read a NIfTI file or a DICOM series (folder or file), chosen by the path.

    Raises:
        FileNotFoundError: When ``path`` does not exist.
        ValueError: Naming the path, when its format is unknown or it is unreadable.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"volume {path} does not exist")
    name = path.name.lower()
    if path.is_file() and name.endswith(NIFTI_SUFFIXES):
        return read_nifti(path)
    if path.is_dir() or _is_dicom_file(path):
        return read_dicom_series(path)
    raise ValueError(f"{path}: unknown volume format (expected .nii, .nii.gz or DICOM)")


def _read_dicom_radiograph(path: Path) -> Radiograph:
    try:
        ds = pydicom.dcmread(path)
        if "PixelData" not in ds:
            raise ValueError("no pixel data")
        pixels = np.asarray(ds.pixel_array, dtype=np.float32)
    except _DICOM_ERRORS as error:
        raise ValueError(f"{path}: not a readable DICOM image ({error})") from error
    if int(ds.get("SamplesPerPixel", 1)) == 3 and pixels.ndim == 3:
        pixels = pixels @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    if pixels.ndim != 2:
        raise ValueError(f"{path}: a radiograph needs one 2D frame, got pixel array {pixels.shape}")
    slope, intercept = _rescale([ds])
    values = pixels * np.float32(slope) + np.float32(intercept)
    if str(ds.get("PhotometricInterpretation", "")).upper() == "MONOCHROME1":
        values = values.max() + values.min() - values
    spacing_value = ds.get("PixelSpacing") or ds.get("ImagerPixelSpacing")
    spacing = (
        _floats(spacing_value, 2, "PixelSpacing", path)
        if spacing_value
        else np.ones(2, dtype=np.float64)
    )
    if np.any(spacing <= 0):
        raise ValueError(f"{path}: non-positive pixel spacing {spacing.tolist()}")
    return Radiograph(values.astype(np.float32), spacing, path)


def read_radiograph(path: str | Path) -> Radiograph:
    """Read a radiograph from DICOM or an ordinary image file (PNG, JPEG, TIFF, BMP).

    DICOM: the rescale is applied, ``MONOCHROME1`` is inverted, colour is converted to
    luminance, and spacing comes from ``PixelSpacing`` or ``ImagerPixelSpacing`` (1 mm when
    absent). Image files are read as grayscale (16-bit PNGs keep their range) with 1 mm spacing.

    Args:
        path: The image file.

    Returns:
        The :class:`Radiograph`.

    Raises:
        FileNotFoundError: When ``path`` does not exist.
        ValueError: Naming the file, when it is not a readable image or not a single 2D frame.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"radiograph {path} does not exist")
    if _is_dicom_file(path):
        return _read_dicom_radiograph(path)
    try:
        with Image.open(path) as image:
            frames = int(getattr(image, "n_frames", 1))
            if frames > 1:
                raise ValueError(f"{frames} frames, not one image")
            if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
                values = np.asarray(image, dtype=np.float32)
            else:
                values = np.asarray(image.convert("L"), dtype=np.float32)
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as error:
        raise ValueError(f"{path}: not a readable image ({error})") from error
    if values.ndim != 2:
        raise ValueError(f"{path}: expected a 2D grayscale image, got shape {values.shape}")
    return Radiograph(values, np.ones(2, dtype=np.float64), path)


def read_medmnist(path: str | Path) -> MedMNISTArrays:
    """Read a MedMNIST ``.npz`` archive (``{train,val,test}_{images,labels}``).

    Args:
        path: The archive.

    Returns:
        The :class:`MedMNISTArrays`, labels reshaped to ``[N, K]``.

    Raises:
        FileNotFoundError: When ``path`` does not exist.
        ValueError: Naming the file, when it is not a readable ``.npz``, misses keys, or
            holds images of unexpected dimensions or labels that do not match them.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"MedMNIST archive {path} does not exist")
    try:
        with np.load(path, allow_pickle=False) as archive:
            keys = set(archive.files)
            wanted = [f"{s}_{k}" for s in MEDMNIST_SPLITS for k in ("images", "labels")]
            missing = [key for key in wanted if key not in keys]
            if missing:
                raise ValueError(f"missing keys {missing}; found {sorted(keys)}")
            arrays = {key: archive[key] for key in wanted}
    except (OSError, EOFError, ValueError, zlib.error) as error:
        raise ValueError(f"{path}: not a MedMNIST archive ({error})") from error
    images = {s: arrays[f"{s}_images"] for s in MEDMNIST_SPLITS}
    labels: dict[str, np.ndarray] = {}
    for split in MEDMNIST_SPLITS:
        image, label = images[split], arrays[f"{split}_labels"]
        if image.ndim not in (3, 4):
            raise ValueError(
                f"{path}: {split}_images has shape {image.shape}; expected [N, H, W], "
                "[N, H, W, 3] or [N, D, H, W]"
            )
        if image.shape[1:] != images["train"].shape[1:]:
            raise ValueError(
                f"{path}: {split}_images is {image.shape[1:]} per sample but "
                f"train_images is {images['train'].shape[1:]}"
            )
        label = label.reshape(len(label), -1) if label.ndim != 2 else label
        if len(label) != len(image):
            raise ValueError(f"{path}: {len(image)} {split}_images but {len(label)} labels")
        if not np.issubdtype(label.dtype, np.integer) and not np.all(label == np.round(label)):
            raise ValueError(f"{path}: {split}_labels are not integers")
        labels[split] = label.astype(np.int64)
    if len({labels[s].shape[1] for s in MEDMNIST_SPLITS}) != 1:
        raise ValueError(f"{path}: label widths differ between splits")
    return MedMNISTArrays(images, labels, path)
