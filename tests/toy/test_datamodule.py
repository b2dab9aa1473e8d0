"""Tests of the toy dataset, datamodule and view policy."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import torch

from foundations.toy.augment import ImageViews
from foundations.toy.datamodule import (
    ShapesDataModule,
    ShapesDataset,
    default_cache_dir,
    edge_map,
)
from foundations.toy.generator import generate_shapes


def make_module(root: Path, **overrides: object) -> ShapesDataModule:
    settings: dict[str, object] = {"num_samples": 100, "image_size": 16, "batch_size": 8}
    settings.update(overrides)
    return ShapesDataModule(root=str(root), **settings)  # type: ignore[arg-type]


def test_dataset_sample_is_a_dict() -> None:
    images, labels = generate_shapes(5, image_size=16)
    sample = ShapesDataset(images, labels)[2]
    assert set(sample) == {"image", "label"}
    assert sample["image"].shape == (3, 16, 16) and sample["image"].dtype == torch.float32
    assert sample["label"].shape == () and sample["label"].dtype == torch.int64
    assert int(sample["label"]) == int(labels[2])


def test_default_root_follows_cache_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FOUNDATIONS_CACHE", str(tmp_path / "cache"))
    assert default_cache_dir() == tmp_path / "cache" / "toy"
    module = ShapesDataModule(num_samples=100, image_size=16, batch_size=8)
    module.prepare_data()
    assert module.path.parent == tmp_path / "cache" / "toy"
    assert module.path.is_file()
    assert all(str(part) in module.path.name for part in (100, 16))


def test_prepare_reuses_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    module = make_module(tmp_path)
    module.prepare_data()
    first_mtime = module.path.stat().st_mtime_ns

    def fail(*args: object, **kwargs: object) -> None:
        raise AssertionError("the cached file should have been reused")

    monkeypatch.setattr("foundations.toy.datamodule.write_shapes", fail)
    make_module(tmp_path).prepare_data()
    assert module.path.stat().st_mtime_ns == first_mtime
    # A different configuration is a different file, so it must be generated.
    with pytest.raises(AssertionError, match="reused"):
        make_module(tmp_path, seed=1).prepare_data()


def test_splits_are_fixed_disjoint_and_complete(tmp_path: Path) -> None:
    module = make_module(tmp_path, val_fraction=0.2, test_fraction=0.1)
    train, val, test = module.split_indices()
    assert (len(train), len(val), len(test)) == (70, 20, 10)
    assert len(np.union1d(np.union1d(train, val), test)) == 100
    again = make_module(tmp_path, val_fraction=0.2, test_fraction=0.1).split_indices()
    for first, second in zip((train, val, test), again, strict=True):
        np.testing.assert_array_equal(first, second)
    other_seed = make_module(tmp_path, seed=1).split_indices()[2]
    assert not np.array_equal(np.sort(test), np.sort(other_seed[: len(test)]))

    module.setup("fit")
    assert module.train is not None and module.val is not None and module.test is not None
    assert (len(module.train), len(module.val), len(module.test)) == (70, 20, 10)
    assert module.num_classes == 6
    # The split datasets hold exactly the images at the split indices.
    full = module.full
    assert full is not None
    torch.testing.assert_close(module.val.images, full.images[torch.from_numpy(val)])


def test_dataloaders(tmp_path: Path) -> None:
    module = make_module(tmp_path, batch_size=16)
    module.prepare_data()
    module.setup()
    train_batches = list(module.train_dataloader())
    assert len(train_batches) == 60 // 16  # drop_last
    assert all(batch["image"].shape == (16, 3, 16, 16) for batch in train_batches)
    assert train_batches[0]["label"].dtype == torch.int64
    val_loader = module.val_dataloader()
    assert sum(len(batch["label"]) for batch in val_loader) == 20  # nothing dropped
    first = next(iter(module.test_dataloader()))["label"]
    torch.testing.assert_close(first, next(iter(module.test_dataloader()))["label"])
    assert sum(len(batch["label"]) for batch in module.predict_dataloader()) == 100


def test_invalid_configuration(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="fraction"):
        make_module(tmp_path, val_fraction=0.6, test_fraction=0.5)
    with pytest.raises(ValueError, match="batch_size"):
        make_module(tmp_path, batch_size=128).setup()


def test_setup_reports_a_corrupt_cache_file(tmp_path: Path) -> None:
    module = make_module(tmp_path)
    module.path.parent.mkdir(parents=True, exist_ok=True)
    module.path.write_bytes(b"garbage")
    with pytest.raises(ValueError, match=re.escape(str(module.path))):
        module.setup()


def test_views_shape_dtype_and_randomness() -> None:
    torch.manual_seed(0)
    images = torch.from_numpy(generate_shapes(8, image_size=32)[0])
    views = ImageViews(size=24)
    first, second = views(images), views(images)
    assert first.shape == (8, 3, 24, 24) and first.dtype == torch.float32
    assert torch.isfinite(first).all() and torch.isfinite(second).all()
    assert (first - second).abs().mean() > 0.01


def test_views_without_noise_keep_the_full_image_when_scale_is_one() -> None:
    """With every random part disabled but flips, a view is the image up to a flip."""
    images = torch.rand(4, 3, 16, 16)
    views = ImageViews(size=16, scale=(1.0, 1.0), noise_std=0.0, brightness=0.0, contrast=0.0)
    view = views(images)
    candidates = [images, images.flip(-1), images.flip(-2), images.flip(-1).flip(-2)]
    for index in range(len(images)):
        errors = [(view[index] - c[index]).abs().max().item() for c in candidates]
        assert min(errors) < 0.05


def test_views_reject_bad_input() -> None:
    with pytest.raises(ValueError, match="B, C, H, W"):
        ImageViews()(torch.rand(3, 32, 32))
    with pytest.raises(ValueError, match="scale"):
        ImageViews(scale=(0.0, 1.0))


def test_paired_edges_modality_marks_missing_samples(tmp_path: Path) -> None:
    module = ShapesDataModule(
        root=str(tmp_path),
        num_samples=200,
        batch_size=20,
        paired_edges=True,
        missing_edges_fraction=0.3,
    )
    module.setup()
    assert module.full is not None
    samples = [module.full[i] for i in range(len(module.full))]
    present = torch.stack([s["present"]["edges"] for s in samples])
    assert 0.55 < float(present.float().mean()) < 0.85
    for sample in samples:
        assert sample["edges"].shape == (1, 32, 32)
        has_edges = bool(sample["edges"].abs().sum() > 0)
        assert has_edges == bool(sample["present"]["edges"])


def test_edge_map_is_zero_on_flat_images_and_positive_on_a_step() -> None:
    flat = torch.full((3, 8, 8), 0.5)
    assert torch.equal(edge_map(flat), torch.zeros(1, 8, 8))
    step = torch.zeros(3, 8, 8)
    step[:, :, 4:] = 1.0
    edges = edge_map(step)[0]
    assert float(edges[4, 3]) == 0.5 and float(edges[4, 4]) == 0.5
    assert float(edges[4, 0]) == 0.0
