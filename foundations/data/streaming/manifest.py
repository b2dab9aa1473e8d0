"""The manifest written next to each split's shards, and the checks made before reading.

Layout of a shard set (one folder per split, each a LitData dataset)::

    DIR/train/index.json  DIR/train/chunk-*.bin  DIR/train/manifest.json
    DIR/val/...           DIR/test/...
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

FORMAT = "foundations-shards"
FORMAT_VERSION = 1
MANIFEST_NAME = "manifest.json"
INDEX_NAME = "index.json"  # LitData's chunk index
REMOTE_PREFIXES = ("s3://", "gs://", "gcs://", "azure://", "hf://")
# LitData formats that would unpickle or read arbitrary files from the shards.
UNSAFE_FORMATS = ("pickle", "file")


class ShardFormatError(ValueError):
    """A shard folder or manifest that is missing, unreadable or of another format."""


def is_remote(path: str) -> bool:
    """True for object-store URLs (``s3://``, ``gs://``, ...)."""
    return path.startswith(REMOTE_PREFIXES)


def split_dir(root: str, split: str) -> str:
    """``root/split`` for a folder or a URL."""
    return f"{root.rstrip('/')}/{split}"


def write_manifest(folder: Path, manifest: dict[str, Any]) -> Path:
    """Write ``manifest`` (plus format and version) to ``folder/manifest.json``."""
    path = folder / MANIFEST_NAME
    body = {"format": FORMAT, "format_version": FORMAT_VERSION, **manifest}
    path.write_text(json.dumps(body, indent=2, sort_keys=False, default=str) + "\n")
    return path


def _load_json(path: Path, what: str) -> dict[str, Any]:
    if not path.is_file():
        raise ShardFormatError(f"{what} not found: {path}")
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ShardFormatError(f"{what} {path} is not valid JSON: {error}") from error
    if not isinstance(data, dict):
        raise ShardFormatError(f"{what} {path} is not a JSON object")
    return data


def read_manifest(folder: str | Path) -> dict[str, Any]:
    """Read and check a local split folder written by ``foundations data shard``.

    Checks the manifest's format and version, that LitData's ``index.json`` is there, that
    every chunk it lists exists with its recorded size, that the sample count agrees, and
    that no leaf would be unpickled.

    Args:
        folder: A split folder (``DIR/train``).

    Returns:
        The manifest.

    Raises:
        ShardFormatError: Naming the folder or file and what is wrong.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise ShardFormatError(
            f"shard folder not found: {folder} (write it with `foundations data shard`)"
        )
    manifest = _load_json(folder / MANIFEST_NAME, "shard manifest")
    if manifest.get("format") != FORMAT:
        raise ShardFormatError(f"{folder / MANIFEST_NAME} is not a {FORMAT} manifest")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise ShardFormatError(
            f"{folder / MANIFEST_NAME} has format_version {manifest.get('format_version')}; "
            f"this version of foundations reads {FORMAT_VERSION}"
        )
    index = _load_json(folder / INDEX_NAME, "LitData chunk index")
    try:
        chunks = index["chunks"]
        formats = index["config"]["data_format"]
    except (KeyError, TypeError) as error:
        raise ShardFormatError(f"{folder / INDEX_NAME} lacks {error}") from error
    unsafe = [name for name in formats if str(name).split(":")[0] in UNSAFE_FORMATS]
    if unsafe:
        raise ShardFormatError(f"{folder / INDEX_NAME} stores {unsafe} leaves; refusing to read")
    total = 0
    for chunk in chunks:
        path = folder / chunk["filename"]
        if not path.is_file():
            raise ShardFormatError(f"shard {path} listed in {folder / INDEX_NAME} is missing")
        if path.stat().st_size != chunk["chunk_bytes"]:
            raise ShardFormatError(
                f"shard {path} has {path.stat().st_size} bytes, {folder / INDEX_NAME} says "
                f"{chunk['chunk_bytes']} (truncated or replaced?)"
            )
        total += int(chunk["chunk_size"])
    if total != manifest.get("count"):
        raise ShardFormatError(
            f"{folder} holds {total} samples but its manifest says {manifest.get('count')}"
        )
    return manifest
