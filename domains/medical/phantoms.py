"""The embedded default: synthetic CT phantoms with one focal lesion class each, as NIfTI.

Each synthetic patient has a fixed anatomy, in patient millimetres (RAS+: +x the patient's
right, +y anterior, +z superior): a body of deformed elliptic cross-section with a
subcutaneous fat layer, soft-tissue background with visceral fat, liver (right upper), two
kidneys in perirenal fat with renal sinus fat, a vertebral column with cortical shell and
discs, lung bases at the top, and hepatic vessels. The patient carries one lesion
(:data:`LESION_CLASSES`) in the liver (two thirds of patients) or a kidney:

============  =====================================  ==========================================
class         attenuation                            shape
============  =====================================  ==========================================
none          --                                     --
cyst          0..20 HU (water), homogeneous          round, sharp edge (0.25 mm), r 4..6 mm
solid         host organ -/+ 25..45 HU (~30..100)    lobulated, soft edge, textured, r 4..6 mm
calcified     focus 400..900 HU, r 2.6..3.6 mm, or     focus: round; rim: 10..30 HU core with a
              rim 300..600 HU around a fluid core    0.8..1.2 mm (partly open) calcified shell
============  =====================================  ==========================================

Kidney lesions are smaller (r 2.8..3.8 mm, rims 3..4 mm; cysts 0..12 HU). Every patient
is scanned 1..4 times; each scan varies the nuisances: in-plane spacing 0.7..1.0 mm, slice
spacing 1.5..4 mm (16..40 slices of 48 x 48), table position, patient rotation about the
long axis (+-15 degrees), contrast enhancement of liver, kidneys and vessels, the lesion's
size (+-15 %), a scanner HU scale (0.96..1.04) and offset (+-20 HU), blur and Gaussian noise
(4..12 HU). Files are written in varied voxel orders (RAS, LPS, LAS and permuted axes; the
affine says which), as int16 HU, uint16 with ``scl_inter = -1024`` or float32, so readers
must reorient and rescale.

A templated radiology report goes with every scan: varied wording, lesion type, size and
location, or "no focal lesion"; a fifth of lesion reports name only the location and size.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import nibabel as nib
import numpy as np
from nibabel.orientations import axcodes2ornt, ornt_transform
from scipy.ndimage import gaussian_filter

from foundations.io import atomic_folder

GENERATOR_VERSION = 2
LESION_CLASSES = ("none", "cyst", "solid", "calcified")
IN_PLANE = 48
"""Voxels along x and y of every phantom."""
SLICES = (16, 40)
"""Smallest and largest number of slices."""

STORAGE_ORDERS = (
    ("R", "A", "S"),
    ("L", "P", "S"),
    ("L", "A", "S"),
    ("R", "P", "I"),
    ("A", "S", "R"),
    ("P", "L", "S"),
    ("S", "R", "A"),
)
"""Voxel orders files are written in (the first three are common, the rest are permutations)."""


def _rotation_z(angle: float) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def _small_rotation(rng: np.random.Generator, degrees: float) -> np.ndarray:
    """A random rotation of at most about ``degrees`` around each axis."""
    a, b, c = np.deg2rad(rng.uniform(-degrees, degrees, 3))
    rx = np.array([[1, 0, 0], [0, np.cos(a), -np.sin(a)], [0, np.sin(a), np.cos(a)]])
    ry = np.array([[np.cos(b), 0, np.sin(b)], [0, 1, 0], [-np.sin(b), 0, np.cos(b)]])
    return rx @ ry @ _rotation_z(c)


@dataclass(frozen=True)
class Blob:
    """A deformed ellipsoid: radius modulated by sinusoids of the direction, soft edge.

    Attributes:
        center: ``[3]`` centre in patient mm.
        radii: ``[3]`` semi-axes in mm.
        rotation: ``[3, 3]`` local axes (columns) in the patient frame.
        waves: ``[K, 3]`` direction frequencies of the surface modulation.
        amplitudes: ``[K]`` relative amplitudes of the modulation.
        phases: ``[K]`` phases.
        edge: Width in mm of the soft transition at the surface (partial volume).
    """

    center: np.ndarray
    radii: np.ndarray
    rotation: np.ndarray
    waves: np.ndarray
    amplitudes: np.ndarray
    phases: np.ndarray
    edge: float

    def scaled(self, factor: float, edge: float | None = None) -> Blob:
        """The same shape with radii times ``factor`` (and optionally another edge)."""
        return Blob(
            self.center,
            self.radii * factor,
            self.rotation,
            self.waves,
            self.amplitudes,
            self.phases,
            self.edge if edge is None else edge,
        )

    def half_extent(self) -> np.ndarray:
        """``[3]`` half-size of an axis-aligned box around the blob, patient frame."""
        reach = np.sqrt(((self.rotation * self.radii) ** 2).sum(axis=1))
        return reach * (1 + np.abs(self.amplitudes).sum()) + 2 * self.edge

    def occupancy(self, points: np.ndarray) -> np.ndarray:
        """Fraction of each point inside the blob, in ``[0, 1]``.

        Args:
            points: ``[..., 3]`` patient mm.
        """
        f32 = np.float32
        radii = self.radii.astype(f32)
        q = (points - self.center.astype(f32)) @ self.rotation.astype(f32) / radii
        rho = np.sqrt((q**2).sum(axis=-1))
        u = q / np.maximum(rho, f32(1e-6))[..., None]
        phase = u @ self.waves.T.astype(f32) + self.phases.astype(f32)
        surface = 1.0 + np.sin(phase) @ self.amplitudes.astype(f32)
        scale = np.sqrt(((u * radii) ** 2).sum(axis=-1))
        distance = (surface - rho) * scale
        return (0.5 * (1.0 + np.tanh(distance / f32(self.edge)))).astype(f32)

    @property
    def along_z(self) -> bool:
        """Whether the blob is an upright cylinder for the grid's purposes (its occupancy
        does not change with z, so it can be computed on one slice)."""
        return bool(self.radii[2] >= 500 and np.allclose(self.rotation[:, 2], [0, 0, 1]))


def _blob(
    rng: np.random.Generator,
    center: tuple[float, float, float] | np.ndarray,
    radii: tuple[float, float, float] | np.ndarray,
    roughness: float = 0.03,
    frequency: float = 2.0,
    lobes: int = 3,
    edge: float = 0.5,
    tilt: float = 8.0,
) -> Blob:
    return Blob(
        center=np.asarray(center, dtype=np.float64),
        radii=np.asarray(radii, dtype=np.float64),
        rotation=_small_rotation(rng, tilt),
        waves=rng.normal(size=(lobes, 3)) * frequency,
        amplitudes=rng.uniform(0.3, 1.0, lobes) * roughness,
        phases=rng.uniform(0, 2 * np.pi, lobes),
        edge=edge,
    )


@dataclass(frozen=True)
class Lesion:
    """A patient's focal lesion (``kind`` in :data:`LESION_CLASSES`, not ``"none"``).

    Attributes:
        kind: Lesion class.
        organ: ``"liver"``, ``"right kidney"`` or ``"left kidney"``.
        location: Words for where it is, e.g. ``"upper pole of the left kidney"``.
        shape: The lesion's outer surface.
        attenuation: HU of the lesion (of the calcification for ``calcified``).
        offset: Solid lesions: signed HU difference to the host organ.
        rim: Calcified lesions: a calcified shell around a fluid core instead of a dense focus.
        core: HU of a rim lesion's core.
        rim_width: mm of calcified shell.
        gap: ``[3]`` unit direction where a rim is open.
    """

    kind: str
    organ: str
    location: str
    shape: Blob
    attenuation: float
    offset: float = 0.0
    rim: bool = False
    core: float = 15.0
    rim_width: float = 1.0
    gap: np.ndarray | None = None


@dataclass(frozen=True)
class Anatomy:
    """One synthetic patient's fixed anatomy and lesion.

    Attributes:
        body: Outer body surface.
        inner: Inside of the subcutaneous fat layer.
        liver: Liver.
        kidneys: Right and left kidney.
        sinuses: Renal sinus fat of each kidney.
        spine: Vertebral bodies (a long cylinder).
        lungs: Right and left lung bases.
        vessels: ``[V, 2, 3]`` end points (patient mm) of hepatic vessel segments.
        vessel_radius: mm.
        liver_hu: Unenhanced liver attenuation.
        kidney_hu: Unenhanced kidney attenuation.
        disc_period: mm between intervertebral discs.
        disc_phase: Phase of the disc pattern.
        lesion: The lesion, or ``None`` for class ``"none"``.
    """

    body: Blob
    inner: Blob
    liver: Blob
    kidneys: tuple[Blob, Blob]
    sinuses: tuple[Blob, Blob]
    spine: Blob
    lungs: tuple[Blob, Blob]
    vessels: np.ndarray
    vessel_radius: float
    liver_hu: float
    kidney_hu: float
    disc_period: float
    disc_phase: float
    lesion: Lesion | None


def _inside(rng: np.random.Generator, organ: Blob, fraction: float) -> np.ndarray:
    """A random point within ``fraction`` of ``organ``'s radii from its centre."""
    while True:
        q = rng.uniform(-1, 1, 3)
        if q @ q <= 1:
            return organ.center + organ.rotation @ (q * fraction * organ.radii)


def _location(organ: str, blob: Blob, point: np.ndarray) -> str:
    local = blob.rotation.T @ (point - blob.center) / blob.radii
    if organ == "liver":
        lobe = "right" if local[0] > -0.25 else "left"
        level = "superior " if local[2] > 0.3 else "inferior " if local[2] < -0.3 else ""
        return f"{level}{lobe} hepatic lobe"
    pole = "upper pole" if local[2] > 0.25 else "lower pole" if local[2] < -0.25 else "interpolar"
    return f"{pole} {'region ' if pole == 'interpolar' else ''}of the {organ}"


def _make_lesion(rng: np.random.Generator, kind: str, anatomy_parts: dict[str, Blob]) -> Lesion:
    organ = str(rng.choice(["liver", "liver", "liver", "liver", "right kidney", "left kidney"]))
    host = anatomy_parts[organ]
    kidney = organ != "liver"
    center = _inside(rng, host, 0.4 if kidney else 0.55)
    location = _location(organ, host, center)
    big = (2.8, 3.8) if kidney else (4.0, 6.0)
    if kind == "cyst":
        radius = rng.uniform(*big)
        shape = _blob(rng, center, radius * rng.uniform(0.9, 1.1, 3), 0.02, 2.0, 2, 0.25, 30)
        water = rng.uniform(0, 12 if kidney else 20)
        return Lesion(kind, organ, location, shape, attenuation=water)
    if kind == "solid":
        radius = rng.uniform(*big)
        shape = _blob(
            rng,
            center,
            radius * rng.uniform(0.85, 1.15, 3),
            rng.uniform(0.07, 0.12),
            rng.uniform(3.0, 5.0),
            4,
            0.7,
            30,
        )
        offset = rng.uniform(25, 45)
        return Lesion(kind, organ, location, shape, attenuation=0.0, offset=offset)
    if kind != "calcified":
        raise ValueError(f"unknown lesion class {kind!r}; known: {LESION_CLASSES}")
    if rng.random() < 0.5:
        radius = rng.uniform(2.6, 3.6)
        shape = _blob(rng, center, radius * rng.uniform(0.85, 1.15, 3), 0.05, 3.0, 3, 0.3, 30)
        return Lesion(kind, organ, location, shape, attenuation=rng.uniform(400, 900))
    radius = rng.uniform(3.0, 5.5 if not kidney else 4.0)
    shape = _blob(rng, center, radius * rng.uniform(0.9, 1.1, 3), 0.03, 2.0, 2, 0.3, 30)
    gap = rng.normal(size=3)
    return Lesion(
        kind,
        organ,
        location,
        shape,
        attenuation=rng.uniform(300, 600),
        rim=True,
        core=rng.uniform(10, 30),
        rim_width=rng.uniform(0.8, 1.2),
        gap=gap / np.linalg.norm(gap),
    )


def make_anatomy(rng: np.random.Generator, kind: str) -> Anatomy:
    """Draw one patient's anatomy carrying a lesion of class ``kind``.

    Args:
        rng: Random source.
        kind: One of :data:`LESION_CLASSES`.

    Returns:
        The :class:`Anatomy`.

    Raises:
        ValueError: On an unknown lesion class.
    """
    if kind not in LESION_CLASSES:
        raise ValueError(f"unknown lesion class {kind!r}; known: {LESION_CLASSES}")
    ax, ay = rng.uniform(14.0, 16.5), rng.uniform(10.5, 12.5)
    body = _blob(rng, (0, 0, 0), (ax, ay, 1000.0), 0.03, 2.0, 3, 0.4, 0.0)
    fat = rng.uniform(1.0, 2.5)
    inner = replace(body, radii=body.radii - np.array([fat, fat, 0.0]))
    liver = _blob(
        rng,
        (rng.uniform(5.0, 6.5), rng.uniform(0.5, 2.5), rng.uniform(6, 10)),
        rng.uniform([6.5, 5.5, 10.0], [8.0, 6.5, 12.0]),
        0.06,
        2.5,
        4,
        0.5,
        12,
    )
    kidneys, sinuses = [], []
    for side in (1.0, -1.0):
        centre = np.array(
            [
                side * rng.uniform(6.5, 7.5),
                rng.uniform(-3.5, -2.5),
                rng.uniform(-8, -5) + (2.5 if side < 0 else 0.0),
            ]
        )
        kidney = _blob(
            rng, centre, rng.uniform([3.6, 3.0, 5.5], [4.2, 3.5, 6.5]), 0.04, 2.0, 3, 0.4, 15
        )
        kidneys.append(kidney)
        sinus_centre = centre + np.array([-side * 1.6, 0.3, 0.0])
        sinuses.append(_blob(rng, sinus_centre, (1.2, 1.0, 2.5), 0.05, 2.0, 2, 0.4, 10))
    spine = _blob(
        rng, (0.0, -ay + rng.uniform(3.3, 4.0), 0.0), (2.4, 2.1, 1000.0), 0.02, 2.0, 2, 0.3, 0.0
    )
    lungs = tuple(
        _blob(
            rng,
            (side * rng.uniform(6.0, 7.0), 0.5, rng.uniform(26, 29)),
            (5.5, 6.0, 12.0),
            0.04,
            2.0,
            3,
            0.5,
            8,
        )
        for side in (1.0, -1.0)
    )
    vessels = np.stack(
        [np.stack([_inside(rng, liver, 0.8), _inside(rng, liver, 0.8)]) for _ in range(2)]
    )
    parts = {"liver": liver, "right kidney": kidneys[0], "left kidney": kidneys[1]}
    lesion = None if kind == "none" else _make_lesion(rng, kind, parts)
    return Anatomy(
        body=body,
        inner=inner,
        liver=liver,
        kidneys=(kidneys[0], kidneys[1]),
        sinuses=(sinuses[0], sinuses[1]),
        spine=spine,
        lungs=(lungs[0], lungs[1]),
        vessels=vessels,
        vessel_radius=rng.uniform(0.7, 1.1),
        liver_hu=rng.uniform(55, 65),
        kidney_hu=rng.uniform(27, 35),
        disc_period=rng.uniform(7.0, 9.0),
        disc_phase=rng.uniform(0, 2 * np.pi),
        lesion=lesion,
    )


@dataclass(frozen=True)
class Phantom:
    """One synthetic scan, in canonical RAS+ voxel order.

    Attributes:
        values: ``[X, Y, Z]`` float32 HU (with the scanner's scale, offset and noise).
        affine: ``[4, 4]`` voxel -> RAS+ mm.
        spacing: ``[3]`` mm.
        label: Index into :data:`LESION_CLASSES`.
        lesion_mask: ``[X, Y, Z]`` float32 fraction of each voxel inside the lesion (zeros
            for ``none``).
        organ: Organ holding the lesion, ``""`` for none.
        diameter_mm: Lesion diameter (twice its mean radius) in this scan, 0 for none.
        host_hu: HU of the organ holding the lesion in this scan (after the scanner's scale and
            offset, before noise), ``nan`` for none.
        report: The synthetic radiology report.
        storage: Voxel order (axis codes) the file is written in.
        dtype: Stored data type: ``"int16"``, ``"uint16"`` (with ``scl_inter = -1024``) or
            ``"float32"``.
    """

    values: np.ndarray
    affine: np.ndarray
    spacing: np.ndarray
    label: int
    lesion_mask: np.ndarray
    organ: str
    diameter_mm: float
    host_hu: float
    report: str
    storage: tuple[str, str, str]
    dtype: str


class _Grid:
    """A canonical voxel grid with the patient pose, for painting blobs in sub-blocks."""

    def __init__(
        self, shape: tuple[int, int, int], affine: np.ndarray, pose: np.ndarray, table: np.ndarray
    ) -> None:
        self.shape = shape
        self.axes = [affine[i, 3] + affine[i, i] * np.arange(n) for i, n in enumerate(shape)]
        self.spacing = np.diag(affine)[:3]
        self.origin = affine[:3, 3]
        self.pose, self.table = pose, table

    def block(self, blob: Blob | None = None) -> tuple[tuple[slice, ...], np.ndarray]:
        """Index slices of the sub-block that may touch ``blob`` (the whole grid for
        ``None``) and its ``[x, y, z, 3]`` patient coordinates."""
        if blob is None:
            index = tuple(slice(0, n) for n in self.shape)
        else:
            centre = self.pose @ blob.center + self.table
            reach = np.abs(self.pose) @ blob.half_extent()
            low = np.floor((centre - reach - self.origin) / self.spacing).astype(int)
            high = np.ceil((centre + reach - self.origin) / self.spacing).astype(int) + 1
            index = tuple(
                slice(max(0, lo), min(n, hi))
                for lo, hi, n in zip(low, high, self.shape, strict=True)
            )
        x, y, z = (axis[i] for axis, i in zip(self.axes, index, strict=True))
        world = np.stack(
            np.broadcast_arrays(x[:, None, None], y[None, :, None], z[None, None, :]), axis=-1
        )
        return index, ((world - self.table) @ self.pose).astype(np.float32)

    def occupancy(self, blob: Blob) -> np.ndarray:
        """Full-grid occupancy of ``blob``."""
        return self.paint(np.zeros(self.shape, dtype=np.float32), blob, 0.0)

    def paint(
        self,
        hu: np.ndarray,
        blob: Blob,
        value: float | np.ndarray,
        within: np.ndarray | None = None,
    ) -> np.ndarray:
        """Composite ``value`` over ``hu`` by the blob's occupancy (optionally times the
        ``within`` occupancy); returns the full-grid occupancy."""
        index, points = self.block(blob)
        full = np.zeros(self.shape, dtype=np.float32)
        if min(s.stop - s.start for s in index) <= 0:
            return full
        if blob.along_z:  # z-invariant: one slice, broadcast
            occupancy = np.repeat(blob.occupancy(points[:, :, :1]), points.shape[2], axis=2)
        else:
            occupancy = blob.occupancy(points)
        if within is not None:
            occupancy *= within[index]
        region = hu[index]
        target = value[index] if isinstance(value, np.ndarray) else np.float32(value)
        hu[index] = region + (target - region) * occupancy
        full[index] = occupancy
        return full


def _linear_weights(fine: int, coarse: int) -> np.ndarray:
    """``[fine, coarse]`` linear interpolation weights spanning the same extent."""
    position = np.linspace(0, coarse - 1, fine)
    low = np.minimum(np.floor(position).astype(int), coarse - 2)
    frac = position - low
    weights = np.zeros((fine, coarse), dtype=np.float32)
    weights[np.arange(fine), low] = 1 - frac
    weights[np.arange(fine), low + 1] = frac
    return weights


def _texture(rng: np.random.Generator, shape: tuple[int, int, int], cells: int = 6) -> np.ndarray:
    """Smooth random field on ``shape`` (unit-variance noise on a coarse grid, trilinearly
    upsampled by separable weight matrices: much cheaper than ``scipy.ndimage.zoom``)."""
    coarse = rng.normal(size=(cells, cells, max(2, cells * shape[2] // shape[0])))
    wx, wy, wz = (_linear_weights(n, c) for n, c in zip(shape, coarse.shape, strict=True))
    return np.einsum("ia,jb,kc,abc->ijk", wx, wy, wz, coarse.astype(np.float32), optimize=True)


def _segment_distance(points: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    ab = b - a
    t = np.clip(((points - a) @ ab) / max(float(ab @ ab), 1e-9), 0.0, 1.0)
    return np.sqrt((((points - a) - t[..., None] * ab) ** 2).sum(axis=-1))


def _reports(
    rng: np.random.Generator, anatomy: Anatomy, diameter: float, slice_mm: float, enhancement: float
) -> str:
    lesion = anatomy.lesion
    size = f"{diameter:.0f} mm"
    sentences = []
    if rng.random() < 0.6:
        technique = (
            "Portal venous phase CT of the abdomen"
            if enhancement > 0.5
            else "Non-contrast CT of the abdomen"
        )
        sentences.append(f"{technique}, {slice_mm:.1f} mm slices.")
    if lesion is None:
        sentences.append(
            str(
                rng.choice(
                    [
                        "No focal lesion in the liver or kidneys.",
                        "Liver and kidneys are unremarkable.",
                        "No focal hepatic or renal abnormality identified.",
                        "Unremarkable solid organs; no focal lesion.",
                        "Homogeneous liver parenchyma. Kidneys normal in size without focal "
                        "lesion.",
                    ]
                )
            )
        )
    elif rng.random() < 0.2:
        sentences.append(
            str(
                rng.choice(
                    [
                        f"{size} focal lesion in the {lesion.location}; comparison with prior "
                        "imaging advised.",
                        f"Abnormality in the {lesion.location}, see key images.",
                        f"Focal finding in the {lesion.location} measuring {size}.",
                    ]
                )
            )
        )
    else:
        loc = lesion.location
        options = {
            "cyst": [
                f"{size} well-circumscribed fluid-attenuation lesion in the {loc}, consistent "
                "with a simple cyst.",
                f"Simple cyst in the {loc}, measuring {size}.",
                f"Sharply marginated hypodense lesion of water density in the {loc} ({size}), "
                "likely a cyst.",
                f"Cyst of the {loc}, {size}, without enhancing component.",
            ],
            "solid": [
                f"{size} lobulated soft-tissue lesion in the {loc}; further characterisation "
                "recommended.",
                f"Solid mass with irregular margins in the {loc}, measuring {size}.",
                f"Ill-defined solid nodule in the {loc} ({size}), indeterminate.",
                f"Heterogeneous soft-tissue density lesion in the {loc}, {size}, suspicious.",
            ],
            "calcified": [
                f"{size} lesion with peripheral rim calcification in the {loc}.",
                f"Rim-calcified cystic lesion in the {loc}, measuring {size}.",
            ]
            if lesion.rim
            else [
                f"Dense calcified focus in the {loc}, {size}, likely a granuloma.",
                f"Punctate calcification in the {loc} ({size}).",
                f"{size} calcified nodule in the {loc}, benign appearance.",
            ],
        }
        sentences.append(str(rng.choice(options[lesion.kind])))
    if rng.random() < 0.5:
        sentences.append(
            str(
                rng.choice(
                    [
                        "Lung bases clear.",
                        "Mild degenerative change of the lumbar spine.",
                        "No free fluid.",
                        "No lymphadenopathy.",
                        "Vertebral body heights maintained.",
                    ]
                )
            )
        )
    return " ".join(sentences)


def scan_phantom(anatomy: Anatomy, rng: np.random.Generator) -> Phantom:
    """Scan ``anatomy`` once with randomly drawn acquisition nuisances.

    Args:
        anatomy: The patient.
        rng: Random source of this scan.

    Returns:
        The :class:`Phantom` (canonical voxel order; ``storage`` says how to write it).
    """
    in_plane = rng.uniform(0.7, 1.0)
    slice_mm = rng.uniform(1.5, 4.0)
    slices = int(np.clip(round(rng.uniform(48, 64) / slice_mm), *SLICES))
    shape = (IN_PLANE, IN_PLANE, slices)
    spacing = np.array([in_plane, in_plane, slice_mm])
    affine = np.diag([*spacing, 1.0])
    affine[:3, 3] = -spacing * (np.array(shape) - 1) / 2
    table = np.array([rng.uniform(-1.5, 1.5), rng.uniform(-1.5, 1.5), rng.uniform(-8, 8)])
    pose = _rotation_z(np.deg2rad(rng.uniform(-15, 15)))
    grid = _Grid(shape, affine.copy(), pose, table)
    affine[:3, 3] += rng.uniform(-100, 100, 3).round(1)  # the scanner's own coordinate origin

    texture = _texture(rng, shape)
    enhancement = float(rng.uniform(0, 1))
    hu = np.full(shape, -1000.0, dtype=np.float32)
    grid.paint(hu, anatomy.body, -100.0 + 8 * texture)
    soft = 12.0 + 8 * texture - 110 * np.clip(_texture(rng, shape, 8) - 0.6, 0, 1)
    inner = grid.paint(hu, anatomy.inner, soft)
    for lung in anatomy.lungs:
        grid.paint(hu, lung, -840.0 + 25 * texture, within=inner)
    liver_hu = anatomy.liver_hu + 30 * enhancement
    liver = grid.paint(hu, anatomy.liver, liver_hu + 4 * texture, within=inner)
    vessel_hu = liver_hu + rng.uniform(-15, -5) + 110 * enhancement
    index, points = grid.block(anatomy.liver)
    if min(s.stop - s.start for s in index) > 0:
        distance = np.min([_segment_distance(points, a, b) for a, b in anatomy.vessels], axis=0)
        tube = 0.5 * (1 + np.tanh((anatomy.vessel_radius - distance) / 0.3)) * liver[index]
        region = hu[index]
        hu[index] = region + (vessel_hu - region) * tube.astype(np.float32)
    kidney_hu = anatomy.kidney_hu + 60 * enhancement
    for kidney, sinus in zip(anatomy.kidneys, anatomy.sinuses, strict=True):
        perirenal = replace(kidney, radii=kidney.radii + 1.5, edge=0.8)
        grid.paint(hu, perirenal, -90.0 + 8 * texture, within=inner)
        grid.paint(hu, kidney, kidney_hu + 3 * texture, within=inner)
        grid.paint(hu, sinus, -70.0, within=inner)
    index, points = grid.block(anatomy.spine)
    disc = np.cos(2 * np.pi * points[..., 2] / anatomy.disc_period + anatomy.disc_phase) > 0.7
    bone = np.zeros(shape, dtype=np.float32)
    bone[index] = np.where(disc, 90.0, 260.0)  # cancellous bone, discs
    outer = grid.paint(hu, anatomy.spine, bone)
    bone[index] = np.where(disc, 90.0, 700.0)  # cortical shell
    marrow = replace(anatomy.spine, radii=anatomy.spine.radii - np.array([0.7, 0.7, 0.0]))
    hu += (bone - hu) * np.clip(outer - grid.occupancy(marrow), 0, 1)

    lesion = anatomy.lesion
    mask = np.zeros(shape, dtype=np.float32)
    diameter, host = 0.0, float("nan")
    if lesion is not None:
        factor = rng.uniform(0.85, 1.15)
        shape_now = lesion.shape.scaled(factor)
        diameter = round(2 * float(np.mean(shape_now.radii)), 1)
        host = liver_hu if lesion.organ == "liver" else kidney_hu
        if lesion.kind == "cyst":
            mask = grid.paint(hu, shape_now, lesion.attenuation)
        elif lesion.kind == "solid":
            sign = -1.0 if host - lesion.offset >= 30 else 1.0
            value = host + sign * lesion.offset + 10 * _texture(rng, shape, 10)
            mask = grid.paint(hu, shape_now, value)
        elif not lesion.rim:
            mask = grid.paint(hu, shape_now, lesion.attenuation)
        else:
            mask = grid.paint(hu, shape_now, lesion.core)
            core = replace(shape_now, radii=shape_now.radii - lesion.rim_width)
            rim = np.clip(mask - grid.occupancy(core), 0, 1)
            index, points = grid.block(shape_now)
            gap = lesion.gap if lesion.gap is not None else np.zeros(3)
            along = (points - shape_now.center) @ gap / (diameter / 2)  # -1..1 across the lesion
            rim[index] *= 0.5 * (1 - np.tanh(3 * (along - 0.6)))  # open on the ``gap`` side
            hu += (np.float32(lesion.attenuation) - hu) * rim

    hu = gaussian_filter(hu, sigma=(0.5, 0.5, 0.35), mode="nearest")
    gain, shift = rng.uniform(0.96, 1.04), rng.uniform(-20, 20)
    hu = hu * gain + shift
    hu += rng.normal(0, rng.uniform(4, 12), shape).astype(np.float32)
    hu = np.maximum(hu, -1024.0).astype(np.float32)
    report = _reports(rng, anatomy, diameter, slice_mm, enhancement)
    order = rng.choice(len(STORAGE_ORDERS), p=[0.3, 0.25, 0.15, 0.1, 0.1, 0.05, 0.05])
    dtype = str(rng.choice(["int16", "uint16", "float32"], p=[0.6, 0.2, 0.2]))
    return Phantom(
        values=hu,
        affine=affine,
        spacing=spacing,
        label=LESION_CLASSES.index(lesion.kind if lesion else "none"),
        lesion_mask=mask,
        organ=lesion.organ if lesion else "",
        diameter_mm=diameter,
        host_hu=float("nan") if lesion is None else host * gain + shift,
        report=report,
        storage=STORAGE_ORDERS[int(order)],
        dtype=dtype,
    )


def _plan(num_volumes: int, seed: int) -> list[tuple[int, int, str]]:
    """``(patient, scans, lesion class)`` of every patient, classes balanced over patients."""
    if num_volumes < 1:
        raise ValueError(f"num_volumes must be positive, got {num_volumes}")
    rng = np.random.default_rng([seed, 0])
    counts: list[int] = []
    while sum(counts) < num_volumes:
        counts.append(int(rng.integers(1, 5)))
    counts[-1] -= sum(counts) - num_volumes
    kinds = rng.permutation(np.arange(len(counts)) % len(LESION_CLASSES))
    return [
        (i, n, LESION_CLASSES[int(k)]) for i, (n, k) in enumerate(zip(counts, kinds, strict=True))
    ]


def generate_phantoms(num_volumes: int, seed: int = 0) -> Iterator[tuple[str, Phantom]]:
    """Yield ``(patient id, phantom)`` for ``num_volumes`` scans, patient after patient.

    Deterministic for a seed; each patient and scan has its own random stream, so the first
    ``n`` scans do not depend on ``num_volumes`` except for the last patient's scan count.

    Raises:
        ValueError: When ``num_volumes`` is not positive.
    """
    for patient, scans, kind in _plan(num_volumes, seed):
        anatomy = make_anatomy(np.random.default_rng([seed, 1, patient]), kind)
        for scan in range(scans):
            yield (
                f"patient{patient:04d}",
                scan_phantom(anatomy, np.random.default_rng([seed, 2, patient, scan])),
            )


def write_nifti(path: Path, phantom: Phantom) -> None:
    """Write a phantom in its storage voxel order and data type (the affine follows)."""
    image = nib.Nifti1Image(phantom.values, phantom.affine)
    transform = ornt_transform(axcodes2ornt(("R", "A", "S")), axcodes2ornt(phantom.storage))
    image = image.as_reoriented(transform)
    data = np.asarray(image.dataobj)
    if phantom.dtype == "int16":
        stored = nib.Nifti1Image(np.round(data).astype(np.int16), image.affine)
    elif phantom.dtype == "uint16":
        raw = np.clip(np.round(data + 1024.0), 0, 65535).astype(np.uint16)
        stored = nib.Nifti1Image(raw, image.affine)
        stored.header.set_slope_inter(1.0, -1024.0)
    else:
        stored = nib.Nifti1Image(data.astype(np.float32), image.affine)
    stored.header.set_xyzt_units("mm", "sec")
    stored.set_qform(image.affine, code=1)
    stored.set_sform(image.affine, code=1)
    nib.save(stored, path)


def write_phantom_folder(root: Path | str, num_volumes: int, seed: int = 0) -> Path:
    """Write ``num_volumes`` phantom CT scans as NIfTI with labels and reports.

    Layout: ``root/volumes/<patient>_<scan>.nii.gz``; ``root/labels.csv`` with columns
    ``path`` (relative to ``root``), ``label`` (class name), ``patient``, ``report``,
    ``organ`` and ``diameter_mm``; ``root/classes.txt`` (:data:`LESION_CLASSES`, one a line);
    ``root/dataset.json`` (generator settings). The folder is written under a temporary name
    and renamed into place; an existing ``root`` is reused as is.

    Args:
        root: Destination folder.
        num_volumes: Number of scans (patients have 1..4 scans each).
        seed: Generator seed.

    Returns:
        ``root``.

    Raises:
        ValueError: When ``num_volumes`` is not positive.
    """
    root = Path(root)
    if root.is_dir():
        return root
    _plan(num_volumes, seed)  # validate before creating anything
    with atomic_folder(root) as temp:
        (temp / "volumes").mkdir()
        rows = []
        scan_of: dict[str, int] = {}
        for patient, phantom in generate_phantoms(num_volumes, seed):
            scan_of[patient] = scan_of.get(patient, 0) + 1
            relative = f"volumes/{patient}_{scan_of[patient]}.nii.gz"
            write_nifti(temp / relative, phantom)
            rows.append(
                (
                    relative,
                    LESION_CLASSES[phantom.label],
                    patient,
                    phantom.report,
                    phantom.organ,
                    f"{phantom.diameter_mm:.1f}",
                )
            )
        with open(temp / "labels.csv", "w", newline="") as file:
            writer = csv.writer(file)
            writer.writerow(["path", "label", "patient", "report", "organ", "diameter_mm"])
            writer.writerows(rows)
        (temp / "classes.txt").write_text("\n".join(LESION_CLASSES) + "\n")
        meta = {
            "generator": "domains.medical.phantoms",
            "generator_version": GENERATOR_VERSION,
            "num_volumes": num_volumes,
            "seed": seed,
            "patients": len(scan_of),
            "classes": list(LESION_CLASSES),
        }
        (temp / "dataset.json").write_text(json.dumps(meta, indent=1))
    return root
