"""Synthetic Sentinel-2 L2A surface reflectance: the remote-sensing embedded default dataset.

Land-cover classes are defined by approximate spectral signatures, written as
``(wavelength in micrometres, reflectance)`` knots after the shapes of the USGS and ASTER
(ECOSTRESS) spectral libraries, and linearly interpolated to the 12 band centres of Sentinel-2
L2A. Each class has two end-member variants (dense and sparse canopy, green and senescent crop,
clear and turbid water, moist and dry soil, dark and bright urban materials, fresh and old snow,
thin and thick cloud) between which a per-pixel variable moves.

A 64x64 patch is one dominant class with a class-specific spatial texture (crown-scale noise
for forest, parcels with field boundaries for cropland, a street grid for built-up areas, smooth
fields for water and snow) plus a region of a minority class with soft, sub-pixel-mixed edges.
Nuisances then blur what a spectrum alone says: per-patch illumination (multiplicative), haze
(additive, ~ lambda^-2), the coarser 20 m / 60 m bands (Gaussian PSF), per-band sensor noise,
occasional cloud and cloud-shadow contamination, and nodata swath corners and missing scan lines
(``valid=False``, value 0). With these, a standardised logistic regression on the mean
spectrum scores about 0.72 (600 patches, half for training) to 0.75 (2000), and on raw pixels
about 0.68-0.73 (chance 0.125): the spatial structure is needed for the rest.

Everything is vectorised with numpy over chunks of patches and fully determined by ``seed``.
"""

from __future__ import annotations

import csv
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import rasterio
from affine import Affine
from scipy.ndimage import gaussian_filter

from foundations.io import atomic_folder

BAND_NAMES: tuple[str, ...] = (
    "B01", "B02", "B03", "B04", "B05", "B06", "B07", "B08", "B8A", "B09", "B11", "B12",
)  # fmt: skip
"""Sentinel-2 L2A bands (B10, a cirrus band, is not delivered at L2A)."""

S2_L2A_WAVELENGTHS: tuple[float, ...] = (
    0.443, 0.490, 0.560, 0.665, 0.705, 0.740, 0.783, 0.842, 0.865, 0.945, 1.610, 2.190,
)  # fmt: skip
"""Band centre wavelengths in micrometres, in :data:`BAND_NAMES` order."""

_BAND_RESOLUTION_M = (60, 10, 10, 10, 20, 20, 20, 10, 20, 60, 20, 20)

CLASS_NAMES: tuple[str, ...] = (
    "BareSoil", "BuiltUp", "Cloud", "Cropland", "Forest", "Grassland", "SnowIce", "Water",
)  # fmt: skip
"""Land-cover classes, sorted so that a label index is also the class folder's sorted rank."""

NUM_CLASSES = len(CLASS_NAMES)
CLOUD = CLASS_NAMES.index("Cloud")

GENERATOR_VERSION = 1
"""Bump when generated data change, so cached folders are not reused by mistake."""

REFLECTANCE_SCALE = 1e-4
"""Reflectance per digital number in the written GeoTIFFs (uint16, 0 = nodata)."""

SCALE_TAG = "REFLECTANCE_SCALE"
"""GeoTIFF dataset tag holding :data:`REFLECTANCE_SCALE`."""

CRS = "EPSG:32633"
PIXEL_SIZE_M = 10.0

Knots = tuple[tuple[float, float], ...]

# Two end-members per class, (wavelength um, reflectance). Approximate shapes after the USGS
# splib07 and ASTER/ECOSTRESS libraries: chlorophyll absorption in blue and red with a green
# bump, the red edge near 0.7 um, the NIR plateau, liquid-water absorption lowering SWIR.
SIGNATURES: dict[str, tuple[Knots, Knots]] = {
    "BareSoil": (  # moist dark loam / dry bright sandy soil: smooth rise with wavelength
        ((0.40, .05), (0.45, .06), (0.50, .07), (0.55, .09), (0.60, .11), (0.65, .13),
         (0.70, .14), (0.75, .155), (0.80, .165), (0.85, .175), (0.95, .18), (1.10, .20),
         (1.60, .25), (2.20, .22)),
        ((0.40, .12), (0.45, .15), (0.50, .19), (0.55, .23), (0.60, .27), (0.65, .30),
         (0.70, .32), (0.75, .34), (0.80, .35), (0.85, .36), (0.95, .37), (1.10, .40),
         (1.60, .46), (2.20, .40)),
    ),
    "BuiltUp": (  # asphalt and dark roofs / concrete and bright roofs: flat-ish, SWIR high
        ((0.40, .06), (0.45, .065), (0.50, .07), (0.55, .075), (0.60, .08), (0.65, .085),
         (0.70, .09), (0.80, .10), (0.90, .105), (1.10, .11), (1.60, .13), (2.20, .12)),
        ((0.40, .16), (0.45, .18), (0.50, .20), (0.55, .22), (0.60, .23), (0.65, .24),
         (0.70, .245), (0.80, .25), (0.90, .26), (1.10, .28), (1.60, .32), (2.20, .30)),
    ),
    "Cloud": (  # thin / thick water cloud: bright and flat, slowly falling in the SWIR
        ((0.40, .45), (0.50, .44), (0.60, .43), (0.80, .42), (1.00, .40), (1.30, .36),
         (1.60, .32), (2.20, .22)),
        ((0.40, .80), (0.50, .80), (0.60, .79), (0.80, .78), (1.00, .75), (1.30, .70),
         (1.60, .60), (2.20, .45)),
    ),
    "Cropland": (  # vigorous green crop / senescent or harvested field
        ((0.40, .03), (0.45, .04), (0.50, .05), (0.55, .10), (0.60, .07), (0.65, .04),
         (0.68, .035), (0.70, .10), (0.74, .32), (0.78, .46), (0.85, .52), (0.95, .49),
         (1.10, .50), (1.60, .25), (2.20, .12)),
        ((0.40, .06), (0.45, .08), (0.50, .10), (0.55, .13), (0.60, .15), (0.65, .17),
         (0.68, .18), (0.70, .20), (0.74, .23), (0.78, .26), (0.85, .28), (0.95, .29),
         (1.10, .31), (1.60, .36), (2.20, .28)),
    ),
    "Forest": (  # dense conifer / deciduous broadleaf
        ((0.40, .02), (0.45, .025), (0.50, .03), (0.55, .05), (0.60, .035), (0.65, .025),
         (0.68, .022), (0.70, .05), (0.74, .17), (0.78, .24), (0.85, .27), (0.95, .26),
         (1.10, .27), (1.60, .14), (2.20, .06)),
        ((0.40, .03), (0.45, .035), (0.50, .04), (0.55, .08), (0.60, .05), (0.65, .035),
         (0.68, .03), (0.70, .09), (0.74, .28), (0.78, .40), (0.85, .45), (0.95, .43),
         (1.10, .44), (1.60, .22), (2.20, .10)),
    ),
    "Grassland": (  # green pasture / dry grass
        ((0.40, .04), (0.45, .045), (0.50, .055), (0.55, .09), (0.60, .07), (0.65, .05),
         (0.68, .045), (0.70, .10), (0.74, .24), (0.78, .32), (0.85, .35), (0.95, .34),
         (1.10, .36), (1.60, .26), (2.20, .14)),
        ((0.40, .05), (0.45, .06), (0.50, .08), (0.55, .11), (0.60, .12), (0.65, .13),
         (0.68, .13), (0.70, .16), (0.74, .22), (0.78, .27), (0.85, .30), (0.95, .30),
         (1.10, .33), (1.60, .35), (2.20, .25)),
    ),
    "SnowIce": (  # fresh snow / old snow and ice: very bright, ice absorption kills the SWIR
        ((0.40, .95), (0.50, .95), (0.60, .93), (0.70, .90), (0.80, .85), (0.90, .78),
         (1.00, .65), (1.10, .60), (1.30, .40), (1.50, .05), (1.60, .06), (1.80, .10),
         (2.00, .03), (2.20, .04)),
        ((0.40, .70), (0.50, .70), (0.60, .66), (0.70, .60), (0.80, .52), (0.90, .42),
         (1.00, .32), (1.10, .28), (1.30, .15), (1.50, .02), (1.60, .03), (1.80, .05),
         (2.00, .01), (2.20, .02)),
    ),
    "Water": (  # clear deep / turbid water: falls with wavelength, ~0 in NIR and SWIR
        ((0.40, .06), (0.45, .06), (0.50, .05), (0.55, .035), (0.60, .02), (0.65, .012),
         (0.70, .008), (0.74, .005), (0.80, .004), (0.90, .003), (1.10, .002), (1.60, .001),
         (2.20, .001)),
        ((0.40, .07), (0.45, .08), (0.50, .09), (0.55, .10), (0.60, .09), (0.65, .07),
         (0.70, .06), (0.74, .035), (0.80, .03), (0.90, .015), (1.10, .008), (1.60, .003),
         (2.20, .002)),
    ),
}  # fmt: skip

# Correlation length (pixels) of each class's within-class variation, and its amplitude.
_TEXTURE_SIGMA = {"BareSoil": 3.0, "BuiltUp": 0.7, "Cloud": 4.0, "Cropland": 1.0,
                  "Forest": 1.2, "Grassland": 5.0, "SnowIce": 6.0, "Water": 8.0}  # fmt: skip
_TEXTURE_AMPLITUDE = {"BareSoil": 0.15, "BuiltUp": 0.45, "Cloud": 0.2, "Cropland": 0.05,
                      "Forest": 0.2, "Grassland": 0.15, "SnowIce": 0.15, "Water": 0.1}  # fmt: skip

_CHUNK = 256
_MAX_MINORITY_SHARE = 0.45
_CLOUD_PROBABILITY = 0.12
_CORNER_PROBABILITY = 0.08
_STRIPE_PROBABILITY = 0.05


def endmembers(wavelengths: tuple[float, ...] | list[float] = S2_L2A_WAVELENGTHS) -> np.ndarray:
    """The class end-members interpolated to band wavelengths.

    Args:
        wavelengths: Band centres in micrometres.

    Returns:
        float32 ``[K, 2, C]``: both variants of every class in :data:`CLASS_NAMES` order.
    """
    out = np.empty((NUM_CLASSES, 2, len(wavelengths)), dtype=np.float32)
    for k, name in enumerate(CLASS_NAMES):
        for variant, knots in enumerate(SIGNATURES[name]):
            x, y = np.asarray(knots, dtype=np.float64).T
            out[k, variant] = np.interp(wavelengths, x, y)
    return out


def _smooth_noise(rng: np.random.Generator, n: int, h: int, w: int, sigma: float) -> np.ndarray:
    """``[n, h, w]`` Gaussian-filtered white noise, standardised per field."""
    field = gaussian_filter(rng.standard_normal((n, h, w), dtype=np.float32), (0, sigma, sigma))
    field -= field.mean(axis=(1, 2), keepdims=True)
    field /= field.std(axis=(1, 2), keepdims=True) + 1e-6
    return field


def _rotated_coords(rng: np.random.Generator, n: int, h: int, w: int) -> np.ndarray:
    """``[2, n, h, w]`` pixel coordinates rotated by a random angle per field."""
    theta = rng.uniform(0.0, np.pi, (n, 1, 1)).astype(np.float32)
    ys, xs = np.indices((h, w), dtype=np.float32)
    u = np.cos(theta) * xs + np.sin(theta) * ys
    v = -np.sin(theta) * xs + np.cos(theta) * ys
    return np.stack([u, v])


def _texture(rng: np.random.Generator, name: str, n: int, h: int, w: int) -> np.ndarray:
    """Per-pixel end-member mixing variable ``t`` in ``[0, 1]``, ``[n, h, w]``.

    ``t`` moves a pixel between the class's two end-members; its spatial structure is what
    distinguishes classes whose mean spectra are alike.
    """
    base = rng.uniform(0.0, 1.0, (n, 1, 1)).astype(np.float32)
    t = base + _TEXTURE_AMPLITUDE[name] * _smooth_noise(rng, n, h, w, _TEXTURE_SIGMA[name])
    if name == "Cropland":
        # Parcels: a rotated grid of fields, each at its own phenological stage.
        u, v = _rotated_coords(rng, n, h, w)
        width = rng.uniform(8.0, 20.0, (n, 1, 1)).astype(np.float32)
        length = rng.uniform(15.0, 45.0, (n, 1, 1)).astype(np.float32)
        parcel = np.floor(u / width) * 7919.0 + np.floor(v / length)
        salt = rng.uniform(0.0, 1000.0, (n, 1, 1)).astype(np.float32)
        stage = np.modf(np.abs(np.sin(parcel * 12.9898 + salt)) * 43758.5453)[0]
        t = t + 0.7 * (stage - 0.5)
    elif name == "BuiltUp":
        # A street grid of asphalt (t = 0) between blocks.
        u, v = _rotated_coords(rng, n, h, w)
        period = rng.uniform(8.0, 16.0, (n, 1, 1)).astype(np.float32)
        streets = (np.mod(u, period) < 1.5) | (np.mod(v, period) < 1.5)
        t = np.where(streets, 0.0, t)
    return np.clip(t, 0.0, 1.0).astype(np.float32)


def _region(
    rng: np.random.Generator, share: np.ndarray, h: int, w: int, sigma: float
) -> np.ndarray:
    """Soft masks ``[n, h, w]`` in ``[0, 1]`` covering about ``share`` of each field."""
    n = len(share)
    field = _smooth_noise(rng, n, h, w, sigma)
    ranked = np.sort(field.reshape(n, -1), axis=1)
    index = np.clip(np.round((1.0 - share) * h * w).astype(np.int64), 0, h * w - 1)
    threshold = ranked[np.arange(n), index][:, None, None]
    mask = 1.0 / (1.0 + np.exp(-(field - threshold) / 0.1))
    return np.where(share[:, None, None] > 0, mask, 0.0).astype(np.float32)


def _spectra(ends: np.ndarray, classes: np.ndarray, t: np.ndarray) -> np.ndarray:
    """``[n, C, h, w]`` reflectance of class ``classes[i]`` at mixing variable ``t[i]``."""
    low = ends[classes, 0][:, :, None, None]
    delta = (ends[classes, 1] - ends[classes, 0])[:, :, None, None]
    return low + delta * t[:, None]


def _class_textures(rng: np.random.Generator, classes: np.ndarray, h: int, w: int) -> np.ndarray:
    t = np.empty((len(classes), h, w), dtype=np.float32)
    for k, name in enumerate(CLASS_NAMES):
        chosen = np.flatnonzero(classes == k)
        if chosen.size:
            t[chosen] = _texture(rng, name, chosen.size, h, w)
    return t


def _sensor(rng: np.random.Generator, values: np.ndarray, wavelengths: np.ndarray) -> np.ndarray:
    """Illumination, haze, band PSF and noise applied to ``[n, C, h, w]`` reflectance."""
    n = values.shape[0]
    illumination = rng.uniform(0.7, 1.3, (n, 1, 1, 1)).astype(np.float32)
    haze = rng.uniform(0.0, 0.06, (n, 1, 1, 1)).astype(np.float32)
    path_radiance = (wavelengths / wavelengths.min()) ** -2.0
    values = values * illumination + haze * path_radiance[None, :, None, None].astype(np.float32)
    for band, resolution in enumerate(_BAND_RESOLUTION_M):
        if resolution > 10:
            sigma = 0.4 * resolution / 10.0
            values[:, band] = gaussian_filter(values[:, band], (0, sigma, sigma), mode="nearest")
    band_noise = np.where(np.asarray(_BAND_RESOLUTION_M) == 60, 0.008, 0.004)
    noise = (rng.uniform(0.5, 1.5, (n, 1, 1, 1)) * band_noise[None, :, None, None]).astype(
        np.float32
    )
    values += noise * rng.standard_normal(values.shape, dtype=np.float32)
    # Quantisable range: 1 DN is the smallest valid value, 0 is nodata.
    return np.clip(values, REFLECTANCE_SCALE, 6.0).astype(np.float32)


def _clouds(
    rng: np.random.Generator, values: np.ndarray, ends: np.ndarray, chosen: np.ndarray
) -> np.ndarray:
    """Overlay clouds and their displaced shadows on patches ``chosen``; returns opacity."""
    n, _, h, w = values.shape
    opacity = np.zeros((n, h, w), dtype=np.float32)
    if chosen.size == 0:
        return opacity
    cover = rng.uniform(0.05, 0.5, chosen.size)
    alpha = _region(rng, cover, h, w, 5.0) * rng.uniform(0.5, 1.0, (chosen.size, 1, 1))
    cloud = _spectra(ends, np.full(chosen.size, CLOUD), rng.uniform(0, 1, (chosen.size, h, w)))
    shift = rng.integers(4, 13, (chosen.size, 2)) * rng.choice([-1, 1], (chosen.size, 2))
    for j, i in enumerate(chosen):
        shadow = np.roll(alpha[j], tuple(shift[j]), axis=(0, 1))
        values[i] *= 1.0 - 0.7 * shadow
        values[i] += alpha[j] * (cloud[j] - values[i])
    opacity[chosen] = alpha
    return opacity


def _nodata(rng: np.random.Generator, n: int, c: int, h: int, w: int) -> np.ndarray:
    """``[n, C, h, w]`` validity: swath-edge corners (all bands) and missing scan lines."""
    valid = np.ones((n, c, h, w), dtype=bool)
    corner = np.flatnonzero(rng.random(n) < _CORNER_PROBABILITY)
    if corner.size:
        u, _ = _rotated_coords(rng, corner.size, h, w)
        u -= u.min(axis=(1, 2), keepdims=True)
        cut = rng.uniform(0.6, 0.9, (corner.size, 1, 1)) * u.max(axis=(1, 2), keepdims=True)
        valid[corner] &= (u < cut)[:, None]
    for i in np.flatnonzero(rng.random(n) < _STRIPE_PROBABILITY):
        row, width = rng.integers(0, h - 2), rng.integers(1, 4)
        bands = slice(None) if rng.random() < 0.5 else rng.integers(0, c)
        valid[i, bands, row : row + width] = False
    return valid


@dataclass(frozen=True)
class PatchSet:
    """Generated patches with the per-patch facts behind them.

    Attributes:
        values: float32 ``[N, C, H, W]`` reflectance, 0 where not valid.
        valid: bool ``[N, C, H, W]``.
        labels: int64 ``[N]`` dominant class.
        minority: int64 ``[N]`` minority class.
        minority_share: float32 ``[N]`` mean abundance of the minority class.
        cloud_cover: float32 ``[N]`` share of pixels under a cloud of opacity above 0.5
            (1 for Cloud patches).
    """

    values: np.ndarray
    valid: np.ndarray
    labels: np.ndarray
    minority: np.ndarray
    minority_share: np.ndarray
    cloud_cover: np.ndarray


def _generate_chunk(rng: np.random.Generator, labels: np.ndarray, size: int) -> PatchSet:
    n, h, w = len(labels), size, size
    wavelengths = np.asarray(S2_L2A_WAVELENGTHS, dtype=np.float32)
    ends = endmembers(S2_L2A_WAVELENGTHS)
    # Minority: any other class but Cloud (clouds come as contamination below).
    offset = rng.integers(1, NUM_CLASSES, n)
    minority = (labels + offset) % NUM_CLASSES
    minority = np.where(minority == CLOUD, (minority + 1) % NUM_CLASSES, minority)
    minority = np.where(minority == labels, (minority + 1) % NUM_CLASSES, minority)
    share = rng.uniform(0.0, _MAX_MINORITY_SHARE, n)
    region = _region(rng, share, h, w, 6.0)
    diffuse = rng.uniform(0.0, 0.1, (n, 1, 1)).astype(np.float32)  # sub-pixel mixing everywhere
    abundance = diffuse + (1.0 - diffuse) * region
    dominant = _spectra(ends, labels, _class_textures(rng, labels, h, w))
    other = _spectra(ends, minority, _class_textures(rng, minority, h, w))
    values = dominant + abundance[:, None] * (other - dominant)
    contaminated = np.flatnonzero((rng.random(n) < _CLOUD_PROBABILITY) & (labels != CLOUD))
    opacity = _clouds(rng, values, ends, contaminated)
    values = _sensor(rng, values, wavelengths)
    valid = _nodata(rng, n, len(wavelengths), h, w)
    values[~valid] = 0.0
    cloud_cover = np.where(labels == CLOUD, 1.0, (opacity > 0.5).mean(axis=(1, 2)))
    return PatchSet(
        values=values,
        valid=valid,
        labels=labels.astype(np.int64),
        minority=minority.astype(np.int64),
        minority_share=abundance.mean(axis=(1, 2)).astype(np.float32),
        cloud_cover=cloud_cover.astype(np.float32),
    )


def _chunks(num_samples: int, size: int, seed: int) -> list[tuple[int, np.ndarray]]:
    if num_samples < 0:
        raise ValueError(f"num_samples must be >= 0, got {num_samples}")
    if size < 16:
        raise ValueError(f"size must be >= 16, got {size}")
    rng = np.random.default_rng([seed, 0])
    labels = rng.permutation(np.arange(num_samples) % NUM_CLASSES)
    return [(start, labels[start : start + _CHUNK]) for start in range(0, num_samples, _CHUNK)]


def generate_patch_set(num_samples: int, size: int = 64, seed: int = 0) -> PatchSet:
    """Generate patches with their per-patch facts (see :class:`PatchSet`).

    Args:
        num_samples: Number of patches; classes are balanced and shuffled.
        size: Height and width in pixels (at least 16).
        seed: Seed; the output is a pure function of the arguments.

    Returns:
        The :class:`PatchSet`.

    Raises:
        ValueError: When ``num_samples`` is negative or ``size`` is below 16.
    """
    parts = [
        _generate_chunk(np.random.default_rng([seed, 1, start]), labels, size)
        for start, labels in _chunks(num_samples, size, seed)
    ]
    if not parts:
        c = len(S2_L2A_WAVELENGTHS)
        empty = np.zeros((0,), dtype=np.int64)
        return PatchSet(
            np.zeros((0, c, size, size), np.float32), np.zeros((0, c, size, size), bool),
            empty, empty, empty.astype(np.float32), empty.astype(np.float32),
        )  # fmt: skip
    return PatchSet(
        *(np.concatenate([getattr(p, f) for p in parts]) for f in PatchSet.__dataclass_fields__)
    )


def generate_patches(
    num_samples: int, size: int = 64, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Generate labelled synthetic Sentinel-2 L2A patches.

    Args:
        num_samples: Number of patches; classes are balanced and shuffled.
        size: Height and width in pixels (at least 16).
        seed: Seed; the output is a pure function of the arguments.

    Returns:
        ``(values, valid, labels)``: float32 ``[N, 12, H, W]`` reflectance (0 where not
        valid), bool ``[N, 12, H, W]`` and int64 ``[N]`` indices into :data:`CLASS_NAMES`.

    Raises:
        ValueError: When ``num_samples`` is negative or ``size`` is below 16.
    """
    patches = generate_patch_set(num_samples, size, seed)
    return patches.values, patches.valid, patches.labels


def _write_tif(
    path: Path, values: np.ndarray, valid: np.ndarray, x0: float, y0: float, **tags: str
) -> None:
    digital = np.round(values / REFLECTANCE_SCALE).clip(1, 65535).astype(np.uint16)
    digital[~valid] = 0
    count, height, width = digital.shape
    with rasterio.open(
        path, "w", driver="GTiff", dtype="uint16", count=count, height=height, width=width,
        crs=CRS, transform=Affine(PIXEL_SIZE_M, 0.0, x0, 0.0, -PIXEL_SIZE_M, y0), nodata=0,
    ) as dst:  # fmt: skip
        dst.write(digital)
        dst.update_tags(**{SCALE_TAG: str(REFLECTANCE_SCALE)}, **tags)
        for band, (name, wavelength) in enumerate(zip(BAND_NAMES, S2_L2A_WAVELENGTHS, strict=True)):
            dst.set_band_description(band + 1, name)
            dst.update_tags(band + 1, WAVELENGTH_UM=str(wavelength))


def write_patch_folder(root: Path | str, num_samples: int, size: int = 64, seed: int = 0) -> Path:
    """Write generated patches as GeoTIFFs in the EuroSAT-MS layout.

    Layout: ``root/<ClassName>/<ClassName>_<i>.tif`` (``i`` counts from 1 within a class),
    ``root/labels.csv`` with columns ``path`` (relative to ``root``), ``label`` (class name) and
    ``labels`` (``;``-separated classes present: the dominant one, the minority one when it
    covers at least 10 %, and ``Cloud`` when clouds cover at least 5 %), ``root/classes.txt``
    (one class name a line, in label order) and ``root/dataset.json`` (generator settings).
    Each file is uint16 reflectance / :data:`REFLECTANCE_SCALE` with nodata 0, the scale in
    the ``REFLECTANCE_SCALE`` tag, band names and ``WAVELENGTH_UM`` band tags, CRS
    :data:`CRS` and a 10 m transform placing every patch at its own location.

    The folder is written under a temporary name next to ``root`` and renamed into place, so a
    half-written folder is never seen as ``root``. An existing ``root`` is reused as is.

    Args:
        root: Destination folder.
        num_samples: Number of patches.
        size: Height and width in pixels.
        seed: Generator seed.

    Returns:
        ``root``.

    Raises:
        ValueError: On invalid ``num_samples`` or ``size``.
    """
    root = Path(root)
    if root.is_dir():
        return root
    chunks = _chunks(num_samples, size, seed)
    with atomic_folder(root) as temp:
        for name in CLASS_NAMES:
            (temp / name).mkdir()
        counters = dict.fromkeys(CLASS_NAMES, 0)
        spacing = PIXEL_SIZE_M * size * 1.5
        rows: list[tuple[str, str, str]] = []
        for start, labels in chunks:
            patches = _generate_chunk(np.random.default_rng([seed, 1, start]), labels, size)
            for j in range(len(labels)):
                i = start + j
                name = CLASS_NAMES[patches.labels[j]]
                counters[name] += 1
                relative = f"{name}/{name}_{counters[name]}.tif"
                present = [name]
                if patches.minority_share[j] >= 0.1:
                    present.append(CLASS_NAMES[patches.minority[j]])
                if name != "Cloud" and patches.cloud_cover[j] >= 0.05:
                    present.append("Cloud")
                x0 = 300_000.0 + (i % 128) * spacing
                y0 = 5_500_000.0 - (i // 128) * spacing
                _write_tif(temp / relative, patches.values[j], patches.valid[j], x0, y0,
                           CLASS=name)  # fmt: skip
                rows.append((relative, name, ";".join(present)))
        with open(temp / "labels.csv", "w", newline="") as file:
            writer = csv.writer(file)
            writer.writerow(["path", "label", "labels"])
            writer.writerows(rows)
        (temp / "classes.txt").write_text("\n".join(CLASS_NAMES) + "\n")
        meta = {"generator_version": GENERATOR_VERSION, "num_samples": num_samples,
                "size": size, "seed": seed, "bands": list(BAND_NAMES),
                "wavelengths_um": list(S2_L2A_WAVELENGTHS)}  # fmt: skip
        (temp / "dataset.json").write_text(json.dumps(meta, indent=1))
    return root


def write_scene(path: Path | str, size: int = 512, seed: int = 0) -> tuple[Path, Path]:
    """Write one large synthetic scene and its land-cover raster, for window pretraining.

    The land-cover map is the arg-max of one smoothed random field per ground class (all but
    Cloud); boundaries are sub-pixel mixed, each class carries its texture, and clouds with
    shadows, illumination, haze, band PSFs, noise and a nodata swath corner are added as for
    patches. The label raster (uint8, nodata 255) holds the ground class, or Cloud where cloud
    opacity exceeds 0.5. Both files are written through temporary names and renamed.

    Args:
        path: Destination of the 12-band reflectance GeoTIFF (as in :func:`write_patch_folder`).
        size: Height and width in pixels.
        seed: Generator seed.

    Returns:
        ``(scene_path, label_path)``; the label raster is ``<stem>_labels.tif`` next to it.

    Raises:
        ValueError: When ``size`` is below 64.
    """
    if size < 64:
        raise ValueError(f"size must be >= 64, got {size}")
    path = Path(path)
    label_path = path.with_name(f"{path.stem}_labels.tif")
    rng = np.random.default_rng([seed, 2])
    ends = endmembers(S2_L2A_WAVELENGTHS)
    ground = [k for k in range(NUM_CLASSES) if k != CLOUD]
    fields = _smooth_noise(rng, len(ground), size, size, size / 16)
    cover = np.asarray(ground)[fields.argmax(axis=0)]
    values = np.zeros((1, len(S2_L2A_WAVELENGTHS), size, size), dtype=np.float32)
    for k in ground:
        abundance = gaussian_filter((cover == k).astype(np.float32), 0.7)
        t = _texture(rng, CLASS_NAMES[k], 1, size, size)
        values += abundance[None, None] * _spectra(ends, np.array([k]), t)
    opacity = _clouds(rng, values, ends, np.array([0]))[0]
    values = _sensor(rng, values, np.asarray(S2_L2A_WAVELENGTHS, dtype=np.float32))[0]
    u, v = np.indices((size, size))
    valid = np.broadcast_to(u + v < 1.7 * size, values.shape).copy()
    values[~valid] = 0.0
    labels = np.where(opacity > 0.5, CLOUD, cover).astype(np.uint8)
    labels[~valid[0]] = 255
    path.parent.mkdir(parents=True, exist_ok=True)
    x0, y0 = 600_000.0, 5_200_000.0
    for target, write in (
        (path, lambda p: _write_tif(p, values, valid, x0, y0, KIND="scene")),
        (label_path, lambda p: _write_labels(p, labels, x0, y0)),
    ):
        handle, temp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=path.parent)
        os.close(handle)
        try:
            write(Path(temp))
            os.chmod(temp, 0o644)
            os.replace(temp, target)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise
    return path, label_path


def _write_labels(path: Path, labels: np.ndarray, x0: float, y0: float) -> None:
    height, width = labels.shape
    with rasterio.open(
        path, "w", driver="GTiff", dtype="uint8", count=1, height=height, width=width,
        crs=CRS, transform=Affine(PIXEL_SIZE_M, 0.0, x0, 0.0, -PIXEL_SIZE_M, y0), nodata=255,
    ) as dst:  # fmt: skip
        dst.write(labels[None])
        dst.update_tags(CLASS_NAMES=";".join(CLASS_NAMES))
