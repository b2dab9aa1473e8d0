"""What ``push`` publishes from a ``foundations fit`` checkpoint or run folder."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from foundations.hub.architecture import build_module
from foundations.hub.card import to_json
from foundations.hub.errors import HubError, HubNotFoundError
from foundations.hub.hashing import sha256_file
from foundations.hub.modality import modality_spec, normalisation_spec
from foundations.methods import load_method


@dataclass
class Publishable:
    """An encoder with the card fields its origin knows.

    Attributes:
        encoder: The module whose weights go into ``model.safetensors``.
        architecture: Its ``{"class_path", "init_args"}``.
        modality: Card modality spec.
        normalisation: Card normalisation.
        training: Card training section.
        parent: Card parent section.
    """

    encoder: nn.Module
    architecture: dict[str, Any]
    modality: dict[str, Any] = field(default_factory=dict)
    normalisation: dict[str, Any] = field(default_factory=dict)
    training: dict[str, Any] = field(default_factory=dict)
    parent: dict[str, Any] | None = None


def _best_recorded(last: Path) -> Path | None:
    """The ``best_model_path`` a monitoring ``ModelCheckpoint`` recorded in ``last``, if any."""
    try:
        checkpoint = torch.load(last, map_location="cpu", weights_only=True)
    except Exception:
        return None
    for key, state in (checkpoint.get("callbacks") or {}).items():
        if not (str(key).startswith("ModelCheckpoint") and isinstance(state, dict)):
            continue
        best = state.get("best_model_path")
        if state.get("monitor") and best:
            path = Path(best) if Path(best).is_absolute() else last.parent / Path(best).name
            if path.is_file():
                return path
    return None


def find_checkpoint(run_or_ckpt: str | os.PathLike[str]) -> Path:
    """The checkpoint to publish: the file itself, or the best/last one of a run folder.

    In a folder, the newest ``last.ckpt`` is found; when its ``ModelCheckpoint`` monitored a
    metric, the ``best_model_path`` it recorded wins. Without a ``last.ckpt``, the newest
    ``*.ckpt`` (by modification time) is taken.

    Raises:
        HubNotFoundError: When the path does not exist or the folder has no checkpoint.
    """
    path = Path(run_or_ckpt).expanduser()
    if path.is_file():
        return path
    if not path.is_dir():
        raise HubNotFoundError(f"{path}: no checkpoint or run folder there")
    checkpoints = sorted(path.rglob("*.ckpt"), key=lambda p: (p.stat().st_mtime_ns, str(p)))
    if not checkpoints:
        raise HubNotFoundError(f"{path}: no .ckpt file in this run folder")
    last = [p for p in checkpoints if p.name == "last.ckpt"]
    if not last:
        return checkpoints[-1]
    return _best_recorded(last[-1]) or last[-1]


def _configs(value: Any) -> Iterator[dict[str, Any]]:
    """Every ``{"class_path", ...}`` mapping inside recorded hyper-parameters, outer first."""
    if isinstance(value, dict):
        if isinstance(value.get("class_path"), str):
            yield value
        for item in value.values():
            yield from _configs(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _configs(item)


def _class_path(module: nn.Module) -> str:
    return f"{type(module).__module__}.{type(module).__qualname__}"


def encoder_config(encoder: nn.Module, hparams: dict[str, Any], source: str) -> dict[str, Any]:
    """The recorded config that rebuilds ``encoder`` exactly (same class, same weight shapes).

    Raises:
        HubError: Naming ``source`` when no recorded config rebuilds it (a method built in
            Python records no module configs).
    """
    wanted = {name: tuple(t.shape) for name, t in encoder.state_dict().items()}
    for config in _configs(hparams):
        candidate = to_json(config)
        cls_name = candidate["class_path"].rsplit(".", 1)[-1]
        if cls_name != type(encoder).__name__:
            continue
        try:
            rebuilt = build_module(candidate, source)
        except Exception:
            continue
        if _class_path(rebuilt) != _class_path(encoder):
            continue
        if {n: tuple(t.shape) for n, t in rebuilt.state_dict().items()} == wanted:
            return candidate
    raise HubError(
        f"{source}: the checkpoint does not record its encoder's architecture (was the method "
        "built in Python rather than from a recipe?); publish it with "
        "foundations.hub.push_encoder(encoder, architecture=...) instead"
    )


def from_checkpoint(run_or_ckpt: str | os.PathLike[str]) -> Publishable:
    """Load a ``foundations fit`` checkpoint (``weights_only``) and describe its encoder.

    Raises:
        HubNotFoundError: When there is no checkpoint.
        HubError: When the checkpoint does not record its encoder's architecture.
        ValueError: Naming the file when it is not a ``foundations fit`` checkpoint.
    """
    path = find_checkpoint(run_or_ckpt)
    method = load_method(path)
    encoder = method.embedding_encoder()
    raw = torch.load(path, map_location="cpu", weights_only=True)
    hparams = dict(raw.get("hyper_parameters") or {})
    architecture = encoder_config(encoder, hparams, str(path))
    data = dict(raw.get("datamodule_hyper_parameters") or {})
    data_class = data.pop("_class_path", None)
    data.pop("_instantiator", None)
    method_args = {
        key: value
        for key, value in hparams.items()
        if not key.startswith("_") and not any(True for _ in _configs(value))
    }
    training = {
        "method": hparams.get("_class_path"),
        "method_args": method_args,
        "data": {"class_path": data_class, "init_args": data} if data_class else None,
        "global_step": raw.get("global_step"),
        "epoch": raw.get("epoch"),
        "lightning_version": raw.get("pytorch-lightning_version"),
    }
    parent = {"kind": "checkpoint", "file": path.name, "sha256": sha256_file(path)}
    return Publishable(
        encoder=encoder,
        architecture=architecture,
        modality=modality_spec(architecture, data),
        normalisation=normalisation_spec(data),
        training=to_json(training),
        parent=parent,
    )
