"""Readers: NIfTI, DICOM series, radiographs and MedMNIST archives, and their errors."""

from __future__ import annotations

import gzip
import re
from pathlib import Path

import nibabel as nib
import numpy as np
import pydicom
import pytest
from nibabel.testing import data_path
from PIL import Image
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

from domains.medical.io import (
    read_dicom_series,
    read_medmnist,
    read_nifti,
    read_radiograph,
    read_volume,
)

NIBABEL_DATA = Path(data_path)


def _pydicom_file(name: str) -> Path:
    path = get_testdata_file(name, download=False)  # never the network
    if path is None:
        pytest.skip(f"pydicom test file {name} is not installed")
    return Path(str(path))


def _ras_axcodes(affine: np.ndarray) -> tuple[str, ...]:
    return tuple(nib.aff2axcodes(affine))


# NIfTI ------------------------------------------------------------------------------------


def test_nibabel_example_files_load_with_spacing() -> None:
    anatomical = read_nifti(NIBABEL_DATA / "anatomical.nii")
    assert anatomical.shape == (33, 41, 25)
    np.testing.assert_allclose(anatomical.spacing, [2.0, 2.0, 2.0])
    assert _ras_axcodes(anatomical.affine) == ("R", "A", "S")  # stored LAS, read canonical
    reference = nib.as_closest_canonical(nib.load(NIBABEL_DATA / "anatomical.nii"))
    np.testing.assert_array_equal(anatomical.values, reference.get_fdata(dtype=np.float32))
    np.testing.assert_allclose(anatomical.affine, reference.affine)

    series = read_nifti(NIBABEL_DATA / "example4d.nii.gz")  # 4D: the first frame
    assert series.shape == (128, 96, 24)
    assert series.values.dtype == np.float32 and series.affine.dtype == np.float64
    np.testing.assert_allclose(series.spacing, [2.0, 2.0, 2.2], atol=1e-5)
    second = read_nifti(NIBABEL_DATA / "example4d.nii.gz", frame=1)
    assert not np.array_equal(second.values, series.values)
    with pytest.raises(ValueError, match=r"example4d\.nii\.gz.*frame 2 out of range"):
        read_nifti(NIBABEL_DATA / "example4d.nii.gz", frame=2)


def test_permuted_flipped_affine_reads_back_canonical(tmp_path: Path) -> None:
    data = np.zeros((6, 7, 8), dtype=np.int16)
    data[1, 2, 3] = 500
    # voxel axis 0 -> posterior (1.5 mm), axis 1 -> superior (2 mm), axis 2 -> left (3 mm)
    affine = np.array(
        [[0, 0, -3.0, 40], [-1.5, 0, 0, 10], [0, 2.0, 0, -5], [0, 0, 0, 1]], dtype=np.float64
    )
    nib.save(nib.Nifti1Image(data, affine), tmp_path / "odd.nii.gz")
    volume = read_nifti(tmp_path / "odd.nii.gz")
    assert _ras_axcodes(volume.affine) == ("R", "A", "S")
    assert volume.shape == (8, 6, 7)
    np.testing.assert_allclose(volume.spacing, [3.0, 1.5, 2.0])
    bright = np.argwhere(volume.values == 500)
    assert len(bright) == 1
    expected_world = affine @ np.array([1, 2, 3, 1.0])
    np.testing.assert_allclose(volume.affine @ np.append(bright[0], 1.0), expected_world)


def test_scaling_2d_and_non_finite(tmp_path: Path) -> None:
    raw = np.arange(24, dtype=np.uint16).reshape(2, 3, 4)
    image = nib.Nifti1Image(raw, np.eye(4))
    image.header.set_slope_inter(2.0, -1024.0)
    nib.save(image, tmp_path / "scaled.nii")
    np.testing.assert_array_equal(read_nifti(tmp_path / "scaled.nii").values, raw * 2.0 - 1024)

    nib.save(nib.Nifti1Image(np.ones((5, 4), np.float32), np.eye(4)), tmp_path / "flat.nii.gz")
    assert read_nifti(tmp_path / "flat.nii.gz").shape == (5, 4, 1)

    bad = np.zeros((3, 3, 3), np.float32)
    bad[0, 0, 0] = np.nan
    nib.save(nib.Nifti1Image(bad, np.eye(4)), tmp_path / "nan.nii.gz")
    with pytest.raises(ValueError, match=r"nan\.nii\.gz: 1 voxels are NaN"):
        read_nifti(tmp_path / "nan.nii.gz")


def test_bad_nifti_files_name_the_file(tmp_path: Path) -> None:
    good = tmp_path / "good.nii.gz"
    nib.save(nib.Nifti1Image(np.random.default_rng(0).normal(size=(20, 20, 20)), np.eye(4)), good)
    truncated = tmp_path / "truncated.nii.gz"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    text = tmp_path / "notes.nii.gz"
    text.write_text("this is not an image")
    header_only = tmp_path / "short.nii.gz"
    header_only.write_bytes(gzip.compress(b"\x00" * 100))
    for path in (truncated, text, header_only):
        with pytest.raises(ValueError, match=re.escape(path.name)):
            read_nifti(path)
    with pytest.raises(FileNotFoundError, match=r"missing\.nii"):
        read_nifti(tmp_path / "missing.nii")
    other = tmp_path / "volume.mha"
    other.write_text("x")
    with pytest.raises(ValueError, match=r"volume\.mha: unknown volume format"):
        read_volume(other)


# DICOM ------------------------------------------------------------------------------------


def test_pydicom_ct_and_mr_apply_rescale() -> None:
    path = _pydicom_file("CT_small.dcm")
    ds = pydicom.dcmread(path)
    hu = ds.pixel_array * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
    volume = read_dicom_series(path)
    assert volume.shape == (128, 128, 1)
    np.testing.assert_allclose(volume.spacing, [0.661468, 0.661468, 5.0])
    assert _ras_axcodes(volume.affine) == ("R", "A", "S")
    # identity LPS orientation: columns run to the patient's left, rows to posterior
    np.testing.assert_array_equal(volume.values[:, :, 0], hu.T[::-1, ::-1])
    position = [float(v) for v in ds.ImagePositionPatient]  # first pixel, LPS
    first_pixel = volume.affine @ np.array([127, 127, 0, 1.0])
    np.testing.assert_allclose(first_pixel[:3], [-position[0], -position[1], position[2]])

    radiograph = read_radiograph(path)
    np.testing.assert_array_equal(radiograph.values, hu)
    np.testing.assert_allclose(radiograph.spacing, [0.661468, 0.661468])
    sample = radiograph.to_sample()
    assert sample["values"].shape == (1, 128, 128) and sample["spacing"].shape == (2,)

    mr_path = _pydicom_file("MR_small.dcm")
    mr = read_dicom_series(mr_path)
    np.testing.assert_array_equal(
        mr.values[:, :, 0], pydicom.dcmread(mr_path).pixel_array.T[::-1, ::-1]
    )
    np.testing.assert_allclose(mr.spacing, [0.3125, 0.3125, 0.8])


def test_multiframe_dicom_file() -> None:
    dose = read_dicom_series(_pydicom_file("rtdose.dcm"))  # 15 frames, GridFrameOffsetVector
    assert dose.shape == (10, 10, 15)
    np.testing.assert_allclose(dose.spacing, [10.0, 10.0, 5.0])


def _write_series(
    folder: Path,
    array: np.ndarray,
    row: np.ndarray,
    column: np.ndarray,
    origin: np.ndarray,
    pixel_spacing: tuple[float, float],
    step: float,
    series_uid: str | None = None,
    slope: float = 1.0,
    intercept: float = -1024.0,
    seed: int = 0,
) -> list[Path]:
    """Write ``array[col, row, slice]`` as one CT file per slice, in shuffled file order."""
    folder.mkdir(parents=True, exist_ok=True)
    series_uid = series_uid or generate_uid()
    normal = np.cross(row, column)
    names = np.random.default_rng(seed).permutation(array.shape[2])
    paths = []
    for k in range(array.shape[2]):
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = CTImageStorage
        meta.MediaStorageSOPInstanceUID = generate_uid()
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds = Dataset()
        ds.file_meta = meta
        ds.SOPClassUID = CTImageStorage
        ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
        ds.SeriesInstanceUID = series_uid
        ds.Modality = "CT"
        ds.Rows, ds.Columns = array.shape[1], array.shape[0]
        ds.SamplesPerPixel = 1
        ds.PhotometricInterpretation = "MONOCHROME2"
        ds.BitsAllocated = ds.BitsStored = 16
        ds.HighBit = 15
        ds.PixelRepresentation = 1
        ds.ImageOrientationPatient = [f"{v:.8f}" for v in (*row, *column)]
        ds.ImagePositionPatient = [f"{v:.6f}" for v in origin + k * step * normal]
        ds.PixelSpacing = [f"{v}" for v in pixel_spacing]
        ds.SliceThickness = f"{step}"
        ds.RescaleSlope, ds.RescaleIntercept = f"{slope}", f"{intercept}"
        ds.PixelData = np.ascontiguousarray(array[:, :, k].T.astype(np.int16)).tobytes()
        path = folder / f"IM{names[k]:04d}"  # no suffix: recognised by the DICM preamble
        ds.save_as(path, enforce_file_format=True)
        paths.append(path)
    return paths


def _oblique() -> tuple[np.ndarray, np.ndarray]:
    """A sagittal-ish plane tilted by 20 degrees."""
    angle = np.deg2rad(20)
    row = np.array([0.0, np.cos(angle), np.sin(angle)])
    column = np.array([0.0, np.sin(angle), -np.cos(angle)])
    return row, column


def test_written_series_reads_back_exactly(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    array = rng.integers(0, 2000, size=(7, 5, 6)).astype(np.int16)  # [columns, rows, slices]
    row, column = _oblique()
    origin = np.array([-20.0, 35.0, 110.0])
    _write_series(
        tmp_path / "series",
        array,
        row,
        column,
        origin,
        (0.9, 0.7),
        2.5,
        slope=0.5,
        intercept=-1000.0,
    )
    volume = read_volume(tmp_path / "series")  # a folder: DICOM
    assert volume.shape == (6, 7, 5)  # slices go left-right, rows mostly inferior-superior
    assert _ras_axcodes(volume.affine) == ("R", "A", "S")
    np.testing.assert_allclose(volume.spacing, [2.5, 0.7, 0.9], atol=1e-5)
    normal = np.cross(row, column)
    lps_to_ras = np.array([-1.0, -1.0, 1.0])
    inverse = np.linalg.inv(volume.affine)
    for c, r, k in np.ndindex(*array.shape):
        lps = origin + c * 0.7 * row + r * 0.9 * column + k * 2.5 * normal
        index = inverse @ np.append(lps * lps_to_ras, 1.0)
        np.testing.assert_allclose(index[:3], np.round(index[:3]), atol=1e-3)
        i, j, m = np.round(index[:3]).astype(int)
        assert volume.values[i, j, m] == array[c, r, k] * 0.5 - 1000.0


def test_single_slice_and_bad_series(tmp_path: Path) -> None:
    row, column = np.array([1.0, 0, 0]), np.array([0, 1.0, 0])
    array = np.arange(12, dtype=np.int16).reshape(4, 3, 1)
    paths = _write_series(tmp_path / "one", array, row, column, np.zeros(3), (1.0, 1.0), 3.0)
    single = read_dicom_series(paths[0])
    np.testing.assert_allclose(single.spacing, [1.0, 1.0, 3.0])  # SliceThickness

    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "readme.txt").write_text("no images here")
    with pytest.raises(ValueError, match=r"empty: holds no DICOM files"):
        read_dicom_series(tmp_path / "empty")

    stack = np.zeros((4, 3, 3), np.int16)
    _write_series(tmp_path / "mixed", stack, row, column, np.zeros(3), (1.0, 1.0), 2.0)
    _write_series(
        tmp_path / "mixed",
        stack[:, :, :1],
        row,
        column,
        np.array([0, 0, 50.0]),
        (1.0, 1.0),
        2.0,
        seed=9,
    )
    with pytest.raises(ValueError, match=r"mixed: files of 2 series"):
        read_dicom_series(tmp_path / "mixed")

    paths = _write_series(
        tmp_path / "gap", np.zeros((4, 3, 5), np.int16), row, column, np.zeros(3), (1.0, 1.0), 2.0
    )
    positions = [float(pydicom.dcmread(p).ImagePositionPatient[2]) for p in paths]
    paths[int(np.argsort(positions)[2])].unlink()  # a missing middle slice
    with pytest.raises(ValueError, match=r"gap: inconsistent slice geometry.*missing slices"):
        read_dicom_series(tmp_path / "gap")

    broken = tmp_path / "broken"
    broken.mkdir()
    source = _pydicom_file("MR_truncated.dcm")
    (broken / "slice.dcm").write_bytes(source.read_bytes())
    with pytest.raises(ValueError, match=r"slice\.dcm: not a readable DICOM image"):
        read_dicom_series(broken)


# Radiographs ------------------------------------------------------------------------------


def test_radiograph_png_and_errors(tmp_path: Path) -> None:
    pixels = np.tile(np.arange(0, 250, 10, dtype=np.uint8), (12, 1))
    Image.fromarray(pixels).save(tmp_path / "xray.png")
    radiograph = read_radiograph(tmp_path / "xray.png")
    np.testing.assert_array_equal(radiograph.values, pixels.astype(np.float32))
    np.testing.assert_array_equal(radiograph.spacing, [1.0, 1.0])

    deep = (np.arange(20, dtype=np.uint16) * 3000).reshape(4, 5)
    Image.fromarray(deep).save(tmp_path / "deep.png")
    assert read_radiograph(tmp_path / "deep.png").values.max() == 57000.0

    Image.fromarray(np.full((4, 4, 3), [255, 0, 0], dtype=np.uint8)).save(tmp_path / "rgb.jpg")
    assert read_radiograph(tmp_path / "rgb.jpg").values.shape == (4, 4)

    (tmp_path / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    with pytest.raises(ValueError, match=r"bad\.png: not a readable image"):
        read_radiograph(tmp_path / "bad.png")


def test_monochrome1_radiograph_is_inverted(tmp_path: Path) -> None:
    array = np.arange(12, dtype=np.int16).reshape(4, 3, 1)
    path = _write_series(
        tmp_path,
        array,
        np.array([1.0, 0, 0]),
        np.array([0, 1.0, 0]),
        np.zeros(3),
        (0.2, 0.3),
        1.0,
        intercept=0.0,
    )[0]
    ds = pydicom.dcmread(path)
    ds.PhotometricInterpretation = "MONOCHROME1"
    del ds.PixelSpacing
    ds.ImagerPixelSpacing = ["0.15", "0.15"]
    ds.save_as(path, enforce_file_format=True)
    radiograph = read_radiograph(path)
    np.testing.assert_array_equal(radiograph.values, 11.0 - array[:, :, 0].T)
    np.testing.assert_allclose(radiograph.spacing, [0.15, 0.15])


# MedMNIST ---------------------------------------------------------------------------------


def test_medmnist_layouts_and_missing_keys(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    arrays = {}
    for split, n in (("train", 6), ("val", 2), ("test", 3)):
        arrays[f"{split}_images"] = rng.integers(0, 255, (n, 28, 28, 3), dtype=np.uint8)
        arrays[f"{split}_labels"] = rng.integers(0, 9, (n, 1))
    np.savez(tmp_path / "rgb.npz", **arrays)
    rgb = read_medmnist(tmp_path / "rgb.npz")
    assert rgb.spatial_dims == 2 and rgb.channels == 3 and not rgb.multilabel
    assert rgb.labels["val"].shape == (2, 1) and rgb.labels["val"].dtype == np.int64

    volumes = {
        k: (rng.integers(0, 255, (len(v), 8, 8, 8), dtype=np.uint8) if "images" in k else v)
        for k, v in arrays.items()
    }
    np.savez(tmp_path / "volumes.npz", **volumes)
    assert read_medmnist(tmp_path / "volumes.npz").spatial_dims == 3

    del arrays["test_labels"]
    np.savez(tmp_path / "partial.npz", **arrays)
    with pytest.raises(ValueError, match=r"partial\.npz.*missing keys \['test_labels'\]"):
        read_medmnist(tmp_path / "partial.npz")
    (tmp_path / "junk.npz").write_text("not a zip")
    with pytest.raises(ValueError, match=r"junk\.npz: not a MedMNIST archive"):
        read_medmnist(tmp_path / "junk.npz")
