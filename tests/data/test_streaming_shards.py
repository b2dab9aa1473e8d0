"""LitData shards: exact round trips per domain, shuffling across shards, the CLI, bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from litdata.utilities.env import _DistributedEnv
from streaming_support import IdDataModule, IdDataset, assert_same, tiny_datamodule

import foundations.data
from foundations.cli.main import main as foundations_main
from foundations.data import StreamingDataModule, write_shards
from foundations.data.streaming import (
    BufferedStreamingDataset,
    SampleSchemaError,
    ShardFormatError,
    read_manifest,
)
from foundations.data.streaming.datamodule import TrainerEpochLoader
from foundations.data.streaming.writer import split_dataset

RECIPES = Path(__file__).resolve().parents[2] / "recipes"


@pytest.mark.parametrize(
    ("domain", "chunk_bytes"),
    [("remote_sensing", "32KB"), ("medical", "40KB"), ("astronomy", "8KB")],
)
def test_domain_samples_round_trip_exactly(domain: str, chunk_bytes: str, tmp_path: Path) -> None:
    datamodule = tiny_datamodule(domain)
    folder = write_shards(datamodule, tmp_path, split="val", chunk_bytes=chunk_bytes)
    source = split_dataset(datamodule, "val")
    manifest = read_manifest(folder)
    assert manifest["count"] == len(source) and manifest["split"] == "val"  # type: ignore[arg-type]
    assert not manifest["shuffled"]  # evaluation splits keep the source order
    assert manifest["source"]["class_path"].startswith(f"domains.{domain}.")
    shards = BufferedStreamingDataset(str(folder))
    assert len(shards) == len(source)  # type: ignore[arg-type]
    for i in range(len(shards)):
        assert_same(shards[i], source[i])
    assert len(json.loads((folder / "index.json").read_text())["chunks"]) > 1


def test_every_leaf_kind_keeps_dtype_and_value(tmp_path: Path) -> None:
    class Mixed(IdDataset):
        def __getitem__(self, index: int) -> dict[str, Any]:
            generator = torch.Generator().manual_seed(index)
            return {
                "image": {
                    "values": torch.randn(2, 3, 3, generator=generator).half(),
                    "wavelengths": torch.tensor([0.4903, 0.5598], dtype=torch.float64),
                    "valid": torch.rand(2, 3, 3, generator=generator) > 0.5,
                    "series": torch.arange(index + 1, dtype=torch.float32),  # varying length
                },
                "counts": np.arange(4, dtype=np.uint16),
                "nan": torch.tensor([float("nan"), 1.0]),
                "label": torch.tensor(index % 3),
                "scalar": np.float32(0.25),  # numpy scalars come back as 0-d tensors
                "name": f"obj{index}",
                "n": index,
                "t0": 2459000.123456789,
                "flag": bool(index % 2),
            }

    datamodule = IdDataModule()
    datamodule.splits = {"train": Mixed(6)}
    folder = write_shards(datamodule, tmp_path, shuffle=False)
    shards = BufferedStreamingDataset(str(folder))
    for i in range(6):
        expected = {**Mixed(6)[i], "scalar": torch.tensor(0.25, dtype=torch.float32)}
        assert_same(shards[i], expected)
    schema = read_manifest(folder)["schema"]
    assert schema["image/series"] == {"kind": "tensor", "dtype": "float32", "shape": [None]}
    assert schema["image/values"]["dtype"] == "float16"
    assert schema["t0"]["kind"] == "float" and schema["counts"]["dtype"] == "uint16"


def _chunk_of(folder: Path) -> np.ndarray:
    sizes = [c["chunk_size"] for c in json.loads((folder / "index.json").read_text())["chunks"]]
    return np.repeat(np.arange(len(sizes)), sizes)


def _epoch_ids(loader: Any) -> list[list[int]]:
    return [batch["id"].tolist() for batch in loader]


def _flat(batches: list[list[int]]) -> list[int]:
    return [i for batch in batches for i in batch]


@pytest.fixture(scope="module")
def id_shards(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("ids")
    write_shards(IdDataModule(200), root, shuffle=False, chunk_bytes="1KB")
    write_shards(IdDataModule(200), root, split="val", chunk_bytes="1KB")
    return root


def test_batches_mix_shards_and_order_depends_only_on_seed_and_epoch(id_shards: Path) -> None:
    chunk = _chunk_of(id_shards / "train")
    assert chunk.max() >= 9  # many shards

    def module(seed: int) -> StreamingDataModule:
        data = StreamingDataModule(str(id_shards), batch_size=8, seed=seed, shuffle_buffer=32)
        data.setup("fit")
        return data

    loader = module(0).train_dataloader()
    first, second = _epoch_ids(loader), _epoch_ids(loader)
    for epoch in (first, second):
        assert sorted(_flat(epoch)) == list(range(200))  # every sample once per epoch
        mixed = [len(set(chunk[batch])) for batch in epoch]
        assert np.mean(mixed) >= 2.5, mixed  # batches draw from several shards
    assert first != second  # a new order each epoch
    assert _epoch_ids(module(0).train_dataloader()) == first  # reproducible for a seed
    assert _epoch_ids(module(1).train_dataloader()) != first


def test_ranks_and_workers_split_the_shards(id_shards: Path) -> None:
    seen: list[int] = []
    for rank in range(2):
        dataset = BufferedStreamingDataset(
            str(id_shards / "train"), shuffle=True, seed=3, drop_last=False, shuffle_buffer=16
        )
        dataset.distributed_env = _DistributedEnv(2, rank, 1)
        seen += [int(sample["id"]) for sample in dataset]
    assert sorted(seen) == list(range(200))
    data = StreamingDataModule(str(id_shards), batch_size=5, num_workers=2, shuffle_buffer=16)
    data.setup("fit")
    assert sorted(_flat(_epoch_ids(data.train_dataloader()))) == list(range(200))


def test_evaluation_splits_come_back_in_order(id_shards: Path) -> None:
    data = StreamingDataModule(str(id_shards), batch_size=7)
    data.setup()
    assert sorted(data.datasets) == ["train", "val"]
    assert _flat(_epoch_ids(data.split_dataloader("val"))) == list(range(50))
    assert _flat(_epoch_ids(data.split_dataloader("train"))) == list(range(200))
    with pytest.raises(RuntimeError, match="no 'test' shards"):
        data.test_dataloader()


def test_cli_shards_a_recipe_datamodule(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    args = ["data", "shard", "--data", str(RECIPES / "remote_sensing" / "mae_synthetic.yaml")]
    args += ["--output", str(tmp_path / "shards"), "--split", "train", "test"]
    args += ["--chunk-bytes", "32KB", "--data.init_args.num_samples", "40"]
    assert foundations_main([*args, "--data.init_args.size", "16"]) == 0
    assert "wrote 24 train samples" in capsys.readouterr().out
    manifest = read_manifest(tmp_path / "shards" / "train")
    assert manifest["shuffled"] and manifest["source"]["init_args"]["num_samples"] == 40
    assert manifest["source"]["config"].endswith("mae_synthetic.yaml")
    data = StreamingDataModule(str(tmp_path / "shards"), batch_size=4)
    data.setup()
    labels = torch.cat([batch["label"] for batch in data.split_dataloader("test")])
    assert len(labels) == 8 and data.schema()["image/wavelengths"]["dtype"] == "float32"
    assert foundations_main([*args, "--data.init_args.size", "16"]) == 2  # exists: no overwrite
    assert "--overwrite" in capsys.readouterr().err


def test_missing_or_corrupt_shards_name_the_path(id_shards: Path, tmp_path: Path) -> None:
    with pytest.raises(ShardFormatError, match=str(tmp_path / "none")):
        StreamingDataModule(str(tmp_path / "none"), batch_size=2).setup()
    (tmp_path / "empty").mkdir()
    with pytest.raises(ShardFormatError, match="no train/ shard folder"):
        StreamingDataModule(str(tmp_path / "empty"), batch_size=2).setup()
    broken = tmp_path / "broken"
    write_shards(IdDataModule(40), broken, shuffle=False, chunk_bytes="1KB")
    manifest = broken / "train" / "manifest.json"
    text = manifest.read_text()
    manifest.write_text("{not json")
    with pytest.raises(ShardFormatError, match=f"{manifest} is not valid JSON"):
        StreamingDataModule(str(broken), batch_size=2).setup()
    manifest.unlink()
    with pytest.raises(ShardFormatError, match=f"shard manifest not found: {manifest}"):
        StreamingDataModule(str(broken), batch_size=2).setup()
    manifest.write_text(text)
    chunk = broken / "train" / "chunk-0-1.bin"
    chunk.write_bytes(chunk.read_bytes()[:10])
    with pytest.raises(ShardFormatError, match=f"shard {chunk} has 10 bytes"):
        StreamingDataModule(str(broken), batch_size=2).setup()
    chunk.unlink()
    with pytest.raises(ShardFormatError, match=f"shard {chunk} .* is missing"):
        StreamingDataModule(str(broken), batch_size=2).setup()


def test_unwritable_samples_are_refused_with_the_key(tmp_path: Path) -> None:
    class Bad(IdDataset):
        def __init__(self, sample: Any) -> None:
            super().__init__(3)
            self.bad = sample

        def __getitem__(self, index: int) -> dict[str, Any]:
            return super().__getitem__(index) if index < 2 else self.bad

    datamodule = IdDataModule()
    cases = {
        "'nested/name' holds a NoneType": {**IdDataset(3)[2], "nested": {"name": None}},
        "key 'x'.*float32": {**IdDataset(3)[2], "x": torch.zeros(3)},
        "sample 2 has keys": {"id": torch.tensor(2)},
        "dtype torch.bfloat16": {**IdDataset(3)[2], "x": torch.zeros(3, dtype=torch.bfloat16)},
    }
    for i, (message, sample) in enumerate(cases.items()):
        datamodule.splits = {"train": Bad(sample)}
        with pytest.raises(SampleSchemaError, match=message):
            write_shards(datamodule, tmp_path / str(i), shuffle=False)


def test_the_shuffle_epoch_follows_the_trainer(id_shards: Path) -> None:
    data = StreamingDataModule(str(id_shards), batch_size=8, shuffle_buffer=32)
    data.setup("fit")
    fresh = data.train_dataloader()
    first, second = _epoch_ids(fresh), _epoch_ids(fresh)
    epoch = 1  # what Lightning reports after a restore at the end of the first epoch
    resumed = TrainerEpochLoader(data.datasets["train"], epoch=lambda: epoch, batch_size=8)
    assert _epoch_ids(resumed) == second
    epoch = 0
    assert _epoch_ids(resumed) == first


def test_data_package_loads_litdata_only_when_streaming_is_used() -> None:
    code = (
        "import sys, foundations.data; loaded = 'litdata' in sys.modules; "
        "foundations.data.StreamingDataModule; print(loaded, 'litdata' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "True"]
    with pytest.raises(AttributeError, match="no attribute 'Streaming'"):
        foundations.data.Streaming  # noqa: B018
