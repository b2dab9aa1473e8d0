"""The full-size recipes of each domain train from shards written by ``write_shards``."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from streaming_support import tiny_datamodule

from foundations.cli.lightning_cli import ONE_CPU_PROCESS_ARGS, FoundationsCLI
from foundations.data import StreamingDataModule, write_shards

RECIPES = Path(__file__).resolve().parents[2] / "recipes"
CPU = [*ONE_CPU_PROCESS_ARGS, "--trainer.precision", "32-true", "--trainer.logger", "false"]
CPU += ["--trainer.enable_progress_bar", "false", "--trainer.fast_dev_run", "2"]
SMALL_MAE = ["--model.init_args.encoder.init_args.depth", "1", "--model.init_args.decoder_depth"]
SMALL_MAE += ["1", "--model.init_args.decoder_dim", "48"]
TOKENIZER = "--model.init_args.encoder.init_args.tokenizer.init_args"
ASTRO = "--model.init_args.encoders"
RECIPE_OVERRIDES = {
    "remote_sensing/mae_vitb_scenes": [
        *SMALL_MAE,
        *[f"{TOKENIZER}.image_size", "16", f"{TOKENIZER}.embed_dim", "48"],
    ],
    "medical/mae_vitb_ct": [
        *SMALL_MAE,
        *[f"{TOKENIZER}.volume_size", "16", f"{TOKENIZER}.patch_size", "8"],
        *[f"{TOKENIZER}.embed_dim", "48"],
    ],
    "astronomy/clip_trimodal_full": [
        *[f"{ASTRO}.photometry.init_args.depth", "1", f"{ASTRO}.spectrum.init_args.depth", "1"],
        *[f"{ASTRO}.metadata.init_args.depth", "1"],
        *[f"{ASTRO}.spectrum.init_args.tokenizer.init_args.num_pixels", "64"],
    ],
}


@pytest.mark.parametrize("recipe", list(RECIPE_OVERRIDES))
def test_full_size_recipe_trains_from_shards(recipe: str, tmp_path: Path) -> None:
    datamodule = tiny_datamodule(recipe.split("/")[0])
    for split in ("train", "val"):
        write_shards(datamodule, tmp_path / "shards", split=split, chunk_bytes="40KB")
    data = ["--data.init_args.path", str(tmp_path / "shards"), "--data.init_args.batch_size", "4"]
    data += ["--data.init_args.num_workers", "0", "--data.init_args.shuffle_buffer", "8"]
    args = ["fit", "-c", str(RECIPES / f"{recipe}.yaml"), *data, *RECIPE_OVERRIDES[recipe], *CPU]
    cli = FoundationsCLI(args=[*args, "--trainer.default_root_dir", str(tmp_path / "run")])
    assert isinstance(cli.datamodule, StreamingDataModule)
    assert cli.trainer.global_step == 2
    assert torch.isfinite(cli.trainer.callback_metrics["train/loss"])
