"""A tiny generic image modality that proves the engine end to end (tests, demo)."""

from __future__ import annotations

from pathlib import Path

from foundations.registry import DomainPlugin

RECIPES = Path(__file__).resolve().parents[2] / "recipes" / "core"

plugin = DomainPlugin(
    name="toy",
    description="Generated 2D shape images: the core's proof modality (not a science)",
    datasets={"shapes": "foundations.toy.datamodule.ShapesDataModule"},
    tokenizers={"patch2d": "foundations.encoders.patch2d.PatchTokenizer2d"},
    recipes_dir=RECIPES,
    transforms={"image_views": "foundations.toy.augment.ImageViews"},
    benchmarks={
        "toy-shapes": {
            "description": "shape classification of generated images (6 classes)",
            "datamodule": {
                "class_path": "foundations.toy.datamodule.ShapesDataModule",
                "init_args": {"num_samples": 2048, "image_size": 32, "batch_size": 256},
            },
            "split": "random: seeded permutation, 60/20/20 train/val/test",
            "protocols": ["linear", "knn", "label_efficiency"],
            "label_fractions": [0.01, 0.1, 1.0],
            "seeds": [0, 1, 2],
            "classical_baseline": "foundations.toy.baselines.fourier_features",
        }
    },
)
