"""Publish an encoder (from a checkpoint, a run folder or Python) as a new hub version."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save_file
from torch import nn

import foundations
from foundations.hub.architecture import build_module
from foundations.hub.card import CARD_FILE, README_FILE, WEIGHTS_FILE, Card, to_json
from foundations.hub.checkpoint import from_checkpoint
from foundations.hub.errors import HubError, HubUnreachableError
from foundations.hub.hashing import sha256_bytes, sha256_file
from foundations.hub.index import add_version, next_version
from foundations.hub.locations import default_hub
from foundations.hub.names import check_name, check_version
from foundations.hub.readme import render_readme
from foundations.hub.results import summarise_results
from foundations.hub.transports import LocalTransport, Transport, open_hub


def _weights(encoder: nn.Module) -> dict[str, torch.Tensor]:
    """The state dict as contiguous CPU tensors that share no memory (safetensors' rule)."""
    return {k: v.detach().to("cpu").contiguous().clone() for k, v in encoder.state_dict().items()}


def _check_rebuilds(architecture: dict[str, Any], weights: Mapping[str, Any]) -> None:
    rebuilt = build_module(architecture, "architecture")
    try:
        rebuilt.load_state_dict(weights, strict=True)
    except RuntimeError as error:
        raise HubError(f"the architecture does not rebuild this encoder: {error}") from error


def push_encoder(
    encoder: nn.Module,
    architecture: Mapping[str, Any],
    name: str,
    hub: str | os.PathLike[str] | None = None,
    version: str | None = None,
    *,
    modality: Mapping[str, Any] | None = None,
    normalisation: Mapping[str, Any] | None = None,
    training: Mapping[str, Any] | None = None,
    evaluation: Mapping[str, Any] | None = None,
    parent: Mapping[str, Any] | None = None,
    licence: str = "unspecified",
    description: str = "",
) -> Card:
    """Write ``name@version`` to ``hub``: weights, card, README, and the index entry.

    Before anything is written the architecture is rebuilt and the weights loaded into it
    strictly, so a published version always loads.

    Args:
        encoder: The module to publish.
        architecture: Its ``{"class_path", "init_args"}`` (tokenizer nested the same way).
        name: Model name (see :func:`foundations.hub.names.check_name`).
        hub: Destination (folder or ``hf://``; HTTP hubs are read-only); default
            ``$FOUNDATIONS_HUB``.
        version: Version; default one more than the largest integer version (``"1"`` first).
        modality: Card modality spec.
        normalisation: Card normalisation.
        training: Card training section.
        evaluation: Benchmark name -> results summary.
        parent: Where the weights came from.
        licence: Licence of the weights.
        description: A paragraph for the README.

    Returns:
        The card as written.

    Raises:
        HubError: When the version exists, the hub is read-only or the architecture does not
            rebuild the encoder.
        UnsafeFileError: On an invalid name or version.
    """
    check_name(name)
    transport = open_hub(default_hub(hub))
    version = check_version(version or next_version(_current_index(transport), name))
    config: dict[str, Any] = to_json(dict(architecture))
    weights = _weights(encoder)
    _check_rebuilds(config, weights)
    card = Card(
        name=name,
        version=version,
        architecture=config,
        embedding_dim=int(getattr(encoder, "out_dim", getattr(encoder, "embed_dim", 0)) or 0),
        modality=to_json(dict(modality or {})),
        normalisation=to_json(dict(normalisation or {})),
        training=to_json(dict(training or {})),
        evaluation=to_json(dict(evaluation or {})),
        licence=licence,
        parent=to_json(dict(parent)) if parent is not None else None,
        created=datetime.now(UTC).isoformat(timespec="seconds"),
        software={"foundations": foundations.__version__, "torch": torch.__version__},
        description=description,
    )
    with tempfile.TemporaryDirectory(prefix="foundations-push-") as staging:
        folder = Path(staging)
        save_file(
            weights,
            str(folder / WEIGHTS_FILE),
            metadata={"format": "pt", "model": f"{name}@{version}"},
        )
        card.files = {WEIGHTS_FILE: _entry(folder / WEIGHTS_FILE)}
        (folder / README_FILE).write_text(render_readme(card))
        card.files[README_FILE] = _entry(folder / README_FILE)
        card_bytes = card.to_bytes()
        (folder / CARD_FILE).write_bytes(card_bytes)
        entry = {
            "card_sha256": sha256_bytes(card_bytes),
            "created": card.created,
            "embedding_dim": card.embedding_dim,
            "modality": card.modality.get("name"),
            "licence": licence,
            "description": description,
        }
        files = {n: folder / n for n in (WEIGHTS_FILE, README_FILE, CARD_FILE)}
        transport.publish(
            f"{name}/{version}", files, lambda index: add_version(index, name, version, entry)
        )
    return card


def _current_index(transport: Transport) -> dict[str, Any] | None:
    """The hub's index; ``None`` for a new local hub (its folder is created on push)."""
    try:
        return transport.read_index()
    except HubUnreachableError:
        if isinstance(transport, LocalTransport):
            return None
        raise


def _entry(path: Path) -> dict[str, Any]:
    return {"sha256": sha256_file(path), "size": path.stat().st_size}


def push(
    run_or_ckpt: str | os.PathLike[str],
    name: str,
    hub: str | os.PathLike[str] | None = None,
    version: str | None = None,
    *,
    results: Sequence[str | os.PathLike[str]] = (),
    licence: str = "unspecified",
    description: str = "",
    normalisation: Mapping[str, Any] | None = None,
) -> Card:
    """Publish the embedding encoder of a ``foundations fit`` checkpoint or run folder.

    The card records the encoder's recipe config, the modality and normalisation read from
    the tokenizer's and data module's init args, the method and data recipe, the checkpoint's
    name and sha256 as parent, and a summary of each ``results.json`` in ``results``.

    Args:
        run_or_ckpt: A ``.ckpt`` file, or a run folder (its ``best*``, else ``last``,
            else newest checkpoint).
        name: Model name.
        hub: Destination; default ``$FOUNDATIONS_HUB``.
        version: Version; default the next integer.
        results: ``results.json`` files from ``foundations eval`` of this checkpoint.
        licence: Licence of the weights.
        description: A paragraph for the README.
        normalisation: Replaces the normalisation read from the data module.

    Returns:
        The card as written.
    """
    publishable = from_checkpoint(run_or_ckpt)
    parent = publishable.parent or {}
    evaluation = dict(summarise_results(path, parent.get("file")) for path in results)
    return push_encoder(
        publishable.encoder,
        publishable.architecture,
        name,
        hub,
        version,
        modality=publishable.modality,
        normalisation=normalisation if normalisation is not None else publishable.normalisation,
        training=publishable.training,
        evaluation=evaluation,
        parent=publishable.parent,
        licence=licence,
        description=description,
    )
