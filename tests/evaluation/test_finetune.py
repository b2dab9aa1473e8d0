"""Fine-tuning: per-layer learning rates, honest epoch choice, and it learns the toy task."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from sklearn.utils.class_weight import compute_class_weight
from torch import nn
from torch.utils.data import DataLoader, Dataset

import evaluation.protocols.finetune as finetune_module
from evaluation.cache import fingerprint_module
from evaluation.protocols.finetune import (
    BestValidationWeights,
    FineTuneClassifier,
    balanced_class_weights,
    finetune,
    layer_decay_groups,
    reinitialized,
    supervised_from_scratch,
)
from foundations.data import Split
from foundations.encoders import Encoder
from foundations.encoders.patch2d import PatchTokenizer2d
from foundations.toy.datamodule import ShapesDataModule


@pytest.fixture(autouse=True)
def _one_thread() -> Iterator[None]:
    """Tiny models run fastest on one thread, and do not fight other processes for cores."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def tiny_encoder(depth: int = 3, pool: str = "cls", embed_dim: int = 32) -> Encoder:
    tokenizer = PatchTokenizer2d(3, 16, 4, embed_dim)
    return Encoder(tokenizer, depth=depth, num_heads=4, pool=pool)  # type: ignore[arg-type]


def test_layer_decay_groups_give_each_layer_its_learning_rate() -> None:
    encoder, head = tiny_encoder(depth=3), nn.Linear(32, 5)
    dict(encoder.named_parameters())["trunk.blocks.1.attn.proj.bias"].requires_grad_(False)
    groups = layer_decay_groups(encoder, head, base_lr=1.0, decay=0.5, weight_decay=0.05)

    lr = {name: g["lr"] for g in groups for name in g["param_names"]}
    wd = {name: g["weight_decay"] for g in groups for name in g["param_names"]}
    assert lr["encoder.tokenizer.patch_embed.proj.weight"] == 0.5**4  # layer 0 of depth 3
    assert lr["encoder.cls_token"] == 0.5**4
    for i in range(3):  # block i is layer i + 1
        assert lr[f"encoder.trunk.blocks.{i}.mlp.fc1.weight"] == 0.5 ** (3 - i)
        assert lr[f"encoder.trunk.blocks.{i}.norm1.bias"] == 0.5 ** (3 - i)
    assert lr["encoder.trunk.norm.weight"] == lr["head.weight"] == lr["head.bias"] == 1.0
    assert wd["encoder.trunk.blocks.0.attn.qkv.weight"] == wd["head.weight"] == 0.05
    assert wd["encoder.cls_token"] == wd["encoder.trunk.norm.weight"] == wd["head.bias"] == 0.0

    trainable = [p for p in [*encoder.parameters(), *head.parameters()] if p.requires_grad]
    grouped = [p for g in groups for p in g["params"]]
    assert len(grouped) == len({id(p) for p in grouped}) == len(trainable)  # each exactly once
    assert {id(p) for p in grouped} == {id(p) for p in trainable}
    assert "encoder.trunk.blocks.1.attn.proj.bias" not in lr  # frozen: left out
    optimizer = torch.optim.AdamW(groups, lr=1.0)  # groups are valid AdamW groups
    assert sorted({g["lr"] for g in optimizer.param_groups}) == [0.0625, 0.125, 0.25, 0.5, 1.0]


def test_attention_pool_trains_with_the_head_and_decay_is_checked() -> None:
    encoder = tiny_encoder(depth=2, pool="attention")
    groups = layer_decay_groups(encoder, nn.Linear(32, 2), 1e-3, 0.75, 0.0)
    lr = {name: g["lr"] for g in groups for name in g["param_names"]}
    assert lr["encoder.attention_pool.query"] == lr["encoder.attention_pool.attn.in_proj_weight"]
    assert lr["encoder.attention_pool.query"] == pytest.approx(1e-3)
    with pytest.raises(ValueError, match="layer decay"):
        layer_decay_groups(encoder, nn.Linear(32, 2), 1e-3, 0.0, 0.0)


def test_reinitialized_draws_every_parameter_afresh() -> None:
    encoder = tiny_encoder(depth=2, pool="attention")
    with torch.no_grad():
        for param in encoder.parameters():
            param.add_(1.0)  # as if trained: nothing is at its initial value
    trained = {name: p.detach().clone() for name, p in encoder.named_parameters()}
    rng = torch.get_rng_state()
    fresh = reinitialized(encoder, seed=3)
    assert torch.equal(torch.get_rng_state(), rng)  # the global stream is untouched
    for name, param in fresh.named_parameters():
        assert not torch.equal(param, trained[name]), name
    for name, param in encoder.named_parameters():
        assert torch.equal(param, trained[name]), name  # the original is not modified
    assert torch.equal(fresh.trunk.norm.weight, torch.ones(32))
    assert fresh.attention_pool is not None
    assert float(fresh.attention_pool.query.std()) < 0.05  # trunc_normal(std=0.02)
    assert fingerprint_module(reinitialized(encoder, seed=3)) == fingerprint_module(fresh)


class Recorded(Dataset):
    """A split's dataset that logs every read, in order, into a shared list."""

    def __init__(self, dataset: Any, split: str, log: list[str]) -> None:
        self.dataset, self.split, self.log = dataset, split, log

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int) -> Any:
        self.log.append(self.split)
        return self.dataset[index]


class RecordedSplits:
    """LabelledSplits over a toy datamodule, recording which split is read when."""

    def __init__(self, datamodule: ShapesDataModule) -> None:
        self.datamodule = datamodule
        self.log: list[str] = []
        self.datasets = {
            split: Recorded(datamodule.split_dataloader(split).dataset, split, self.log)
            for split in ("train", "val", "test")
        }

    def split_dataloader(self, split: Split) -> DataLoader:
        return DataLoader(self.datasets[split], batch_size=self.datamodule.batch_size)


class RecordedBest(BestValidationWeights):
    instances: list[BestValidationWeights] = []

    def __init__(self, monitor: str = finetune_module.MONITOR) -> None:
        super().__init__(monitor)
        RecordedBest.instances.append(self)


@pytest.fixture(scope="module")
def shapes() -> ShapesDataModule:
    datamodule = ShapesDataModule(num_samples=1500, image_size=16, batch_size=16)
    datamodule.setup()
    return datamodule


def test_finetune_learns_and_reads_test_only_after_choosing_on_val(
    shapes: ShapesDataModule, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(finetune_module, "BestValidationWeights", RecordedBest)
    splits = RecordedSplits(shapes)
    torch.manual_seed(0)
    encoder = tiny_encoder(depth=1, pool="mean", embed_dim=64)
    before = fingerprint_module(encoder)
    result = finetune(encoder, splits, shapes.num_classes, max_epochs=15, accelerator="cpu")

    assert result["accuracy"] > 0.3, result  # chance is 1/6 on the six shapes
    assert {"balanced_accuracy", "macro_f1"} <= set(result) and "auroc" not in result
    assert fingerprint_module(encoder) == before  # a copy was trained
    # The epoch was chosen on val, before the first test sample was read, and test was read once.
    history = RecordedBest.instances[-1].history
    assert len(history) == 15
    assert result["best_epoch"] == int(np.argmax(history))
    assert result["val_score"] == max(history)
    first_test = splits.log.index("test")
    assert set(splits.log[first_test:]) == {"test"}
    assert len(splits.log) - first_test == len(splits.datasets["test"])
    assert splits.log.count("val") == 15 * len(splits.datasets["val"])
    assert splits.log.count("train") == 15 * result["train_samples"] == 15 * 900


def test_from_scratch_baseline_keeps_the_label_budget(shapes: ShapesDataModule) -> None:
    encoder = tiny_encoder(depth=1, pool="mean")
    assert shapes.train is not None
    budget = np.flatnonzero(shapes.train.labels.numpy() < 2)[:40]
    result = supervised_from_scratch(
        encoder, shapes, shapes.num_classes, train_indices=budget, max_epochs=1, accelerator="cpu"
    )
    assert result["train_samples"] == 40
    assert 0.0 <= result["accuracy"] <= 1.0
    with pytest.raises(ValueError, match="train_indices"):
        finetune(encoder, shapes, 6, train_indices=np.array([10_000]), accelerator="cpu")


class ArraySplits:
    """Random images with given labels, the same few samples in every split."""

    def __init__(self, labels: torch.Tensor) -> None:
        images = torch.rand(len(labels), 3, 16, 16, generator=torch.Generator().manual_seed(0))
        pairs = zip(images, labels, strict=True)
        self.samples = [{"image": image, "label": label} for image, label in pairs]

    def split_dataloader(self, split: Split) -> DataLoader:
        return DataLoader(self.samples, batch_size=8)  # type: ignore[arg-type]


def test_binary_tasks_report_auroc_and_multilabel_tasks_map() -> None:
    encoder = tiny_encoder(depth=1, pool="mean")
    binary = finetune(
        encoder, ArraySplits(torch.arange(24) % 2), 2, max_epochs=1, accelerator="cpu"
    )
    assert 0.0 <= binary["auroc"] <= 1.0
    multi_hot = (torch.arange(24)[:, None] % torch.tensor([2, 3, 4]) == 0).long()
    multilabel = finetune(
        encoder, ArraySplits(multi_hot), 3, multilabel=True, max_epochs=1, accelerator="cpu"
    )
    assert {"accuracy", "mAP", "micro_f1", "val_score"} <= set(multilabel)


def test_balanced_weights_match_scikit_learn_and_reach_the_loss() -> None:
    labels = np.array([0, 0, 0, 0, 0, 0, 2, 2, 3])
    weights = balanced_class_weights(labels, num_classes=5)
    expected = compute_class_weight("balanced", classes=np.array([0, 2, 3]), y=labels)
    np.testing.assert_allclose([weights[0], weights[2], weights[3]], expected)
    assert weights[1] == weights[4] == 1.0  # absent classes: never a target

    model = FineTuneClassifier(tiny_encoder(depth=1), 5, class_weights=weights)
    logits = torch.randn(9, 5, generator=torch.Generator().manual_seed(0))
    targets = torch.as_tensor(labels)
    weighted = F.cross_entropy(logits, targets, weight=torch.tensor(weights).float())
    torch.testing.assert_close(model._loss(logits, targets), weighted)
    assert not torch.allclose(weighted, F.cross_entropy(logits, targets))
    with pytest.raises(ValueError, match="one weight per class"):
        FineTuneClassifier(tiny_encoder(depth=1), 4, class_weights=weights)


def test_few_shot_finetune_chooses_on_the_val_subset_by_macro_f1(
    shapes: ShapesDataModule, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(finetune_module, "BestValidationWeights", RecordedBest)
    splits = RecordedSplits(shapes)
    assert shapes.train is not None
    train_labels = shapes.train.labels.numpy()
    # Imbalanced budget: 60 of class 0, 10 of each other class.
    budget = np.concatenate(
        [np.flatnonzero(train_labels == c)[: 60 if c == 0 else 10] for c in range(6)]
    )
    val_subset = np.arange(0, 120, 2)
    result = finetune(
        tiny_encoder(depth=1, pool="mean"),
        splits,
        shapes.num_classes,
        train_indices=budget,
        val_indices=val_subset,
        max_epochs=3,
        select_on="macro_f1",
        class_weight="balanced",
        accelerator="cpu",
    )
    best = RecordedBest.instances[-1]
    assert best.monitor == "val/macro_f1"
    assert result["val_score"] == max(best.history) and 0.0 <= result["val_score"] <= 1.0
    assert splits.log.count("val") == 3 * len(val_subset)  # only the subset chooses
    assert result["train_samples"] == len(budget)
    with pytest.raises(ValueError, match="val_indices"):
        finetune(tiny_encoder(depth=1), shapes, 6, val_indices=np.array([-1]), accelerator="cpu")
    with pytest.raises(ValueError, match="single-label"):
        finetune(tiny_encoder(depth=1), shapes, 6, multilabel=True, select_on="macro_f1")
