"""Sensor registry: band sets, wavelengths, selection and errors."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from domains.remote_sensing.sensors import SENSORS, Band, get_sensor, hyperspectral


def test_registry_band_sets() -> None:
    l1c, l2a = get_sensor("sentinel2_l1c"), get_sensor("sentinel2_l2a")
    assert len(l1c.bands) == 13 and {"B8A", "B10"} <= set(l1c.band_names)
    assert len(l2a.bands) == 12 and "B10" not in l2a.band_names
    assert get_sensor("landsat7_etm").band_names == ["B1", "B2", "B3", "B4", "B5", "B7"]
    assert get_sensor("landsat89_oli").band_names == [f"B{i}" for i in range(1, 8)]
    s1 = get_sensor("sentinel1")
    assert s1.band_names == ["VV", "VH"] and s1.wavelengths() == [55500.0, 55500.0]


@pytest.mark.parametrize(
    "name", ["sentinel2_l1c", "sentinel2_l2a", "landsat7_etm", "landsat89_oli"]
)
def test_optical_bands_are_plausible(name: str) -> None:
    sensor = SENSORS[name]
    wavelengths = np.array(sensor.wavelengths())
    assert np.all(np.diff(wavelengths) > 0) and 0.4 < wavelengths[0] < wavelengths[-1] < 2.5
    for band in sensor.bands:
        assert band.bandwidth_um > 0 and band.gsd_m in (10.0, 20.0, 30.0, 60.0)
        assert 0 < band.mean < 1 and 0 < band.std < 1


def test_sentinel2_published_values() -> None:
    s2 = get_sensor("sentinel2_l1c")
    assert s2.band("B02").wavelength_um == pytest.approx(0.4924)
    assert s2.band("B8A").gsd_m == 20.0 and s2.band("B01").gsd_m == 60.0
    assert s2.scale == 1e-4


def test_band_select_and_wavelengths() -> None:
    s2 = get_sensor("sentinel2_l2a")
    picked = s2.select(["B04", "B03", "B02"])
    assert picked.band_names == ["B04", "B03", "B02"]
    assert picked.wavelengths() == s2.wavelengths(["B04", "B03", "B02"])
    assert picked.scale == s2.scale and picked.name == s2.name


def test_missing_band_error_names_band_and_bands() -> None:
    with pytest.raises(KeyError, match=r"B10.*B01"):
        get_sensor("sentinel2_l2a").select(["B02", "B10"])


def test_unknown_sensor_lists_names() -> None:
    with pytest.raises(KeyError, match="sentinel2_l1c"):
        get_sensor("modis")


def test_hyperspectral_factory() -> None:
    sensor = hyperspectral(5, 0.4, 0.8, 30.0)
    assert sensor.band_names == ["B001", "B002", "B003", "B004", "B005"]
    assert sensor.wavelengths() == pytest.approx([0.4, 0.5, 0.6, 0.7, 0.8])
    assert sensor.bands[0].bandwidth_um == pytest.approx(0.1)
    with pytest.raises(ValueError):
        hyperspectral(0, 0.4, 0.8, 30.0)


def test_statistics_override_and_frozen() -> None:
    sensor = get_sensor("landsat7_etm").with_statistics([0.1] * 6, [0.2] * 6)
    assert all(b.mean == 0.1 and b.std == 0.2 for b in sensor.bands)
    assert get_sensor("landsat7_etm").bands[0].mean != 0.1
    with pytest.raises(ValueError):
        sensor.with_statistics([0.1], [0.2])
    with pytest.raises(dataclasses.FrozenInstanceError):
        sensor.bands[0].mean = 1.0  # type: ignore[misc]
    assert isinstance(sensor.bands[0], Band)
