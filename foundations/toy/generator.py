"""Generated 2D shape images: the toy modality's embedded default dataset.

Each image holds one foreground shape whose *kind* is the label. Everything else is nuisance
that a good self-supervised encoder should learn to ignore: position, size, rotation, foreground
colour and contrast polarity, a coloured background gradient, additive Gaussian noise and
occasional distractor blobs. Because of that nuisance a logistic regression on raw pixels scores
only about 0.3-0.4 on 6 classes (2048 samples; chance 0.17), while the shape stays clearly
visible and a small supervised CNN learns it.

Everything is vectorised over samples with numpy coordinate grids (4096 images of 32x32 take
well under a second) and fully determined by ``seed``. Shapes are drawn as anti-aliased
(approximate) signed-distance fields in a per-sample rotated, scaled frame in which each shape
has "radius" about 1. numpy has no such rasteriser, so it is written here.
"""

from __future__ import annotations

import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np

from foundations.io import atomic_save_npz

CLASS_NAMES: tuple[str, ...] = ("disc", "ring", "square", "triangle", "cross", "bars")
"""Shape classes; the label of an image is the index of its shape here."""

NUM_CLASSES = len(CLASS_NAMES)

GENERATOR_VERSION = 2
"""Bump when the generated images change, so cached files are not reused by mistake."""

# Nuisance ranges, as fractions of the image size where they are lengths. Tuned so that a
# logistic regression on raw pixels of 2048 samples scores about 0.3-0.4 (chance is 1/6): the
# shape centre's jitter and the contrast polarity are what defeat a linear model. Shapes are
# large enough (a radius of 7-11 pixels at 32x32) to span several 8x8 patches, so the toy
# recipes' small ViT can resolve them.
_RADIUS_RANGE = (0.22, 0.34)
_CENTRE_RANGE = (0.35, 0.65)
_BACKGROUND_RANGE = (0.1, 0.6)
_CONTRAST_RANGE = (0.2, 0.5)
_BRIGHT_PROBABILITY = 0.9

_Field = Callable[[np.ndarray, np.ndarray], np.ndarray]


def _disc(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    return np.hypot(u, v) - 1.0


def _ring(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    return np.abs(np.hypot(u, v) - 0.78) - 0.24


def _square(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    return np.maximum(np.abs(u), np.abs(v)) - 0.82


def _triangle(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    # Equilateral triangle with circumradius 1.2: distance to the farthest of its three edges.
    inradius = 0.6
    dist = v - inradius
    for angle in (2 * np.pi / 3, 4 * np.pi / 3):
        dist = np.maximum(dist, u * np.sin(angle) + v * np.cos(angle) - inradius)
    return dist


def _cross(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    half_width, half_length = 0.26, 1.0
    arm_u = np.maximum(np.abs(u) - half_width, np.abs(v) - half_length)
    arm_v = np.maximum(np.abs(v) - half_width, np.abs(u) - half_length)
    return np.minimum(arm_u, arm_v)


def _bars(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    # Two parallel bars with a gap between them.
    return np.maximum(np.abs(np.abs(u) - 0.5) - 0.2, np.abs(v) - 0.95)


_KEYS = ("images", "labels", "class_names")

_FIELDS: tuple[_Field, ...] = (_disc, _ring, _square, _triangle, _cross, _bars)


def generate_shapes(
    num_samples: int, image_size: int = 32, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Generate labelled shape images.

    Classes are balanced (counts differ by at most one) and shuffled.

    Args:
        num_samples: Number of images.
        image_size: Height and width in pixels (at least 16).
        seed: Seed of the numpy generator; the output is a pure function of the arguments.

    Returns:
        ``(images, labels)``: float32 ``[N, 3, H, W]`` in ``[0, 1]`` and int64 ``[N]`` indices
        into :data:`CLASS_NAMES`.

    Raises:
        ValueError: When ``num_samples`` is negative or ``image_size`` is below 16.
    """
    if num_samples < 0:
        raise ValueError(f"num_samples must be >= 0, got {num_samples}")
    if image_size < 16:
        raise ValueError(f"image_size must be >= 16, got {image_size}")
    rng = np.random.default_rng(seed)
    n, size = num_samples, image_size
    labels = rng.permutation(np.arange(n) % NUM_CLASSES).astype(np.int64)

    # Pixel-centre coordinates, broadcast against per-sample parameters of shape [N, 1, 1].
    grid = np.arange(size, dtype=np.float32) + 0.5
    ys, xs = np.meshgrid(grid, grid, indexing="ij")

    def per_sample(values: np.ndarray) -> np.ndarray:
        return values.astype(np.float32).reshape(n, 1, 1)

    radius = rng.uniform(*_RADIUS_RANGE, n) * size
    cx = rng.uniform(*_CENTRE_RANGE, n) * size
    cy = rng.uniform(*_CENTRE_RANGE, n) * size
    theta = rng.uniform(0.0, 2 * np.pi, n)
    dx, dy = xs - per_sample(cx), ys - per_sample(cy)
    cos, sin = per_sample(np.cos(theta)), per_sample(np.sin(theta))
    scale = per_sample(radius)
    u = (cos * dx + sin * dy) / scale
    v = (-sin * dx + cos * dy) / scale

    # Signed distance (in pixels) to the shape edge, then a one-pixel anti-aliased coverage.
    distance = np.empty((n, size, size), dtype=np.float32)
    for index, field in enumerate(_FIELDS):
        chosen = labels == index
        distance[chosen] = field(u[chosen], v[chosen]) * scale[chosen]
    coverage = np.clip(0.5 - distance, 0.0, 1.0)[:, None]  # [N, 1, H, W]

    # Background: a linear gradient between two colours along a random direction.
    start = rng.uniform(*_BACKGROUND_RANGE, (n, 3, 1, 1)).astype(np.float32)
    stop = np.clip(start + rng.normal(0.0, 0.2, (n, 3, 1, 1)), 0.05, 0.95).astype(np.float32)
    direction = rng.uniform(0.0, 2 * np.pi, n)
    ramp = (per_sample(np.cos(direction)) * xs + per_sample(np.sin(direction)) * ys) / size
    ramp = (ramp - ramp.min(axis=(1, 2), keepdims=True)) / np.ptp(ramp, axis=(1, 2), keepdims=True)
    background = start + (stop - start) * ramp[:, None]

    # Foreground: shifted away from the background at the shape centre by a random contrast,
    # brighter or darker (flipped when there is no room), with a random colour tint.
    centre_x = np.clip(cx.astype(np.int64), 0, size - 1)
    centre_y = np.clip(cy.astype(np.int64), 0, size - 1)
    local = background[np.arange(n), :, centre_y, centre_x]  # [N, 3]
    luminance = local.mean(axis=1)
    contrast = rng.uniform(*_CONTRAST_RANGE, n)
    polarity = np.where(rng.random(n) < _BRIGHT_PROBABILITY, 1.0, -1.0)
    no_room = np.where(polarity > 0, 1.0 - luminance, luminance) < contrast
    polarity = np.where(no_room, -polarity, polarity)
    tint = rng.normal(0.0, 0.08, (n, 3))
    foreground = np.clip(local + (polarity * contrast)[:, None] + tint, 0.0, 1.0)
    foreground = foreground.astype(np.float32)[:, :, None, None]
    images = background + (foreground - background) * coverage

    # Distractors: up to two small soft blobs of random colour in about half of the images.
    for _ in range(2):
        present = np.flatnonzero(rng.random(n) < 0.3)
        k = len(present)
        bx = rng.uniform(0, size, (k, 1, 1)).astype(np.float32)
        by = rng.uniform(0, size, (k, 1, 1)).astype(np.float32)
        sigma = rng.uniform(0.04, 0.08, (k, 1, 1)).astype(np.float32) * size
        strength = rng.uniform(0.4, 0.9, (k, 1, 1)).astype(np.float32)
        alpha = (strength * np.exp(-((xs - bx) ** 2 + (ys - by) ** 2) / (2 * sigma**2)))[:, None]
        colour = rng.uniform(0.0, 1.0, (k, 3, 1, 1)).astype(np.float32)
        images[present] += (colour - images[present]) * alpha

    noise_std = rng.uniform(0.02, 0.08, (n, 1, 1, 1)).astype(np.float32)
    images += noise_std * rng.standard_normal(images.shape, dtype=np.float32)
    return np.clip(images, 0.0, 1.0, out=images), labels


def write_shapes(path: Path, num_samples: int, image_size: int = 32, seed: int = 0) -> Path:
    """Generate shapes and save them as a compressed ``.npz``, atomically.

    The file holds ``images`` (float32 ``[N, 3, H, W]``), ``labels`` (int64 ``[N]``) and
    ``class_names`` (str ``[K]``). It is written to a temporary file in the same folder and
    moved into place, so concurrent writers (several ranks) never leave a half-written file.

    Args:
        path: Destination file; parent folders are created.
        num_samples: Number of images.
        image_size: Height and width in pixels.
        seed: Generator seed.

    Returns:
        ``path``.
    """
    images, labels = generate_shapes(num_samples, image_size, seed)
    return atomic_save_npz(
        Path(path), compress=True, images=images, labels=labels, class_names=np.asarray(CLASS_NAMES)
    )


def load_shapes(path: Path | str) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    """Load a file written by :func:`write_shapes`, checking its contents.

    Args:
        path: The ``.npz`` file.

    Returns:
        ``(images, labels, class_names)`` as written.

    Raises:
        FileNotFoundError: When ``path`` does not exist.
        ValueError: Naming the file, when it is not a readable npz archive or its keys, shapes,
            dtypes or label range are wrong.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"shapes file {path} does not exist")
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {key: archive[key] for key in _KEYS if key in archive.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error) as error:
        raise ValueError(f"{path} is not a valid npz archive: {error}") from error
    missing = [key for key in _KEYS if key not in arrays]
    if missing:
        raise ValueError(f"{path}: missing arrays {missing}")
    images, labels = arrays["images"], arrays["labels"]
    class_names = tuple(str(name) for name in arrays["class_names"])
    if images.dtype != np.float32 or images.ndim != 4 or images.shape[1] != 3:
        raise ValueError(
            f"{path}: images must be float32 [N, 3, H, W], got {images.dtype} {images.shape}"
        )
    if labels.dtype != np.int64 or labels.shape != images.shape[:1]:
        raise ValueError(
            f"{path}: labels must be int64 [{images.shape[0]}], got {labels.dtype} {labels.shape}"
        )
    if labels.size and (labels.min() < 0 or labels.max() >= len(class_names)):
        raise ValueError(f"{path}: labels must lie in [0, {len(class_names)})")
    return images, labels, class_names
