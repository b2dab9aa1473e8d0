"""Push a trained toy encoder, serve the hub over HTTP, pull, verify, embed identically."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from pathlib import Path

import hub_support
import pytest
import torch
from hub_support import LoopbackServer

import foundations.hub as hub
from evaluation.models import resolve_model
from foundations.hub.checkpoint import find_checkpoint
from foundations.methods import load_method
from foundations.toy.datamodule import ShapesDataModule

# Fixtures shared by the hub tests (trained once per session).
serve = hub_support.serve
toy_checkpoint = hub_support.toy_checkpoint
toy_run = hub_support.toy_run


def _images() -> torch.Tensor:
    datamodule = ShapesDataModule(num_samples=320, batch_size=32)
    datamodule.setup()
    return next(iter(datamodule.split_dataloader("test")))["image"]


def _results(path: Path, checkpoint: Path) -> Path:
    """A ``results.json`` as ``foundations eval`` writes it (the fields the card reads)."""
    results = {
        "benchmark": {"name": "toy-shapes", "primary_metric": "accuracy"},
        "dataset_id": "0" * 64,
        "split": "random",
        "models": {
            "toy/last.ckpt": {"source": "checkpoint", "model_id": "x", "path": str(checkpoint)}
        },
        "candidates": {
            "toy/last.ckpt": {
                "linear": {"accuracy": 0.81, "macro_f1": 0.8, "confusion": [[1, 0], [0, 1]]},
                "label_efficiency": {"rows": [], "summary": {"0.1": {"accuracy": 0.5}}},
            },
            "raw inputs": {"linear": {"accuracy": 0.4}},
        },
        "versions": {"torch": torch.__version__},
        "created": "2025-01-01T00:00:00+00:00",
    }
    path.write_text(json.dumps(results))
    return path


def test_push_serve_pull_verify_gives_identical_embeddings(
    toy_run: Path, toy_checkpoint: Path, serve: Callable[[Path], LoopbackServer], tmp_path: Path
) -> None:
    local = tmp_path / "hub"
    results = _results(tmp_path / "results.json", toy_checkpoint)
    card = hub.push(toy_run, "toy-simclr", local, results=[results], licence="Apache-2.0")
    assert card.version == "1" and card.parent is not None
    assert card.parent["file"] == "last.ckpt" and len(card.parent["sha256"]) == 64
    assert card.architecture["init_args"]["tokenizer"]["init_args"]["patch_size"] == 8
    assert card.modality["channels"] == 3 and card.modality["name"] == "image"
    assert card.training["method"] == "foundations.methods.SimCLR"
    assert card.training["data"]["class_path"].endswith("ShapesDataModule")
    evaluation = card.evaluation["toy-shapes"]
    assert evaluation["model"] == "toy/last.ckpt"
    assert evaluation["candidates"]["toy/last.ckpt"]["linear"] == {
        "accuracy": 0.81,
        "macro_f1": 0.8,
    }
    assert set(card.files) == {"model.safetensors", "README.md"}
    readme = (local / "toy-simclr" / "1" / "README.md").read_text()
    assert "# toy-simclr@1" in readme and "toy-shapes" in readme

    url = serve(local).url
    assert [row["name"] for row in hub.list_models(url)] == ["toy-simclr"]
    assert hub.show("toy-simclr", url).files == card.files
    cache = tmp_path / "empty-cache"
    pulled = hub.pull("toy-simclr", url, cache)
    assert pulled.ref == "toy-simclr@1" and not pulled.offline
    report = hub.verify("toy-simclr@1", url, cache)
    assert report["files"]["model.safetensors"] == card.files["model.safetensors"]["sha256"]

    encoder = hub.load("toy-simclr@1", hub=url, cache=cache)
    assert not encoder.training and encoder.hub_card.licence == "Apache-2.0"
    original = load_method(toy_checkpoint).embedding_encoder().eval()
    images = _images()
    with torch.no_grad():
        assert torch.equal(encoder(images), original(images))

    second = hub.push(toy_checkpoint, "toy-simclr", local)
    assert second.version == "2"
    assert hub.show("toy-simclr", url).version == "2"  # the latest
    assert [r["version"] for r in hub.list_models(url)] == ["1", "2"]


def test_offline_use_comes_from_the_cache(
    toy_checkpoint: Path,
    serve: Callable[[Path], LoopbackServer],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    hub.push(toy_checkpoint, "toy", tmp_path / "hub", version="0.1")
    server = serve(tmp_path / "hub")
    monkeypatch.setenv("FOUNDATIONS_HUB", server.url)
    monkeypatch.setenv("FOUNDATIONS_CACHE", str(tmp_path / "cache"))
    online = hub.load("toy")  # default hub and cache from the environment
    server.stop()  # the hub goes away
    with pytest.raises(hub.HubUnreachableError):
        hub.list_models()
    offline_pull = hub.pull("toy")
    assert offline_pull.offline and offline_pull.card.version == "0.1"
    offline = hub.load("toy@0.1")
    images = torch.rand(2, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(offline(images), online(images))
    with pytest.raises(hub.HubUnreachableError, match="not in the cache"):
        hub.pull("other")


def test_concurrent_pulls_download_once_and_agree(
    toy_checkpoint: Path, serve: Callable[[Path], LoopbackServer], tmp_path: Path
) -> None:
    hub.push(toy_checkpoint, "toy", tmp_path / "hub")
    url = serve(tmp_path / "hub").url
    cache = tmp_path / "cache"
    folders: list[Path] = []
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            folders.append(hub.pull("toy", url, cache).folder)
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors and len(set(folders)) == 1
    version_dir = folders[0].parent
    assert sorted(p.name for p in version_dir.iterdir() if not p.name.endswith(".lock")) == ["1"]
    assert sorted(p.name for p in folders[0].iterdir()) == [
        "README.md",
        "card.json",
        "model.safetensors",
    ]


def test_run_folder_picks_last_and_eval_resolves_hub_specs(
    toy_run: Path, toy_checkpoint: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert find_checkpoint(toy_run) == toy_checkpoint
    hub.push(toy_checkpoint, "toy", tmp_path / "hub")
    monkeypatch.setenv("FOUNDATIONS_HUB", str(tmp_path / "hub"))
    resolved = resolve_model("hub:toy@1")
    assert resolved.source == "hub" and resolved.path is not None
    original = load_method(toy_checkpoint).embedding_encoder().eval()
    images = torch.rand(2, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(resolved.encoder(images), original(images))
    with pytest.raises(FileNotFoundError, match=r"hub:nothing.*no model 'nothing'"):
        resolve_model("hub:nothing")


def test_run_folder_prefers_the_recorded_best_checkpoint(tmp_path: Path) -> None:
    folder = tmp_path / "run" / "checkpoints"
    folder.mkdir(parents=True)
    best = folder / "epoch=3-step=40.ckpt"
    torch.save({"state_dict": {}}, best)
    torch.save({"state_dict": {}}, folder / "epoch=4-step=50.ckpt")
    callbacks = {
        "ModelCheckpoint{'monitor': 'val/loss'}": {
            "monitor": "val/loss",
            "best_model_path": str(best),
        }
    }
    torch.save({"state_dict": {}, "callbacks": callbacks}, folder / "last.ckpt")
    assert find_checkpoint(tmp_path / "run") == best
    (folder / "last.ckpt").unlink()
    assert find_checkpoint(tmp_path / "run").name == "epoch=4-step=50.ckpt"
    (tmp_path / "empty").mkdir()
    with pytest.raises(hub.HubNotFoundError, match=r"no \.ckpt file"):
        find_checkpoint(tmp_path / "empty")
