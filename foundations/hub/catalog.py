"""``list``, ``show`` and ``verify``: what a hub holds, one card, and a full integrity check."""

from __future__ import annotations

import os
from typing import Any

from foundations.hub.card import CARD_FILE, INDEX_FILE, Card
from foundations.hub.errors import HubNotFoundError
from foundations.hub.fetch import pull, verify_folder
from foundations.hub.hashing import check_sha256, sha256_bytes
from foundations.hub.index import check_index, resolve
from foundations.hub.locations import default_hub
from foundations.hub.names import parse_ref
from foundations.hub.transports import LocalTransport, open_hub


def list_models(hub: str | os.PathLike[str] | None = None) -> list[dict[str, Any]]:
    """One row per model version: ``name``, ``version``, ``latest`` and the index entry.

    Raises:
        HubNotFoundError: When the location holds no ``index.json``.
    """
    transport = open_hub(default_hub(hub))
    index = transport.read_index()
    if index is None:
        raise HubNotFoundError(f"{transport.location}: no {INDEX_FILE}; not a hub (or empty)")
    check_index(index, f"{transport.location}/{INDEX_FILE}")
    rows = []
    for name, model in sorted(index["models"].items()):
        for version, entry in model["versions"].items():
            rows.append(
                {"name": name, "version": version, "latest": version == model["latest"]} | entry
            )
    return rows


def show(ref: str, hub: str | os.PathLike[str] | None = None) -> Card:
    """The card of ``NAME[@VERSION]``, checked against the index's sha256 (nothing else fetched).

    Raises:
        HubNotFoundError: When the model or version does not exist.
        IntegrityError: When the card does not match the index.
    """
    name, version = parse_ref(ref)
    transport = open_hub(default_hub(hub))
    index = transport.read_index()
    if index is None:
        raise HubNotFoundError(f"{transport.location}: no {INDEX_FILE}; not a hub (or empty)")
    version, card_sha = resolve(index, name, version, f"{transport.location}/{INDEX_FILE}")
    path = f"{name}/{version}/{CARD_FILE}"
    data = transport.read_bytes(path)
    check_sha256(f"{transport.location}/{path}", sha256_bytes(data), card_sha)
    return Card.from_bytes(data, f"{transport.location}/{path}")


def verify(
    ref: str,
    hub: str | os.PathLike[str] | None = None,
    cache: str | os.PathLike[str] | None = None,
) -> dict[str, Any]:
    """Check a version end to end: index -> card -> every file, in the hub and the cache.

    A local hub's own files are hashed in place; the version is pulled when not cached (each
    download verified) and the cached copy re-hashed: a damaged cached file is an error here,
    not silently downloaded again.

    Returns:
        ``{"ref", "hub", "offline", "files": {name: sha256}, "cache": folder}``.

    Raises:
        IntegrityError: Naming the file and both hashes on any mismatch.
        HubNotFoundError: When the model, version or a file is missing.
    """
    transport = open_hub(default_hub(hub))
    if isinstance(transport, LocalTransport):
        card = show(ref, transport.location)
        folder = transport.root / card.name / card.version
        verify_folder(folder, card)
    pulled = pull(ref, transport.location, cache, repair=False)
    hashes = verify_folder(pulled.folder, pulled.card)
    return {
        "ref": pulled.ref,
        "hub": pulled.hub,
        "offline": pulled.offline,
        "files": hashes,
        "cache": str(pulled.folder),
    }
