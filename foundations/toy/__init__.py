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
)
