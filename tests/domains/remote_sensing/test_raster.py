"""Reading windows with rasterio: nodata masks, resampling, grids and errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio
import torch
from affine import Affine
from rasterio.enums import Resampling
from rasterio.windows import Window

from domains.remote_sensing.raster import RasterMismatchError, check_aligned, read_window

X0, Y0 = 500_000.0, 4_000_000.0


def write_tif(
    path: Path,
    data: np.ndarray,
    res: float = 10.0,
    nodata: float | None = None,
    crs: str = "EPSG:32633",
    origin: tuple[float, float] = (X0, Y0),
) -> Path:
    data = data[None] if data.ndim == 2 else data
    profile = {
        "driver": "GTiff",
        "count": data.shape[0],
        "height": data.shape[1],
        "width": data.shape[2],
        "dtype": data.dtype,
        "crs": crs,
        "transform": Affine(res, 0, origin[0], 0, -res, origin[1]),
        "nodata": nodata,
    }
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(data)
    return path


@pytest.fixture
def scene(tmp_path: Path) -> list[Path]:
    """8x8 float band (nodata at (2, 3)), int16 band (nodata at (5, 5)), 4x4 band at 20 m."""
    b1 = np.arange(64, dtype=np.float32).reshape(8, 8) + 1
    b1[2, 3] = -9999
    b2 = (np.arange(64, dtype=np.int16).reshape(8, 8) + 100).astype(np.int16)
    b2[5, 5] = -32768
    b3 = np.arange(16, dtype=np.float32).reshape(4, 4) * 10 + 10
    b3[3, 3] = -9999
    return [
        write_tif(tmp_path / "b1.tif", b1, nodata=-9999),
        write_tif(tmp_path / "b2.tif", b2, nodata=-32768),
        write_tif(tmp_path / "b3.tif", b3, res=20.0, nodata=-9999),
    ]


def test_nodata_is_invalid_and_zero(scene: list[Path]) -> None:
    out = read_window(scene, Window(0, 0, 8, 8), resampling=Resampling.nearest)
    assert out.values.shape == out.valid.shape == (3, 8, 8)
    assert out.values.dtype == np.float32 and out.valid.dtype == bool
    assert not out.valid[0, 2, 3] and out.values[0, 2, 3] == 0
    assert not out.valid[1, 5, 5] and out.values[1, 5, 5] == 0
    assert np.all(out.values[~out.valid] == 0)
    assert out.valid[0].sum() == 63 and out.valid[1].sum() == 63
    assert out.values[0, 0, 1] == 2 and out.values[1, 0, 1] == 101


def test_coarse_band_resampled_onto_reference_grid(scene: list[Path]) -> None:
    out = read_window(scene, Window(0, 0, 8, 8), resampling=Resampling.nearest)
    source = np.arange(16, dtype=np.float32).reshape(4, 4) * 10 + 10
    expected = np.kron(source, np.ones((2, 2), dtype=np.float32))
    nodata_block = np.zeros((8, 8), dtype=bool)
    nodata_block[6:, 6:] = True
    assert np.array_equal(out.valid[2], ~nodata_block)
    assert np.array_equal(out.values[2][~nodata_block], expected[~nodata_block])
    assert np.all(out.values[2][nodata_block] == 0)


def test_bilinear_keeps_a_constant_band(tmp_path: Path) -> None:
    ref = write_tif(tmp_path / "ref.tif", np.ones((8, 8), np.float32))
    coarse = write_tif(tmp_path / "c.tif", np.full((4, 4), 5.0, np.float32), res=20.0)
    out = read_window([ref, coarse], Window(0, 0, 8, 8))
    assert np.allclose(out.values[1], 5.0) and out.valid.all()


def test_transform_crs_and_window_beyond_scene(scene: list[Path]) -> None:
    out = read_window(scene, Window(6, 5, 4, 4))
    assert out.crs == "EPSG:32633"
    assert out.transform.c == X0 + 60 and out.transform.f == Y0 - 50
    assert out.transform.a == 10 and out.transform.e == -10
    assert out.valid[:2, :3, :2].all() and not out.valid[2, 1:3, :2].any()
    assert not out.valid[:, :, 2:].any() and not out.valid[:, 3:, :].any()
    assert np.all(out.values[:, :, 2:] == 0)
    assert out.values[0, 0, 0] == 5 * 8 + 6 + 1


def test_to_sample_contract(scene: list[Path]) -> None:
    sample = read_window(scene, Window(0, 0, 4, 4)).to_sample([0.49, 0.56, 0.66])
    assert sample["values"].dtype == torch.float32 and sample["values"].shape == (3, 4, 4)
    assert sample["valid"].dtype == torch.bool
    assert sample["wavelengths"].tolist() == pytest.approx([0.49, 0.56, 0.66])
    assert sample["transform"].dtype == torch.float64
    assert sample["transform"].tolist() == [10.0, 0.0, X0, 0.0, -10.0, Y0]
    with pytest.raises(ValueError):
        read_window(scene, Window(0, 0, 4, 4)).to_sample([0.5])


def test_multiband_file_and_band_count(tmp_path: Path) -> None:
    data = np.stack([np.full((6, 6), v, np.float32) for v in (1, 2, 3)])
    path = write_tif(tmp_path / "multi.tif", data)
    out = read_window([path], Window(0, 0, 6, 6), band_names=["a", "b"])
    assert out.values.shape == (2, 6, 6) and out.values[1, 0, 0] == 2
    assert read_window([path], Window(0, 0, 6, 6)).values.shape[0] == 3
    with pytest.raises(ValueError, match=r"multi.tif.*3 bands"):
        read_window([path], Window(0, 0, 6, 6), band_names=["a", "b", "c", "d"])
    single = write_tif(tmp_path / "single.tif", data[0])
    with pytest.raises(ValueError, match=r"multi.tif"):
        read_window([single, path], Window(0, 0, 6, 6))


def test_missing_file_is_named(scene: list[Path], tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"absent.tif"):
        read_window([scene[0], tmp_path / "absent.tif"], Window(0, 0, 4, 4))


def test_fallback_nodata_for_files_without_one(tmp_path: Path) -> None:
    data = np.ones((4, 4), np.uint16)
    data[1, 1] = 0
    path = write_tif(tmp_path / "l2a.tif", data)
    assert read_window([path], Window(0, 0, 4, 4)).valid.all()
    out = read_window([path], Window(0, 0, 4, 4), nodata=0)
    assert not out.valid[0, 1, 1] and out.valid.sum() == 15


def test_check_aligned_names_both_files(tmp_path: Path) -> None:
    a = write_tif(tmp_path / "a.tif", np.ones((4, 4), np.float32))
    shifted = write_tif(tmp_path / "shifted.tif", np.ones((4, 4), np.float32), origin=(X0 + 10, Y0))
    bigger = write_tif(tmp_path / "bigger.tif", np.ones((5, 4), np.float32))
    other_crs = write_tif(tmp_path / "utm34.tif", np.ones((4, 4), np.float32), crs="EPSG:32634")
    check_aligned([a, a])
    with pytest.raises(RasterMismatchError, match=r"a.tif and .*shifted.tif.*transform"):
        check_aligned([a, shifted])
    with pytest.raises(RasterMismatchError, match=r"bigger.tif.*shape"):
        check_aligned([a, bigger])
    with pytest.raises(RasterMismatchError, match=r"a.tif and .*utm34.tif.*CRS"):
        check_aligned([a, other_crs])
    with pytest.raises(RasterMismatchError, match="transform"):
        check_aligned([a, shifted], allow_crs_alias=True)


def test_crs_alias_warns(tmp_path: Path) -> None:
    # The landsat7_nc case: NAD83 / North Carolina declared as EPSG:32119 and EPSG:3358.
    bands = write_tif(tmp_path / "bands.tif", np.ones((4, 4), np.float32), crs="EPSG:32119")
    labels = write_tif(tmp_path / "labels.tif", np.ones((4, 4), np.float32), crs="EPSG:3358")
    with pytest.raises(RasterMismatchError, match="CRS EPSG:32119 vs EPSG:3358"):
        check_aligned([bands, labels])
    with pytest.warns(UserWarning, match=r"bands.tif and .*labels.tif"):
        check_aligned([bands, labels], allow_crs_alias=True)
