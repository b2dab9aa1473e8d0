"""Sensors as data: band names, centre wavelengths, bandwidths, resolution and statistics.

The ``mean``/``std`` of each band are *approximate, typical* statistics of the band's physical
values (surface or top-of-atmosphere reflectance in [0, 1], dB for radar) over mixed land
scenes, meant for normalisation when nothing better is known. Override them for a given data
set with :meth:`Sensor.with_statistics` (or ``dataclasses.replace`` on single bands).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Band:
    """One spectral band.

    Args:
        name: Band name as the product spells it (``"B02"``, ``"VV"``).
        wavelength_um: Centre wavelength in micrometres.
        bandwidth_um: Full width of the band in micrometres (0 where meaningless).
        gsd_m: Ground sampling distance in metres.
        mean: Typical mean of the physical value (approximate).
        std: Typical standard deviation of the physical value (approximate).
    """

    name: str
    wavelength_um: float
    bandwidth_um: float
    gsd_m: float
    mean: float
    std: float


@dataclass(frozen=True)
class Sensor:
    """A named, ordered set of bands and how stored values map to physical ones.

    ``physical = stored * scale + offset``; ``nodata`` is the product's conventional fill
    value, used for files that declare none.

    Args:
        name: Registry name.
        bands: Bands in product order.
        scale: Multiplier from stored values to physical values.
        nodata: Conventional fill value of the stored values, or ``None``.
        description: One line on the product.
        offset: Added after scaling (Landsat Collection 2 surface reflectance uses -0.2).
    """

    name: str
    bands: tuple[Band, ...]
    scale: float
    nodata: float | None
    description: str
    offset: float = 0.0

    @property
    def band_names(self) -> list[str]:
        """Names of the bands, in order."""
        return [band.name for band in self.bands]

    def band(self, name: str) -> Band:
        """The band called ``name``.

        Raises:
            KeyError: When the sensor has no such band (the message lists its bands).
        """
        for band in self.bands:
            if band.name == name:
                return band
        raise KeyError(f"sensor {self.name!r} has no band {name!r}; its bands: {self.band_names}")

    def wavelengths(self, names: Sequence[str] | None = None) -> list[float]:
        """Centre wavelengths (µm) of ``names`` (default: every band), in that order.

        Raises:
            KeyError: When a name is not a band of the sensor.
        """
        bands = self.bands if names is None else [self.band(name) for name in names]
        return [band.wavelength_um for band in bands]

    def select(self, names: Sequence[str]) -> Sensor:
        """The same sensor restricted to ``names``, in that order.

        Raises:
            KeyError: When a name is not a band of the sensor.
        """
        return dataclasses.replace(self, bands=tuple(self.band(name) for name in names))

    def with_statistics(self, mean: Sequence[float], std: Sequence[float]) -> Sensor:
        """The same sensor with data-set-specific per-band ``mean`` and ``std``.

        Raises:
            ValueError: When the lengths differ from the number of bands.
        """
        if len(mean) != len(self.bands) or len(std) != len(self.bands):
            raise ValueError(
                f"sensor {self.name!r} has {len(self.bands)} bands, got {len(mean)} means "
                f"and {len(std)} stds"
            )
        bands = tuple(
            dataclasses.replace(band, mean=float(m), std=float(s))
            for band, m, s in zip(self.bands, mean, std, strict=True)
        )
        return dataclasses.replace(self, bands=bands)


def _bands(rows: Sequence[tuple[str, float, float, float, float, float]]) -> tuple[Band, ...]:
    return tuple(Band(*row) for row in rows)


# Sentinel-2A MSI centre wavelengths and bandwidths (nm -> µm) and GSD from the ESA Sentinel-2
# User Handbook / MSI spectral response functions (S2-PDGS-TAS-DI-PSD). Statistics: typical
# L1C top-of-atmosphere reflectance (rounded, SSL4EO-S12-like global statistics / 10000).
_S2_L1C = _bands(
    [
        ("B01", 0.4427, 0.021, 60.0, 0.135, 0.025),
        ("B02", 0.4924, 0.066, 10.0, 0.112, 0.033),
        ("B03", 0.5598, 0.036, 10.0, 0.104, 0.040),
        ("B04", 0.6646, 0.031, 10.0, 0.101, 0.059),
        ("B05", 0.7041, 0.015, 20.0, 0.126, 0.057),
        ("B06", 0.7405, 0.015, 20.0, 0.200, 0.086),
        ("B07", 0.7828, 0.020, 20.0, 0.238, 0.109),
        ("B08", 0.8328, 0.106, 10.0, 0.226, 0.105),
        ("B8A", 0.8647, 0.021, 20.0, 0.259, 0.122),
        ("B09", 0.9451, 0.020, 60.0, 0.068, 0.040),
        ("B10", 1.3735, 0.031, 60.0, 0.002, 0.001),
        ("B11", 1.6137, 0.091, 20.0, 0.193, 0.101),
        ("B12", 2.2024, 0.175, 20.0, 0.117, 0.078),
    ]
)
# Same wavelengths; typical L2A bottom-of-atmosphere (surface) reflectance statistics.
_S2_L2A_STATS = {
    "B01": (0.080, 0.050),
    "B02": (0.090, 0.060),
    "B03": (0.110, 0.060),
    "B04": (0.120, 0.080),
    "B05": (0.160, 0.080),
    "B06": (0.240, 0.090),
    "B07": (0.280, 0.100),
    "B08": (0.290, 0.110),
    "B8A": (0.310, 0.110),
    "B09": (0.310, 0.120),
    "B11": (0.240, 0.110),
    "B12": (0.160, 0.100),
}
_S2_L2A = tuple(
    dataclasses.replace(band, mean=_S2_L2A_STATS[band.name][0], std=_S2_L2A_STATS[band.name][1])
    for band in _S2_L1C
    if band.name != "B10"
)

# Landsat 7 ETM+ reflective bands (band edges from the Landsat 7 Data Users Handbook, USGS
# LSDS-1927): B1 0.45-0.52, B2 0.52-0.60, B3 0.63-0.69, B4 0.77-0.90, B5 1.55-1.75,
# B7 2.08-2.35 µm, 30 m. Thermal B6 (60 m) and panchromatic B8 (15 m) are left out: the
# reflective set is what surface-reflectance products and ../shared/data/landsat7_nc hold.
# Level-1 ETM+ products store 8-bit DNs; scale 1/255 maps them to [0, 1] (a proxy, not
# calibrated reflectance). Statistics: typical DN/255 over a mixed land scene.
_LANDSAT7 = _bands(
    [
        ("B1", 0.485, 0.07, 30.0, 0.32, 0.06),
        ("B2", 0.560, 0.08, 30.0, 0.26, 0.07),
        ("B3", 0.660, 0.06, 30.0, 0.26, 0.11),
        ("B4", 0.835, 0.13, 30.0, 0.27, 0.09),
        ("B5", 1.650, 0.20, 30.0, 0.35, 0.15),
        ("B7", 2.215, 0.27, 30.0, 0.23, 0.14),
    ]
)

# Landsat 8/9 OLI (Landsat 8 Data Users Handbook, USGS LSDS-1574): B1 0.435-0.451,
# B2 0.452-0.512, B3 0.533-0.590, B4 0.636-0.673, B5 0.851-0.879, B6 1.566-1.651,
# B7 2.107-2.294 µm, 30 m. Cirrus B9 (1.363-1.384 µm) and pan B8 are absent from Collection 2
# surface reflectance products and left out. Scale/offset: Collection 2 Level-2 SR.
_LANDSAT89 = _bands(
    [
        ("B1", 0.4430, 0.016, 30.0, 0.07, 0.05),
        ("B2", 0.4820, 0.060, 30.0, 0.09, 0.06),
        ("B3", 0.5615, 0.057, 30.0, 0.11, 0.06),
        ("B4", 0.6545, 0.037, 30.0, 0.12, 0.08),
        ("B5", 0.8650, 0.028, 30.0, 0.28, 0.11),
        ("B6", 1.6085, 0.085, 30.0, 0.23, 0.11),
        ("B7", 2.2005, 0.187, 30.0, 0.16, 0.10),
    ]
)

# Sentinel-1 C-band SAR at 5.405 GHz: wavelength c / f = 5.55 cm = 55500 µm (nominal), so the
# radar bands sit on the same wavelength axis as optical ones. Bandwidth is not spectral: 0.
# Values are backscatter in dB (IW GRD, 10 m); statistics are typical over land.
_SENTINEL1 = _bands(
    [
        ("VV", 55500.0, 0.0, 10.0, -12.5, 5.0),
        ("VH", 55500.0, 0.0, 10.0, -20.0, 5.5),
    ]
)

SENSORS: dict[str, Sensor] = {
    "sentinel2_l1c": Sensor(
        "sentinel2_l1c", _S2_L1C, 1e-4, 0.0, "Sentinel-2 MSI Level-1C TOA reflectance x 10000"
    ),
    "sentinel2_l2a": Sensor(
        "sentinel2_l2a", _S2_L2A, 1e-4, 0.0, "Sentinel-2 MSI Level-2A surface reflectance x 10000"
    ),
    "landsat7_etm": Sensor(
        "landsat7_etm", _LANDSAT7, 1.0 / 255.0, None, "Landsat 7 ETM+ reflective bands, 8-bit DN"
    ),
    "landsat89_oli": Sensor(
        "landsat89_oli",
        _LANDSAT89,
        2.75e-5,
        0.0,
        "Landsat 8/9 OLI Collection 2 Level-2 surface reflectance",
        offset=-0.2,
    ),
    "sentinel1": Sensor("sentinel1", _SENTINEL1, 1.0, None, "Sentinel-1 IW GRD backscatter, dB"),
}


def hyperspectral(
    num_bands: int,
    start_um: float,
    end_um: float,
    gsd_m: float,
    mean: float = 0.2,
    std: float = 0.1,
) -> Sensor:
    """A generic sensor with ``num_bands`` evenly spaced bands from ``start_um`` to ``end_um``.

    Bands are named ``"B001"``, ``"B002"``, ...; each band's width is the centre spacing.

    Args:
        num_bands: Number of bands, ``>= 1``.
        start_um: Centre of the first band (µm).
        end_um: Centre of the last band (µm), ``>= start_um``.
        gsd_m: Ground sampling distance in metres.
        mean: Typical reflectance of every band.
        std: Typical standard deviation of every band.

    Returns:
        The sensor, values stored as reflectance (scale 1, no nodata).

    Raises:
        ValueError: On fewer than one band or an inverted range.
    """
    if num_bands < 1 or end_um < start_um:
        raise ValueError(
            f"need num_bands >= 1 and end_um >= start_um, got {num_bands}, {start_um}, {end_um}"
        )
    centres = np.linspace(start_um, end_um, num_bands)
    width = (end_um - start_um) / (num_bands - 1) if num_bands > 1 else 0.0
    bands = tuple(
        Band(f"B{i + 1:03d}", float(c), width, gsd_m, mean, std) for i, c in enumerate(centres)
    )
    return Sensor(
        f"hyperspectral_{num_bands}",
        bands,
        1.0,
        None,
        f"{num_bands} bands evenly spaced over {start_um}-{end_um} µm",
    )


def get_sensor(name: str) -> Sensor:
    """The registered sensor called ``name``.

    Raises:
        KeyError: When no sensor has that name (the message lists the registered ones).
    """
    if name not in SENSORS:
        raise KeyError(f"unknown sensor {name!r}; registered sensors: {sorted(SENSORS)}")
    return SENSORS[name]
