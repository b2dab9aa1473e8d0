"""Download a model version into the local cache, verified, atomically, once."""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from filelock import FileLock

from foundations.hub.card import CARD_FILE, INDEX_FILE, Card, dumps, loads
from foundations.hub.errors import HubError, HubNotFoundError, HubUnreachableError, IntegrityError
from foundations.hub.hashing import check_sha256, sha256_bytes, sha256_file
from foundations.hub.index import check_index, resolve
from foundations.hub.locations import default_hub, hub_cache
from foundations.hub.names import check_file_name, parse_ref
from foundations.hub.transports import Transport, open_hub
from foundations.io import atomic_folder

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Pulled:
    """A verified model version in the cache.

    Attributes:
        card: Its card.
        folder: The cache folder holding ``card.json`` and every file the card lists.
        hub: The hub location it came from.
        offline: Whether the hub was unreachable and the cache was used as is.
    """

    card: Card
    folder: Path
    hub: str
    offline: bool = False

    @property
    def ref(self) -> str:
        return f"{self.card.name}@{self.card.version}"


def verify_folder(folder: Path, card: Card) -> dict[str, str]:
    """Re-hash every file ``card`` lists inside ``folder``.

    Returns:
        File name -> sha256 (all matching).

    Raises:
        HubNotFoundError: Naming a missing file.
        IntegrityError: Naming the first file whose hash differs, with both hashes.
    """
    hashes = {}
    for name, entry in card.files.items():
        path = folder / check_file_name(name)
        if not path.is_file():
            raise HubNotFoundError(f"{path}: missing (listed in {folder / CARD_FILE})")
        actual = sha256_file(path)
        check_sha256(str(path), actual, entry["sha256"])
        hashes[name] = actual
    return hashes


def _fetch_card(transport: Transport, name: str, version: str, card_sha: str) -> tuple[Card, bytes]:
    path = f"{name}/{version}/{CARD_FILE}"
    data = transport.read_bytes(path)
    check_sha256(f"{transport.location}/{path}", sha256_bytes(data), card_sha)
    card = Card.from_bytes(data, f"{transport.location}/{path}")
    if (card.name, card.version) != (name, version):
        raise HubError(f"{transport.location}/{path}: card is for {card.name}@{card.version}")
    return card, data


def _download(transport: Transport, card: Card, card_bytes: bytes, dest: Path) -> None:
    """Fill ``dest`` through a temporary folder: a failed or tampered download leaves nothing."""
    with atomic_folder(dest) as temp:
        for name, entry in card.files.items():
            check_file_name(name)
            part = temp / f"{name}.part"
            remote = f"{card.name}/{card.version}/{name}"
            transport.download(remote, part)
            check_sha256(f"{transport.location}/{remote}", sha256_file(part), entry["sha256"])
            os.replace(part, temp / name)
        (temp / CARD_FILE).write_bytes(card_bytes)  # last: a folder with a card is complete


def _cached_card(dest: Path) -> Card | None:
    path = dest / CARD_FILE
    return Card.from_bytes(path.read_bytes(), str(path)) if path.is_file() else None


def _save_index(cache: Path, index: dict[str, Any]) -> None:
    cache.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(prefix=f".{INDEX_FILE}.", suffix=".tmp", dir=cache)
    with os.fdopen(handle, "wb") as file:
        file.write(dumps(index))
    os.replace(temp, cache / INDEX_FILE)


def _offline(ref: str, location: str, cache: Path, error: HubUnreachableError) -> Pulled:
    name, version = parse_ref(ref)
    index_path = cache / INDEX_FILE
    if version is None and index_path.is_file():
        index = check_index(loads(index_path.read_bytes(), str(index_path)), str(index_path))
        version = index["models"].get(name, {}).get("latest")
    folder = cache / name / version if version else None
    card = _cached_card(folder) if folder is not None else None
    if folder is None or card is None:
        raise HubUnreachableError(f"{error}; and {ref} is not in the cache {cache}") from error
    verify_folder(folder, card)
    logger.warning("hub %s unreachable; using the cached %s@%s", location, name, version)
    return Pulled(card, folder, location, offline=True)


def pull(
    ref: str,
    hub: str | os.PathLike[str] | None = None,
    cache: str | os.PathLike[str] | None = None,
    repair: bool = True,
) -> Pulled:
    """Make ``NAME[@VERSION]`` of ``hub`` available, verified, in the local cache.

    The index is read (the latest version when none is given), the card is checked against
    the index's sha256, every file is downloaded to a ``.part`` file in a temporary folder and
    checked against the card's sha256, and the folder is renamed into place; a failure removes
    it. A file lock per version makes concurrent pulls (threads or processes) download once.
    When the hub is unreachable, a cached copy is verified and used.

    Args:
        ref: ``"name"`` or ``"name@version"``.
        hub: Folder, ``http(s)://`` URL or ``hf://owner/repo``; default ``$FOUNDATIONS_HUB``.
        cache: Cache root; default ``$FOUNDATIONS_CACHE`` or ``~/.cache/foundations``.
        repair: Download again when the cached copy fails verification (``False``: raise).

    Returns:
        The card and cache folder.

    Raises:
        HubNotFoundError: When the model or version does not exist.
        HubUnreachableError: When the hub is unreachable and the model is not cached.
        IntegrityError: Naming the file and both hashes when a download does not match.
        UnsafeFileError: On invalid names or files a hub may not hold.
    """
    name, version = parse_ref(ref)
    transport = open_hub(default_hub(hub))
    root = hub_cache(transport.location, cache)
    try:
        index = transport.read_index()
    except HubUnreachableError as error:
        return _offline(ref, transport.location, root, error)
    if index is None:
        raise HubNotFoundError(f"{transport.location}: no {INDEX_FILE}; not a hub (or empty)")
    version, card_sha = resolve(index, name, version, f"{transport.location}/{INDEX_FILE}")
    _save_index(root, index)
    dest = root / name / version
    dest.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(root / name / f".{version}.lock"), timeout=600):
        cached = dest / CARD_FILE
        if cached.is_file() and sha256_file(cached) == card_sha:
            card = _cached_card(dest)
            assert card is not None
            try:
                verify_folder(dest, card)
                return Pulled(card, dest, transport.location)
            except (IntegrityError, HubNotFoundError) as error:
                if not repair:
                    raise
                logger.warning(
                    "cached %s@%s is damaged (%s); downloading again", name, version, error
                )
        if dest.exists():
            shutil.rmtree(dest)  # stale or damaged: the hub's card changed or a file did
        card, card_bytes = _fetch_card(transport, name, version, card_sha)
        _download(transport, card, card_bytes, dest)
    return Pulled(card, dest, transport.location)
