"""End-to-end fine-tuning with layer-wise learning-rate decay, and its from-scratch baseline.

The protocol of BEiT / MAE fine-tuning: a linear head on the pooled embedding, AdamW whose
learning rate shrinks geometrically from the head down to the tokenizer, per-step warm-up and
cosine decay. The epoch is chosen on the validation split; the test split is read once, at the
end, with the chosen weights.
"""

from __future__ import annotations

import copy
import math
import tempfile
from collections.abc import Sequence
from typing import Any, TypeVar, cast

import lightning as L
import numpy as np
import torch
import torch.nn.functional as F
from lightning.pytorch.callbacks import Callback
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset, Subset

from evaluation.metrics import classification_metrics, multilabel_metrics
from evaluation.probes.selection import ClassWeight, SelectOn, selection_score
from foundations.data import LabelledSplits
from foundations.encoders import Encoder
from foundations.schedules import warmup_cosine_scheduler

ModuleT = TypeVar("ModuleT", bound=nn.Module)

MONITOR = "val/acc"
MONITORS: dict[SelectOn, str] = {"accuracy": MONITOR, "macro_f1": "val/macro_f1"}
"""The logged validation metric that chooses the epoch, per ``select_on``."""
_NO_DECAY_KEYWORDS = ("pos", "cls_token", "mask_token", "query")
_AFTER_TRUNK = ("trunk.norm.", "attention_pool.")


def _layer_id(name: str, depth: int) -> int:
    if name.startswith("trunk.blocks."):
        return int(name.split(".")[2]) + 1
    if name.startswith(_AFTER_TRUNK):
        return depth + 1
    return 0  # tokenizer, class token, positions and any other input-side parameter


def layer_decay_groups(
    encoder: Encoder,
    head: nn.Module,
    base_lr: float,
    decay: float,
    weight_decay: float,
) -> list[dict[str, Any]]:
    """AdamW parameter groups with layer-wise learning-rate decay (BEiT, Bao et al. 2022).

    With ``depth`` trunk blocks, the tokenizer, class token and positions are layer 0, trunk
    block ``i`` is layer ``i + 1``, and the final norm, the attention pool and the head are
    layer ``depth + 1``; layer ``l`` gets ``base_lr * decay ** (depth + 1 - l)``, so the head
    and final norm train at ``base_lr``. Within a layer, norms, biases and learned tokens get
    no weight decay. Frozen parameters are left out.

    Written by hand: timm's ``param_groups_layer_decay`` finds layers by timm's model naming
    (``patch_embed``, ``blocks.N``, ``cls_token``...) through a model's ``group_matcher``,
    which an :class:`Encoder` (``tokenizer``, ``trunk.blocks.N``) and a separate head lack.

    Args:
        encoder: The encoder being fine-tuned.
        head: The task head (all of it at ``base_lr``).
        base_lr: Learning rate of the head.
        decay: Factor per layer, in ``(0, 1]``; 1 means no decay.
        weight_decay: AdamW weight decay of weight matrices.

    Returns:
        Non-empty groups, each with ``params``, ``lr``, ``weight_decay``, ``layer_id``,
        ``lr_scale`` and ``param_names`` (names prefixed ``encoder.`` or ``head.``).

    Raises:
        ValueError: When ``decay`` is out of range or a parameter is shared by both modules.
    """
    if not 0.0 < decay <= 1.0:
        raise ValueError(f"layer decay must lie in (0, 1], got {decay}")
    depth = len(encoder.trunk.blocks)
    named = [(f"encoder.{n}", _layer_id(n, depth), p) for n, p in encoder.named_parameters()]
    named += [(f"head.{n}", depth + 1, p) for n, p in head.named_parameters()]
    groups: dict[tuple[int, bool], dict[str, Any]] = {}
    seen: set[int] = set()
    for name, layer, param in named:
        if id(param) in seen:
            raise ValueError(f"{name} is shared between the encoder and the head")
        seen.add(id(param))
        if not param.requires_grad:
            continue
        decayed = param.ndim > 1 and not any(key in name for key in _NO_DECAY_KEYWORDS)
        scale = decay ** (depth + 1 - layer)
        group = groups.setdefault(
            (layer, decayed),
            {
                "params": [],
                "param_names": [],
                "lr": base_lr * scale,
                "lr_scale": scale,
                "weight_decay": weight_decay if decayed else 0.0,
                "layer_id": layer,
            },
        )
        group["params"].append(param)
        group["param_names"].append(name)
    return [groups[key] for key in sorted(groups)]


def reinitialized(module: ModuleT, seed: int = 0) -> ModuleT:
    """A copy of ``module`` (on the CPU) with every parameter drawn afresh.

    Each submodule with ``reset_parameters`` (or ``nn.MultiheadAttention``'s
    ``_reset_parameters``) resets its own parameters, as at construction; the parameters no
    such method owns (an :class:`Encoder`'s class token, an attention pool's query) are drawn
    from ``trunc_normal(std=0.02)``, the core's initialisation of learned tokens. Buffers
    (fixed positional tables) are kept. The global random state is left untouched.

    Args:
        module: The trained (or any) module; it is not modified.
        seed: Seed of the new weights.

    Returns:
        The re-initialised copy.
    """
    fresh = copy.deepcopy(module).cpu()
    reset: set[int] = set()
    with torch.random.fork_rng(devices=[]), torch.no_grad():
        torch.manual_seed(seed)
        for submodule in fresh.modules():
            method = getattr(submodule, "reset_parameters", None)
            method = method if callable(method) else getattr(submodule, "_reset_parameters", None)
            if callable(method):
                method()
                reset.update(id(param) for param in submodule.parameters(recurse=False))
        for param in fresh.parameters():
            if id(param) not in reset:
                nn.init.trunc_normal_(param, std=0.02)
    return fresh


def _accuracy(logits: Tensor, labels: Tensor, multilabel: bool) -> Tensor:
    if multilabel:  # mean over labels of per-label correctness (1 - Hamming loss)
        return ((logits > 0) == labels.bool()).float().mean()
    return (logits.argmax(dim=1) == labels).float().mean()


class FineTuneClassifier(L.LightningModule):
    """A copy of an encoder plus a linear head, trained end to end.

    Args:
        encoder: The encoder to start from; it is deep-copied, never modified.
        num_classes: Outputs of the head.
        lr: Peak learning rate of the head (see :func:`layer_decay_groups`).
        layer_decay: Learning-rate factor per layer towards the input.
        weight_decay: AdamW weight decay of weight matrices.
        warmup_ratio: Fraction of the optimiser steps spent in linear warm-up.
        final_lr_ratio: Learning rate at the end of the cosine, relative to the peak.
        betas: AdamW betas.
        multilabel: Sigmoid outputs and binary cross-entropy on ``[B, C]`` 0/1 labels instead
            of softmax cross-entropy on ``[B]`` class indices.
        class_weights: ``[num_classes]`` weights of the cross-entropy (single-label only), such
            as :func:`balanced_class_weights`; None weighs every sample equally.

    Raises:
        ValueError: When ``num_classes`` is below 1, or ``class_weights`` has the wrong length
            or comes with ``multilabel``.
    """

    def __init__(
        self,
        encoder: Encoder,
        num_classes: int,
        lr: float = 1e-3,
        layer_decay: float = 0.75,
        weight_decay: float = 0.05,
        warmup_ratio: float = 0.1,
        final_lr_ratio: float = 0.0,
        betas: tuple[float, float] = (0.9, 0.999),
        multilabel: bool = False,
        class_weights: Sequence[float] | None = None,
    ) -> None:
        super().__init__()
        if num_classes < 1:
            raise ValueError(f"num_classes must be at least 1, got {num_classes}")
        if class_weights is not None and (multilabel or len(class_weights) != num_classes):
            raise ValueError(
                f"class_weights needs one weight per class ({num_classes}) of a single-label "
                f"task, got {len(class_weights)} (multilabel={multilabel})"
            )
        self.save_hyperparameters(ignore=["encoder"])
        self.encoder = copy.deepcopy(encoder).requires_grad_(True).train()
        self.head = nn.Linear(encoder.out_dim, num_classes)
        nn.init.trunc_normal_(self.head.weight, std=2e-5)  # as MAE's fine-tuning head
        nn.init.zeros_(self.head.bias)
        self.modality = encoder.modality
        self.num_classes = num_classes
        self.lr = lr
        self.layer_decay = layer_decay
        self.weight_decay = weight_decay
        self.warmup_ratio = warmup_ratio
        self.final_lr_ratio = final_lr_ratio
        self.betas = betas
        self.multilabel = multilabel
        self.class_weights: Tensor | None
        weights = None if class_weights is None else torch.tensor(class_weights).float()
        self.register_buffer("class_weights", weights, persistent=False)
        self._val_predictions: list[Tensor] = []
        self._val_labels: list[Tensor] = []

    def forward(self, inputs: Any) -> Tensor:
        """Class logits ``[B, num_classes]`` of a batch of the encoder's modality."""
        return self.head(self.encoder(inputs))

    def _loss(self, logits: Tensor, labels: Tensor) -> Tensor:
        if self.multilabel:
            return F.binary_cross_entropy_with_logits(logits, labels.float())
        return F.cross_entropy(logits, labels.long(), weight=self.class_weights)

    def training_step(self, batch: dict[str, Any], batch_idx: int) -> Tensor:
        logits = self(batch[self.modality])
        loss = self._loss(logits, batch["label"])
        self.log("train/loss", loss, prog_bar=True, batch_size=logits.shape[0])
        return loss

    def validation_step(self, batch: dict[str, Any], batch_idx: int) -> None:
        logits = self(batch[self.modality])
        labels = batch["label"]
        size = logits.shape[0]
        self.log("val/loss", self._loss(logits, labels), batch_size=size, sync_dist=True)
        accuracy = _accuracy(logits, labels, self.multilabel)
        self.log(MONITOR, accuracy, prog_bar=True, batch_size=size, sync_dist=True)
        if not self.multilabel:
            self._val_predictions.append(logits.argmax(dim=1).detach().cpu())
            self._val_labels.append(labels.detach().long().cpu())

    def on_validation_epoch_end(self) -> None:
        """Log ``val/macro_f1`` over the whole validation epoch (single-label tasks)."""
        if not self._val_predictions:
            return
        predicted = cast(Tensor, self.all_gather(torch.cat(self._val_predictions))).reshape(-1)
        labels = cast(Tensor, self.all_gather(torch.cat(self._val_labels))).reshape(-1)
        self._val_predictions.clear()
        self._val_labels.clear()
        score = selection_score("macro_f1", labels.cpu().numpy(), predicted.cpu().numpy())
        self.log(MONITORS["macro_f1"], score, prog_bar=True)

    def predict_step(self, batch: dict[str, Any], batch_idx: int) -> dict[str, Tensor]:
        """Class probabilities (softmax, or sigmoid when multi-label) and labels, on the CPU."""
        logits = self(batch[self.modality]).float()
        scores = logits.sigmoid() if self.multilabel else logits.softmax(dim=1)
        return {"scores": scores.cpu(), "label": torch.as_tensor(batch["label"]).cpu()}

    def configure_optimizers(self) -> Any:
        groups = layer_decay_groups(
            self.encoder, self.head, self.lr, self.layer_decay, self.weight_decay
        )
        optimizer = torch.optim.AdamW(groups, lr=self.lr, betas=self.betas)
        scheduler = warmup_cosine_scheduler(
            optimizer,
            self.trainer.estimated_stepping_batches,
            self.warmup_ratio,
            self.final_lr_ratio,
        )
        return {"optimizer": optimizer, "lr_scheduler": scheduler}


class BestValidationWeights(Callback):
    """Keep, in memory, the weights of the epoch with the best validation ``monitor``.

    Ties go to the earlier epoch. ``history`` holds the monitored score of every epoch.
    """

    def __init__(self, monitor: str = MONITOR) -> None:
        self.monitor = monitor
        self.history: list[float] = []
        self.best_score = -math.inf
        self.best_epoch = -1
        self.best_state: dict[str, Tensor] | None = None

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.sanity_checking:
            return
        score = float(trainer.callback_metrics[self.monitor])
        self.history.append(score)
        if score > self.best_score:
            self.best_score, self.best_epoch = score, trainer.current_epoch
            self.best_state = {
                name: value.detach().to("cpu", copy=True)
                for name, value in pl_module.state_dict().items()
            }


def balanced_class_weights(labels: np.ndarray, num_classes: int) -> list[float]:
    """Cross-entropy weights inversely proportional to class frequency.

    scikit-learn's ``class_weight="balanced"``: ``n_samples / (n_present_classes * count)``.

    Args:
        labels: ``[N]`` training labels in ``[0, num_classes)``.
        num_classes: Number of classes; a class absent from ``labels`` gets weight 1 (it never
            appears as a target, so its weight does not matter).

    Returns:
        One weight per class.
    """
    counts = np.bincount(np.asarray(labels, dtype=np.int64), minlength=num_classes)
    present = counts > 0
    weights = np.ones(num_classes)
    weights[present] = counts.sum() / (present.sum() * counts[present])
    return weights.tolist()


def _subset(dataset: Dataset, indices: np.ndarray | None, name: str, split: str) -> Dataset:
    if indices is None:
        return dataset
    indices = np.asarray(indices)
    size = len(dataset)  # type: ignore[arg-type]
    if indices.ndim != 1 or indices.size == 0 or indices.dtype.kind not in "iu":
        raise ValueError(
            f"{name} must be a non-empty 1-D integer array, got {indices.dtype} "
            f"of shape {indices.shape}"
        )
    if indices.min() < 0 or indices.max() >= size:
        raise ValueError(f"{name} must lie in [0, {size}), the {split} split's size")
    return Subset(dataset, indices.tolist())


def _dataset_labels(dataset: Dataset) -> np.ndarray:
    """Labels of every sample of a (small, few-shot) dataset, read sample by sample."""
    return np.asarray([int(dataset[i]["label"]) for i in range(len(dataset))])  # type: ignore[arg-type]


def _test_metrics(
    scores: np.ndarray, labels: np.ndarray, num_classes: int, multilabel: bool
) -> dict[str, float]:
    if multilabel:
        metrics = multilabel_metrics(labels, scores)
        metrics["accuracy"] = float(((scores >= 0.5) == labels.astype(bool)).mean())
        return metrics
    return classification_metrics(labels, scores.argmax(axis=1), scores, num_classes)


def finetune(
    encoder: Encoder,
    datamodule: LabelledSplits,
    num_classes: int,
    train_indices: np.ndarray | None = None,
    max_epochs: int = 20,
    lr: float = 1e-3,
    layer_decay: float = 0.75,
    weight_decay: float = 0.05,
    warmup_ratio: float = 0.1,
    batch_size: int | None = None,
    multilabel: bool = False,
    seed: int = 0,
    accelerator: str = "auto",
    val_indices: np.ndarray | None = None,
    select_on: SelectOn = "accuracy",
    class_weight: ClassWeight = None,
) -> dict[str, float]:
    """Fine-tune a copy of ``encoder`` with a linear head, choose the epoch on validation.

    Trains on the training split (or the samples ``train_indices`` of it: the label budget),
    shuffled, for ``max_epochs``; validates (on the samples ``val_indices`` of the validation
    split, or all of it) after every epoch and keeps the weights of the epoch with the best
    validation ``select_on``; then, and only then, predicts the test split once with those
    weights.

    Args:
        encoder: The (pretrained) encoder; it is copied, never modified.
        datamodule: Set-up datamodule with labelled splits; its training split's dataset,
            batch size and collation are reused for a shuffled training loader.
        num_classes: Classes of the task (labels ``[N]`` in ``[0, num_classes)``, or ``[N,
            num_classes]`` 0/1 when ``multilabel``).
        train_indices: Indices into the training split's dataset to train on; all when None.
        max_epochs: Training epochs.
        lr: Peak learning rate of the head; lower layers get ``lr * layer_decay ** k``.
        layer_decay: Per-layer learning-rate factor (see :func:`layer_decay_groups`).
        weight_decay: AdamW weight decay.
        warmup_ratio: Fraction of the steps spent in linear warm-up.
        batch_size: Training batch size; defaults to the split loader's.
        multilabel: Multi-label task (sigmoid outputs, binary cross-entropy).
        seed: Seeds the head, the data order and stochastic layers.
        accelerator: Lightning accelerator (``"auto"``, ``"cpu"``, ``"gpu"``...).
        val_indices: Indices into the validation split's dataset that choose the epoch (a
            few-shot user's small validation set); all when None.
        select_on: Validation metric that chooses the epoch; ``"macro_f1"`` for imbalanced
            single-label tasks.
        class_weight: ``"balanced"`` weights the cross-entropy inversely to each class's
            frequency in the training samples (single-label tasks).

    Returns:
        Test metrics of the chosen epoch: ``accuracy``, ``balanced_accuracy``, ``macro_f1`` and,
        for a binary task, ``auroc`` (multi-label: ``accuracy`` per label, ``mAP``,
        ``micro_f1``); plus ``val_score`` (its validation ``select_on``), ``best_epoch``
        (0-based) that chose it, and ``train_samples``.

    Raises:
        ValueError: When ``train_indices`` or ``val_indices`` is malformed, ``max_epochs`` is
            below 1, or ``select_on``/``class_weight`` asks for a single-label metric of a
            multi-label task.
    """
    if max_epochs < 1:
        raise ValueError(f"max_epochs must be at least 1, got {max_epochs}")
    if multilabel and (select_on != "accuracy" or class_weight is not None):
        raise ValueError("select_on='macro_f1' and class_weight need a single-label task")
    if select_on not in MONITORS:
        raise ValueError(f"select_on must be one of {sorted(MONITORS)}, got {select_on!r}")
    L.seed_everything(seed, verbose=False)
    split_loader = datamodule.split_dataloader("train")
    train_set = _subset(split_loader.dataset, train_indices, "train_indices", "training")
    val_loader = datamodule.split_dataloader("val")
    val_set = _subset(val_loader.dataset, val_indices, "val_indices", "validation")
    if val_indices is not None:
        val_loader = DataLoader(
            val_set,
            batch_size=val_loader.batch_size,
            collate_fn=val_loader.collate_fn,
            num_workers=val_loader.num_workers,
        )
    weights = None
    if class_weight == "balanced":
        weights = balanced_class_weights(_dataset_labels(train_set), num_classes)
    size = len(train_set)  # type: ignore[arg-type]
    batch_size = min(batch_size or split_loader.batch_size or 64, size)
    train_loader = DataLoader(
        train_set,
        batch_size=batch_size,
        shuffle=True,
        generator=torch.Generator().manual_seed(seed),
        collate_fn=split_loader.collate_fn,
        num_workers=split_loader.num_workers,
    )
    model = FineTuneClassifier(
        encoder,
        num_classes,
        lr=lr,
        layer_decay=layer_decay,
        weight_decay=weight_decay,
        warmup_ratio=warmup_ratio,
        multilabel=multilabel,
        class_weights=weights,
    )
    best = BestValidationWeights(MONITORS[select_on])
    with tempfile.TemporaryDirectory(prefix="finetune-") as root:
        trainer = L.Trainer(
            max_epochs=max_epochs,
            accelerator=accelerator,
            devices=1,
            logger=False,
            enable_checkpointing=False,
            enable_progress_bar=False,
            enable_model_summary=False,
            num_sanity_val_steps=0,
            log_every_n_steps=max(1, min(50, len(train_loader))),
            callbacks=[best],
            default_root_dir=root,
        )
        trainer.fit(model, train_loader, val_loader)
        if best.best_state is None:
            raise RuntimeError("no validation epoch finished; nothing to choose from")
        model.load_state_dict(best.best_state)
        outputs = cast(
            list[dict[str, Tensor]], trainer.predict(model, datamodule.split_dataloader("test"))
        )
    scores = torch.cat([out["scores"] for out in outputs]).numpy()
    labels = torch.cat([out["label"] for out in outputs]).numpy()
    metrics = _test_metrics(scores, labels, num_classes, multilabel)
    metrics.update(val_score=best.best_score, best_epoch=float(best.best_epoch), train_samples=size)
    return metrics


def supervised_from_scratch(
    encoder: Encoder,
    datamodule: LabelledSplits,
    num_classes: int,
    train_indices: np.ndarray | None = None,
    max_epochs: int = 20,
    lr: float = 1e-3,
    layer_decay: float = 1.0,
    seed: int = 0,
    accelerator: str = "auto",
    **kwargs: Any,
) -> dict[str, float]:
    """The same-label-budget baseline: :func:`finetune` of the architecture at random init.

    ``encoder`` is copied and re-initialised (:func:`reinitialized`, seeded by ``seed``), so
    only its architecture is used. Layer decay defaults to 1 (off): it encodes the belief
    that lower layers are already good, which random weights do not justify.

    Args:
        encoder: Supplies the architecture; its weights are discarded.
        datamodule: As for :func:`finetune`.
        num_classes: As for :func:`finetune`.
        train_indices: As for :func:`finetune`; pass the fine-tuning run's for the same budget.
        max_epochs: As for :func:`finetune`.
        lr: As for :func:`finetune`.
        layer_decay: As for :func:`finetune`, default 1.
        seed: Seeds the re-initialisation and training.
        accelerator: As for :func:`finetune`.
        **kwargs: Other arguments of :func:`finetune`.

    Returns:
        The metrics of :func:`finetune`.
    """
    return finetune(
        reinitialized(encoder, seed),
        datamodule,
        num_classes,
        train_indices=train_indices,
        max_epochs=max_epochs,
        lr=lr,
        layer_decay=layer_decay,
        seed=seed,
        accelerator=accelerator,
        **kwargs,
    )
