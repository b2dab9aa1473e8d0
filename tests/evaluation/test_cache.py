"""The embedding cache returns what was stored, misses when anything changes, survives damage."""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from torch import Tensor, nn

from evaluation.cache import (
    EmbeddingCache,
    cached_embeddings,
    fingerprint_config,
    fingerprint_module,
)
from foundations.encoders import Encoder
from foundations.encoders.patch2d import PatchTokenizer2d
from foundations.toy.datamodule import ShapesDataModule


def tiny_encoder(num_heads: int = 4, seed: int = 0) -> Encoder:
    torch.manual_seed(seed)
    return Encoder(PatchTokenizer2d(3, 16, 4, 32), depth=1, num_heads=num_heads, pool="mean")


class Counting(nn.Module):
    """Delegates to an encoder and counts its forward calls."""

    def __init__(self, encoder: Encoder) -> None:
        super().__init__()
        self.encoder = encoder
        self.calls = 0

    def forward(self, inputs: Tensor) -> Tensor:
        self.calls += 1
        return self.encoder(inputs)


def batches() -> list[dict[str, Any]]:
    generator = torch.Generator().manual_seed(0)
    images = torch.rand(10, 3, 16, 16, generator=generator)
    return [
        {"image": images[i : i + 4], "label": torch.arange(i, min(i + 4, 10)) % 3}
        for i in range(0, 10, 4)
    ]


def test_hit_returns_identical_arrays_and_skips_the_encoder(tmp_path: Path) -> None:
    cache, encoder = EmbeddingCache(tmp_path), Counting(tiny_encoder())
    model_id = fingerprint_module(encoder.encoder)
    first = cached_embeddings(cache, encoder, batches(), model_id, "toy", "train", "image", "cpu")
    assert encoder.calls == 3
    second = cached_embeddings(cache, encoder, batches(), model_id, "toy", "train", "image", "cpu")
    assert encoder.calls == 3  # served from disk
    assert first[1] is not None and second[1] is not None
    assert first[0].dtype == second[0].dtype == np.float32
    np.testing.assert_array_equal(first[0], second[0])
    np.testing.assert_array_equal(first[1], second[1])
    assert [p.name for p in tmp_path.iterdir()] == [f"{cache.key(model_id, 'toy', 'train')}.npz"]


def test_labels_may_be_absent_and_bad_arrays_are_refused(tmp_path: Path) -> None:
    cache = EmbeddingCache(tmp_path)
    cache.put("m", "d", "test", np.ones((3, 2), np.float32))
    hit = cache.get("m", "d", "test")
    assert hit is not None and hit[1] is None
    with pytest.raises(ValueError, match=r"\[N, D\]"):
        cache.put("m", "d", "test", np.ones(3, np.float32))
    with pytest.raises(ValueError, match="labels"):
        cache.put("m", "d", "test", np.ones((3, 2), np.float32), np.ones(2))
    assert cache.get("m", "d", "val") is None


def test_default_root_follows_the_environment() -> None:
    assert EmbeddingCache().root == Path(os.environ["FOUNDATIONS_CACHE"]) / "embeddings"


def test_key_changes_with_weights_dataset_and_split(tmp_path: Path) -> None:
    cache, encoder = EmbeddingCache(tmp_path), tiny_encoder()
    data = ShapesDataModule(num_samples=64, image_size=16).hparams
    model_id, dataset_id = fingerprint_module(encoder), fingerprint_config(data)
    key = cache.key(model_id, dataset_id, "train")
    assert len(key) == 64 and key == cache.key(model_id, dataset_id, "train")
    with torch.no_grad():
        encoder.trunk.norm.weight[0] += 1e-3
    assert cache.key(fingerprint_module(encoder), dataset_id, "train") != key
    other = fingerprint_config({**data, "seed": 1})
    assert cache.key(model_id, other, "train") != key
    assert cache.key(model_id, dataset_id, "val") != key


def test_corrupt_file_is_a_miss_and_is_rewritten(tmp_path: Path) -> None:
    cache, encoder = EmbeddingCache(tmp_path), Counting(tiny_encoder())
    expected = cached_embeddings(cache, encoder, batches(), "m", "d", "train", "image", "cpu")
    path = cache.path("m", "d", "train")
    path.write_bytes(path.read_bytes()[:100])  # truncated, as by a crash of a non-atomic write
    with pytest.warns(RuntimeWarning, match=path.name):
        again = cached_embeddings(cache, encoder, batches(), "m", "d", "train", "image", "cpu")
    assert encoder.calls == 6  # recomputed
    np.testing.assert_array_equal(again[0], expected[0])
    assert cache.get("m", "d", "train") is not None  # rewritten, readable again


def test_pickled_or_misfiled_entries_are_never_trusted(tmp_path: Path) -> None:
    cache = EmbeddingCache(tmp_path)
    path = cache.path("m", "d", "train")
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as file:
        np.savez(file, identity=np.array(["m", "d", "train"]), embeddings=np.array([{}, {}]))
    with pytest.warns(RuntimeWarning, match=path.name):
        assert cache.get("m", "d", "train") is None  # object arrays would need unpickling
    cache.put("m", "d", "val", np.ones((2, 2), np.float32))
    os.replace(cache.path("m", "d", "val"), path)  # another entry's file under this name
    with pytest.warns(RuntimeWarning, match="holds the entry of"):
        assert cache.get("m", "d", "train") is None


def test_fingerprint_changes_iff_weights_change() -> None:
    encoder = tiny_encoder()
    reference = fingerprint_module(encoder)
    assert fingerprint_module(copy.deepcopy(encoder).eval()) == reference  # mode is not identity
    rebuilt = tiny_encoder(seed=1)
    assert fingerprint_module(rebuilt) != reference
    rebuilt.load_state_dict(encoder.state_dict())
    assert fingerprint_module(rebuilt) == reference
    with torch.no_grad():
        dict(rebuilt.named_parameters())["tokenizer.patch_embed.proj.bias"][3] += 1e-6
    assert fingerprint_module(rebuilt) != reference
    assert fingerprint_module(copy.deepcopy(encoder).double()) != reference  # dtype counts
    # Same weights read by a different architecture: not the same model.
    heads = tiny_encoder(num_heads=8)
    heads.load_state_dict(encoder.state_dict())
    assert fingerprint_module(heads) != reference


def test_fingerprint_config_is_canonical() -> None:
    config = {"num_samples": 64, "sizes": (16, 16), "root": Path("/data"), "seed": np.int64(0)}
    reordered = {"seed": 0, "root": "/data", "sizes": [16, 16], "num_samples": 64}
    assert fingerprint_config(config) == fingerprint_config(reordered)
    assert fingerprint_config(config) != fingerprint_config({**config, "num_samples": 65})
    with pytest.raises(TypeError, match="object"):
        fingerprint_config({"transform": object()})
