"""Dataset and LightningDataModule for the generated shape images."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset

from foundations.data import LabelledSplitsDataModule
from foundations.io import cache_root
from foundations.toy.generator import GENERATOR_VERSION, load_shapes, write_shapes

"""Environment variable naming the cache folder (default ``~/.cache/foundations``)."""


def default_cache_dir() -> Path:
    """The toy modality's cache folder: ``$FOUNDATIONS_CACHE/toy``."""
    return cache_root() / "toy"


def shapes_file_name(num_samples: int, image_size: int, seed: int) -> str:
    """File name that encodes everything the generated content depends on."""
    return f"shapes-v{GENERATOR_VERSION}-n{num_samples}-s{image_size}-seed{seed}.npz"


def edge_map(image: Tensor) -> Tensor:
    """Gradient magnitude of the grey image, ``[3, H, W]`` -> ``[1, H, W]``: a second view of
    the same object, used as the toy's paired modality for multimodal alignment."""
    grey = image.mean(dim=0)
    dy = torch.zeros_like(grey)
    dx = torch.zeros_like(grey)
    dy[1:-1] = (grey[2:] - grey[:-2]) / 2
    dx[:, 1:-1] = (grey[:, 2:] - grey[:, :-2]) / 2
    return torch.sqrt(dx**2 + dy**2).unsqueeze(0)


class ShapesDataset(Dataset[dict[str, Tensor]]):
    """Shape images held in memory, one sample dict per image.

    Args:
        images: float32 ``[N, 3, H, W]``.
        labels: int64 ``[N]``.
        class_names: Name of each label index.
        edges_missing: Optional ``[N]`` bool. When given, every sample also holds an
            ``"edges"`` modality (:func:`edge_map`) and ``sample["present"]["edges"]``; samples
            marked missing hold zeros there, as samples lacking a modality do.

    Raises:
        ValueError: When ``images``, ``labels`` and ``edges_missing`` differ in length.
    """

    def __init__(
        self,
        images: np.ndarray,
        labels: np.ndarray,
        class_names: tuple[str, ...] = (),
        edges_missing: np.ndarray | None = None,
    ) -> None:
        if len(images) != len(labels):
            raise ValueError(f"{len(images)} images but {len(labels)} labels")
        if edges_missing is not None and len(edges_missing) != len(labels):
            raise ValueError(f"{len(edges_missing)} missing flags for {len(labels)} samples")
        self.images = torch.from_numpy(np.ascontiguousarray(images, dtype=np.float32))
        self.labels = torch.from_numpy(np.ascontiguousarray(labels, dtype=np.int64))
        self.class_names = class_names
        self.edges_missing = (
            None if edges_missing is None else torch.from_numpy(edges_missing.astype(bool))
        )

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> dict[str, Any]:
        """``{"image": FloatTensor[3, H, W], "label": LongTensor[]}``, plus ``"edges"``
        ``[1, H, W]`` and ``"present": {"edges": BoolTensor[]}`` when paired."""
        sample: dict[str, Any] = {"image": self.images[index], "label": self.labels[index]}
        if self.edges_missing is not None:
            missing = self.edges_missing[index]
            edges = edge_map(self.images[index])
            sample["edges"] = torch.zeros_like(edges) if missing else edges
            sample["present"] = {"edges": ~missing}
        return sample


class ShapesDataModule(LabelledSplitsDataModule):
    """Generated shape images, split into train / val / test.

    The data file is generated on first use (:meth:`prepare_data`) into ``root`` and reused
    afterwards; its name encodes the generator version, ``num_samples``, ``image_size`` and
    ``seed``. The split is a random permutation of the file's samples drawn from a generator
    seeded by ``seed`` (independent of the image generator's stream): the first
    ``round(test_fraction * N)`` indices are the test set, the next ``round(val_fraction * N)``
    the validation set and the rest the training set. It is therefore fixed for a given
    ``(num_samples, seed, val_fraction, test_fraction)`` and identical on every rank.

    Args:
        root: Folder holding the generated file; ``None`` means ``$FOUNDATIONS_CACHE/toy``
            (``~/.cache/foundations/toy`` when the variable is unset).
        num_samples: Images in the whole dataset.
        image_size: Height and width in pixels.
        batch_size: Samples per batch, per device.
        num_workers: DataLoader worker processes.
        val_fraction: Fraction of the samples in the validation set.
        test_fraction: Fraction of the samples in the test set.
        seed: Seed of both the generator and the split.
        paired_edges: Add the ``"edges"`` modality (see :class:`ShapesDataset`).
        missing_edges_fraction: Fraction of samples that lack the edges modality (drawn with
            ``seed``), to exercise missing-modality training.

    Raises:
        ValueError: When a size or fraction is out of range.
    """

    def __init__(
        self,
        root: str | None = None,
        num_samples: int = 2048,
        image_size: int = 32,
        batch_size: int = 64,
        num_workers: int = 0,
        val_fraction: float = 0.2,
        test_fraction: float = 0.2,
        seed: int = 0,
        paired_edges: bool = False,
        missing_edges_fraction: float = 0.0,
    ) -> None:
        super().__init__(batch_size, num_workers, seed)
        if num_samples <= 0:
            raise ValueError(f"num_samples must be positive, got {num_samples}")
        if not (0.0 <= val_fraction < 1.0 and 0.0 <= test_fraction < 1.0):
            raise ValueError(
                f"fractions must lie in [0, 1), got val {val_fraction}, test {test_fraction}"
            )
        if val_fraction + test_fraction >= 1.0:
            raise ValueError(
                f"val_fraction + test_fraction must be < 1, got {val_fraction + test_fraction}"
            )
        self.save_hyperparameters()
        self.root = Path(root).expanduser() if root is not None else default_cache_dir()
        self.num_samples = num_samples
        self.image_size = image_size
        self.val_fraction = val_fraction
        self.test_fraction = test_fraction
        self.paired_edges = paired_edges
        self.missing_edges_fraction = missing_edges_fraction
        self.class_names: tuple[str, ...] = ()

    @property
    def path(self) -> Path:
        """The generated data file."""
        return self.root / shapes_file_name(self.num_samples, self.image_size, self.seed)

    @property
    def num_classes(self) -> int:
        """Number of shape classes (known after :meth:`setup`)."""
        return len(self.class_names)

    def prepare_data(self) -> None:
        """Generate the data file unless it already exists (written atomically)."""
        if not self.path.is_file():
            write_shapes(self.path, self.num_samples, self.image_size, self.seed)

    def split_indices(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The fixed ``(train, val, test)`` sample indices described in the class docstring."""
        order = np.random.default_rng([self.seed, 1]).permutation(self.num_samples)
        num_test = round(self.test_fraction * self.num_samples)
        num_val = round(self.val_fraction * self.num_samples)
        test, val = order[:num_test], order[num_test : num_test + num_val]
        return order[num_test + num_val :], val, test

    def setup(self, stage: str | None = None) -> None:
        """Load the file (generating it if :meth:`prepare_data` did not run) and split it.

        Raises:
            ValueError: When the file is invalid, or does not hold ``num_samples`` images of
                ``image_size`` pixels, or the training set is smaller than one batch.
        """
        if self.full is not None:
            return
        self.prepare_data()
        images, labels, class_names = load_shapes(self.path)
        expected = (self.num_samples, 3, self.image_size, self.image_size)
        if images.shape != expected:
            raise ValueError(
                f"{self.path}: expected images of shape {expected}, got {images.shape}"
            )
        train, val, test = self.split_indices()
        if len(train) < self.batch_size:
            raise ValueError(
                f"the training split has {len(train)} samples, fewer than batch_size "
                f"{self.batch_size}; with drop_last it would yield no batch"
            )
        self.class_names = class_names
        missing = None
        if self.paired_edges:
            rng = np.random.default_rng([self.seed, 2])
            missing = rng.random(len(labels)) < self.missing_edges_fraction

        def subset(index: np.ndarray | slice) -> ShapesDataset:
            flags = None if missing is None else missing[index]
            return ShapesDataset(images[index], labels[index], class_names, flags)

        self.full = subset(slice(None))
        self.splits = {"train": subset(train), "val": subset(val), "test": subset(test)}
