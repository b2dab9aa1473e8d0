"""A checkpoint written by a CLI run rebuilds its own architecture, safely and exactly."""

from __future__ import annotations

from pathlib import Path

import torch

from foundations import api
from foundations.methods import SimCLR, load_method
from foundations.toy.datamodule import ShapesDataModule


def test_cli_checkpoint_reloads_without_the_recipe(tmp_path: Path, repo_root: Path) -> None:
    recipe = repo_root / "recipes" / "core" / "clip_toy.yaml"
    overrides = {
        "trainer.max_steps": 2,
        "trainer.default_root_dir": tmp_path,
        "trainer.logger": False,
        "data.init_args.num_samples": 320,
        "data.init_args.batch_size": 32,
    }
    cli = api.fit(recipe, overrides)
    checkpoint = next(tmp_path.rglob("last.ckpt"))
    # weights_only: the checkpoint holds tensors and plain values, no pickled objects.
    raw = torch.load(checkpoint, weights_only=True, map_location="cpu")
    assert raw["hyper_parameters"]["encoders"]["edges"]["init_args"]["modality"] == "edges"

    reloaded = load_method(checkpoint)
    assert type(reloaded) is type(cli.model)
    datamodule = ShapesDataModule(num_samples=320, batch_size=32, paired_edges=True)
    datamodule.setup()
    batch = next(iter(datamodule.split_dataloader("test")))
    cli.model.eval()
    with torch.no_grad():
        assert torch.equal(reloaded.embed(batch)["edges"], cli.model.embed(batch)["edges"])


def test_python_built_method_keeps_modules_out_of_hparams() -> None:
    from conftest import tiny_encoder

    model = SimCLR(tiny_encoder(), hidden_dim=32, projection_dim=8)
    assert "encoder" not in model.hparams
    assert model.hparams["projection_dim"] == 8


def test_load_method_names_the_file_on_bad_input(tmp_path: Path) -> None:
    import pytest

    junk = tmp_path / "junk.ckpt"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match=r"junk\.ckpt"):
        load_method(junk)
    plain = tmp_path / "plain.ckpt"
    torch.save({"state_dict": {}}, plain)
    with pytest.raises(ValueError, match=r"plain\.ckpt.*not written by `foundations fit`"):
        load_method(plain)
    with pytest.raises(FileNotFoundError, match=r"missing\.ckpt"):
        load_method(tmp_path / "missing.ckpt")
