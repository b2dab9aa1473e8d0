"""The synthetic Sentinel-2 generator: physics of the signatures, nuisances, files, difficulty."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio
from threadpoolctl import threadpool_limits

from domains.remote_sensing import synthetic
from domains.remote_sensing.synthetic import (
    CLASS_NAMES,
    S2_L2A_WAVELENGTHS,
    endmembers,
    generate_patches,
    write_patch_folder,
    write_scene,
)

BAND = {name: i for i, name in enumerate(synthetic.BAND_NAMES)}


@pytest.fixture(scope="module")
def patches() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return generate_patches(600, size=32, seed=0)


def _class(name: str) -> np.ndarray:
    return endmembers()[CLASS_NAMES.index(name)]  # [2 variants, C]


def test_signatures_have_the_expected_physics() -> None:
    assert len(S2_L2A_WAVELENGTHS) == 12 and 6 <= len(CLASS_NAMES) <= 8
    red, nir, green, swir = BAND["B04"], BAND["B08"], BAND["B03"], BAND["B11"]
    for variant in _class("Water"):
        assert variant[nir] < variant[red] and variant[swir] < 0.01
    # Both forest variants and the green crop (the other crop variant is senescent).
    for variant in (*_class("Forest"), _class("Cropland")[0]):
        assert variant[nir] > 5 * variant[red] and variant[nir] > 0.25
        assert variant[green] > variant[BAND["B02"]] and variant[green] > variant[red]
    for variant in _class("SnowIce"):
        assert variant[swir] < 0.1 * variant[green] and variant[green] > 0.6
    for variant in _class("BareSoil"):
        assert np.all(np.diff(variant[:10]) > 0)  # rising through the VNIR
    cloud = _class("Cloud")
    assert np.ptp(cloud[:, :10], axis=1).max() < 0.05 and cloud.min() > 0.2


def test_generation_is_deterministic_and_shaped(
    patches: tuple[np.ndarray, np.ndarray, np.ndarray],
) -> None:
    values, valid, labels = patches
    assert values.shape == (600, 12, 32, 32) and values.dtype == np.float32
    assert valid.shape == values.shape and valid.dtype == bool
    assert labels.dtype == np.int64 and np.bincount(labels).tolist() == [75] * 8
    again = generate_patches(40, size=32, seed=3)
    np.testing.assert_array_equal(again[0], generate_patches(40, size=32, seed=3)[0])
    assert not np.array_equal(again[0], generate_patches(40, size=32, seed=4)[0])


def test_nodata_is_present_and_zero(patches: tuple[np.ndarray, np.ndarray, np.ndarray]) -> None:
    values, valid, _ = patches
    with_nodata = (~valid).any(axis=(1, 2, 3))
    assert 0.03 < with_nodata.mean() < 0.3
    assert np.all(values[~valid] == 0) and np.all(values[valid] > 0)


def _mean_spectrum(values: np.ndarray, valid: np.ndarray) -> np.ndarray:
    return (values * valid).sum(axis=(2, 3)) / np.maximum(valid.sum(axis=(2, 3)), 1)


def test_linear_probe_on_raw_features_is_above_chance_but_below_0_9(
    patches: tuple[np.ndarray, np.ndarray, np.ndarray],
) -> None:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    values, valid, labels = patches
    half = len(labels) // 2
    for features in (_mean_spectrum(values, valid), values[:, :, ::2, ::2].reshape(600, -1)):
        probe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=300))
        with threadpool_limits(1):
            probe.fit(features[:half], labels[:half])
            accuracy = probe.score(features[half:], labels[half:])
        assert 0.35 < accuracy < 0.9, accuracy


def test_patch_folder_layout_and_geotiffs_round_trip(tmp_path: Path) -> None:
    root = write_patch_folder(tmp_path / "folder", 24, size=32, seed=1)
    values, valid, labels = generate_patches(24, size=32, seed=1)
    rows = (root / "labels.csv").read_text().splitlines()
    assert rows[0] == "path,label,labels" and len(rows) == 25
    assert (root / "classes.txt").read_text().split() == list(CLASS_NAMES)
    origins = set()
    for i, row in enumerate(rows[1:]):
        path, label, present = row.split(",")
        assert path.startswith(f"{label}/{label}_") and label == CLASS_NAMES[labels[i]]
        assert present.split(";")[0] == label
        with rasterio.open(root / path) as src:
            assert src.crs.to_epsg() == 32633 and src.nodata == 0 and src.count == 12
            assert src.transform.a == 10.0 and src.transform.e == -10.0
            assert float(src.tags()[synthetic.SCALE_TAG]) == synthetic.REFLECTANCE_SCALE
            origins.add((src.transform.c, src.transform.f))
            data = src.read()
        np.testing.assert_array_equal(data != 0, valid[i])
        np.testing.assert_allclose(data * 1e-4, values[i], atol=0.5e-4 + 1e-6)
    assert len(origins) == 24
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp folder left


def test_existing_folder_is_reused(tmp_path: Path) -> None:
    root = write_patch_folder(tmp_path / "folder", 8, size=16)
    marker = root / "labels.csv"
    stamp = marker.stat().st_mtime_ns
    assert write_patch_folder(root, 8, size=16) == root
    assert marker.stat().st_mtime_ns == stamp


def test_scene_and_label_raster(tmp_path: Path) -> None:
    scene, label_path = write_scene(tmp_path / "scene.tif", size=128, seed=0)
    with rasterio.open(scene) as src, rasterio.open(label_path) as lab:
        assert src.count == 12 and src.shape == (128, 128) == lab.shape
        assert src.crs == lab.crs and src.transform == lab.transform
        data, labels = src.read(), lab.read(1)
    classes = set(np.unique(labels[labels != 255]).tolist())
    assert len(classes) >= 3 and classes <= set(range(len(CLASS_NAMES)))
    np.testing.assert_array_equal(labels == 255, data[0] == 0)


def test_invalid_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="size"):
        generate_patches(4, size=8)
    with pytest.raises(ValueError, match="num_samples"):
        generate_patches(-1)
