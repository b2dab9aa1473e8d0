"""sha256 of files and bytes, read in chunks so large weights never sit in memory twice."""

from __future__ import annotations

import hashlib
from pathlib import Path

from foundations.hub.errors import IntegrityError

CHUNK = 1 << 20


def sha256_bytes(data: bytes) -> str:
    """Hex sha256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    """Hex sha256 of the file at ``path``."""
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        while chunk := file.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def check_sha256(name: str, actual: str, expected: str) -> None:
    """Raise :class:`IntegrityError` naming ``name`` and both hashes when they differ."""
    if actual != expected:
        raise IntegrityError(name, expected, actual)
