"""``--model`` specs resolve to the right encoder, or fail with a message naming the spec."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from evaluation.cache import fingerprint_module
from evaluation.models import resolve_model
from foundations import api
from foundations.cli.lightning_cli import FoundationsCLI
from foundations.toy.datamodule import ShapesDataModule

RECIPE = Path(__file__).resolve().parents[2] / "recipes" / "core" / "simclr_toy.yaml"


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[FoundationsCLI, Path]:
    root = tmp_path_factory.mktemp("fit")
    overrides = {
        "trainer.max_steps": 2,
        "trainer.default_root_dir": root,
        "trainer.logger": False,
        "data.init_args.num_samples": 320,
        "data.init_args.batch_size": 32,
    }
    cli = api.fit(RECIPE, overrides)
    return cli, next(root.rglob("last.ckpt"))


def test_checkpoint_spec_gives_the_trained_encoder(trained: tuple[FoundationsCLI, Path]) -> None:
    cli, checkpoint = trained
    resolved = resolve_model(f" {checkpoint} ")
    assert (resolved.name, resolved.source, resolved.path) == (
        str(checkpoint),
        "checkpoint",
        checkpoint,
    )
    original = cli.model.embedding_encoder().cpu().eval()
    assert resolved.model_id == fingerprint_module(original)
    datamodule = ShapesDataModule(num_samples=320, batch_size=32)
    datamodule.setup()
    images = next(iter(datamodule.split_dataloader("test")))["image"]
    with torch.no_grad():
        assert torch.equal(resolved.encoder(images), original(images))


def test_random_spec_is_the_recipe_at_its_seed(trained: tuple[FoundationsCLI, Path]) -> None:
    spec = f"random:{RECIPE}"
    first, second = resolve_model(spec), resolve_model(spec)
    assert first.source == "random" and first.name == spec and first.path == RECIPE
    assert first.model_id == second.model_id  # seeded by the recipe's seed_everything
    trained_id = resolve_model(str(trained[1])).model_id
    assert first.model_id != trained_id
    assert not first.encoder.training
    with torch.no_grad():
        out = first.encoder(torch.rand(2, 3, 32, 32))
    assert out.shape == (2, 64)


def test_random_spec_of_a_gpu_recipe_builds_on_the_cpu(tmp_path: Path) -> None:
    gpu_recipe = tmp_path / "gpu.yaml"
    text = RECIPE.read_text()
    gpu = {"accelerator: auto": "accelerator: gpu", "devices: 1": "devices: 4\n  strategy: ddp"}
    for cpu_line, gpu_line in gpu.items():
        assert cpu_line in text
        text = text.replace(cpu_line, gpu_line, 1)
    gpu_recipe.write_text(text)
    resolved = resolve_model(f"random:{gpu_recipe}")
    assert resolved.model_id == resolve_model(f"random:{RECIPE}").model_id
    assert next(resolved.encoder.parameters()).device.type == "cpu"


def test_bad_specs_name_the_spec(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"model spec 'hub:\.\./x'.*invalid model name"):
        resolve_model("hub:../x")
    with pytest.raises(FileNotFoundError, match=r"random:nowhere\.yaml"):
        resolve_model("random:nowhere.yaml")
    with pytest.raises(FileNotFoundError, match=r"missing\.ckpt"):
        resolve_model(str(tmp_path / "missing.ckpt"))
    with pytest.raises(ValueError, match=r"unknown model spec 'resnet50'"):
        resolve_model("resnet50")
    with pytest.raises(ValueError, match="empty model spec"):
        resolve_model("  ")
    with pytest.raises(ValueError, match=r"is a recipe.*'random:"):
        resolve_model(str(RECIPE))
    with pytest.raises(ValueError, match="is a directory"):
        resolve_model(str(tmp_path))
    junk = tmp_path / "junk.ckpt"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match=r"junk\.ckpt"):
        resolve_model(str(junk))
    bad = tmp_path / "bad.yaml"
    bad.write_text(RECIPE.read_text().replace("depth: 2", "dept: 2"))
    with pytest.raises(ValueError, match=r"random:.*bad\.yaml.*dept"):
        resolve_model(f"random:{bad}")
