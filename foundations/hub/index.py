"""``index.json``: which models and versions a hub holds, and the sha256 of each card."""

from __future__ import annotations

from typing import Any

from foundations.hub.card import FORMAT_VERSION, INDEX_FILE, check_format
from foundations.hub.errors import CardError, HubNotFoundError
from foundations.hub.names import check_name, check_version


def empty_index() -> dict[str, Any]:
    """An index with no models."""
    return {"format_version": FORMAT_VERSION, "models": {}}


def check_index(index: dict[str, Any], source: str = INDEX_FILE) -> dict[str, Any]:
    """Validate an index's shape and names; return it.

    Raises:
        CardError: Naming ``source`` on a newer format or a malformed entry.
        UnsafeFileError: On a model name or version that could escape the hub root.
    """
    check_format(index, source)
    models = index.get("models")
    if not isinstance(models, dict):
        raise CardError(f"{source}: 'models' must be an object")
    for name, entry in models.items():
        check_name(name)
        versions = entry.get("versions") if isinstance(entry, dict) else None
        if not isinstance(versions, dict) or entry.get("latest") not in versions:
            raise CardError(f"{source}: model {name!r} needs 'versions' and a 'latest' among them")
        for version, info in versions.items():
            check_version(version)
            sha = info.get("card_sha256") if isinstance(info, dict) else None
            if not (isinstance(sha, str) and len(sha) == 64):
                raise CardError(f"{source}: {name}@{version} has no 64-hex-digit card_sha256")
    return index


def next_version(index: dict[str, Any] | None, name: str) -> str:
    """``"1"`` for a new model, else one more than the largest integer version."""
    versions = ((index or {}).get("models", {}).get(name) or {}).get("versions", {})
    numbers = [int(v) for v in versions if v.isdigit()]
    return str(max(numbers, default=0) + 1)


def add_version(
    index: dict[str, Any] | None, name: str, version: str, entry: dict[str, Any]
) -> dict[str, Any]:
    """A copy of ``index`` with ``name@version`` added and made the latest.

    Raises:
        CardError: When the version is already listed (versions are immutable).
    """
    new = check_index(index) if index is not None else empty_index()
    new = {**new, "format_version": FORMAT_VERSION, "models": dict(new["models"])}
    model = dict(new["models"].get(name) or {"versions": {}})
    if version in model["versions"]:
        raise CardError(f"{name}@{version} is already in the hub; versions are immutable")
    model["versions"] = {**model["versions"], version: entry}
    model["latest"] = version
    new["models"][name] = model
    return new


def resolve(index: dict[str, Any], name: str, version: str | None, source: str) -> tuple[str, str]:
    """``(version, card_sha256)`` of ``name@version`` (the latest when ``version`` is None).

    Raises:
        HubNotFoundError: Naming the hub and what it does hold.
    """
    check_index(index, source)
    model = index["models"].get(name)
    if model is None:
        available = ", ".join(sorted(index["models"])) or "none"
        raise HubNotFoundError(f"{source}: no model {name!r} (models: {available})")
    version = version or model["latest"]
    if version not in model["versions"]:
        available = ", ".join(model["versions"])
        raise HubNotFoundError(f"{source}: no version {name}@{version} (versions: {available})")
    return version, model["versions"][version]["card_sha256"]
