"""Every remote-sensing recipe runs end to end on tiny generated data; one encoder, any bands."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio
import torch
from cli_overrides import ONE_CPU_PROCESS
from rasterio.transform import from_origin

from domains.remote_sensing.tokenizer import WavelengthPatchTokenizer
from foundations.cli.lightning_cli import FoundationsCLI
from foundations.encoders import Encoder

RECIPES = Path(__file__).resolve().parents[3] / "recipes" / "remote_sensing"
SYNTHETIC = ["simclr_synthetic", "mae_synthetic", "dino_synthetic"]
TINY_PATCHES = [
    "--data.init_args.num_samples",
    "96",
    "--data.init_args.size",
    "32",
    "--data.init_args.batch_size",
    "16",
    "--model.init_args.encoder.init_args.tokenizer.init_args.image_size",
    "32",
]


def write_scene(folder: Path, bands: int, size: int = 40) -> list[str]:
    """Single-band float32 GeoTIFFs with a nodata corner, one per band."""
    folder.mkdir(parents=True, exist_ok=True)
    names = []
    rng = np.random.default_rng(0)
    for band in range(bands):
        data = rng.uniform(0.0, 0.5, (size, size)).astype(np.float32)
        data[:5, :5] = -9999.0
        name = f"band{band}.tif"
        with rasterio.open(
            folder / name,
            "w",
            driver="GTiff",
            width=size,
            height=size,
            count=1,
            dtype="float32",
            crs="EPSG:32617",
            transform=from_origin(0, 0, 30, 30),
            nodata=-9999.0,
        ) as dst:
            dst.write(data, 1)
        names.append(name)
    return names


def run(args: list[str], root: Path) -> FoundationsCLI:
    common = [
        "--trainer.fast_dev_run",
        "true",
        "--trainer.default_root_dir",
        str(root),
        "--trainer.logger",
        "false",
        "--trainer.enable_progress_bar",
        "false",
    ]
    return FoundationsCLI(args=["fit", *args, *common])


@pytest.mark.parametrize("recipe", SYNTHETIC)
def test_synthetic_recipes_run(recipe: str, tmp_path: Path) -> None:
    extra = list(TINY_PATCHES)
    if recipe in ("simclr_synthetic", "dino_synthetic"):
        extra += ["--model.init_args.augment.init_args.size", "32"]
    if recipe == "dino_synthetic":
        extra += ["--model.init_args.local_augment.init_args.size", "32"]
    cli = run(["-c", str(RECIPES / f"{recipe}.yaml"), *extra], tmp_path)
    assert cli.trainer.global_step == 1
    assert torch.isfinite(cli.trainer.callback_metrics["train/loss"])


def test_timeseries_recipe_runs(tmp_path: Path) -> None:
    args = [
        "-c",
        str(RECIPES / "mae_timeseries.yaml"),
        "--data.init_args.num_samples",
        "28",
        "--data.init_args.num_dates",
        "4",
        "--data.init_args.size",
        "16",
        "--data.init_args.batch_size",
        "8",
        "--data.init_args.num_workers",
        "0",
        "--model.init_args.encoder.init_args.tokenizer.init_args.image_size",
        "16",
    ]
    cli = run(args, tmp_path)
    assert cli.trainer.global_step == 1
    assert torch.isfinite(cli.trainer.callback_metrics["train/loss"])
    assert cli.datamodule.num_dates == 4


def test_landsat_recipe_runs_on_a_generated_scene(tmp_path: Path) -> None:
    names = write_scene(tmp_path / "scene", bands=6)
    args = [
        "-c",
        str(RECIPES / "simclr_landsat.yaml"),
        "--data.init_args.scenes",
        f"[{tmp_path / 'scene'}]",
        "--data.init_args.band_files",
        "[" + ", ".join(names) + "]",
        "--data.init_args.windows_per_epoch",
        "32",
        "--data.init_args.batch_size",
        "16",
        "--data.init_args.val_windows",
        "16",
    ]
    cli = run(args, tmp_path / "run")
    assert cli.trainer.global_step == 1


def test_full_size_recipe_parses(tmp_path: Path) -> None:
    # It streams shards (training from them: tests/data/test_streaming_recipes.py).
    args = [
        "-c",
        str(RECIPES / "mae_vitb_scenes.yaml"),
        "--data.init_args.path",
        str(tmp_path / "shards"),
        *ONE_CPU_PROCESS,
    ]
    cli = FoundationsCLI(args=args, run=False)
    assert len(cli.model.encoder.trunk.blocks) == 12
    assert cli.model.encoder.embed_dim == 768


def test_one_encoder_embeds_13_6_and_48_bands() -> None:
    torch.manual_seed(0)
    encoder = Encoder(
        WavelengthPatchTokenizer(image_size=16, patch_size=4, embed_dim=32), depth=1, num_heads=4
    ).eval()
    for bands in (13, 6, 48):
        wavelengths = torch.linspace(0.44, 2.2, bands)
        values = torch.rand(2, bands, 16, 16)
        sample = {
            "values": values,
            "valid": torch.ones_like(values, dtype=torch.bool),
            "wavelengths": wavelengths,
        }
        embedding = encoder(sample)
        assert embedding.shape == (2, 32) and torch.isfinite(embedding).all()
