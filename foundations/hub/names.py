"""Model names and versions: validated so that no name can escape the hub's root."""

from __future__ import annotations

import re

from foundations.hub.errors import UnsafeFileError

_NAME = re.compile(r"[a-z0-9](?:[a-z0-9._-]{0,62}[a-z0-9])?")
_VERSION = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._+-]{0,30}[A-Za-z0-9])?")
_FILE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")

#: Kinds of file a hub may hold; everything else (pickles above all) is refused.
ALLOWED_SUFFIXES = (".safetensors", ".json", ".md")
PICKLE_SUFFIXES = (".pt", ".pth", ".ckpt", ".bin", ".pkl", ".pickle", ".npy", ".npz", ".joblib")


def check_name(name: str) -> str:
    """Return ``name`` when it is a valid model name, else raise.

    A name is 1-64 characters of lowercase letters, digits, ``.``, ``_`` and ``-``, starting
    and ending with a letter or digit, and without ``..``: it is always a single path
    component below the hub root, safe on every file system and in a URL.

    Raises:
        UnsafeFileError: Naming the name and the rule it breaks.
    """
    if not isinstance(name, str) or not _NAME.fullmatch(name) or ".." in name:
        raise UnsafeFileError(
            f"invalid model name {name!r}: use 1-64 lowercase letters, digits, '.', '_' or '-', "
            "starting and ending with a letter or digit (no '/', '..', spaces or absolute paths)"
        )
    return name


def check_version(version: str) -> str:
    """Return ``version`` when valid (1-32 of letters, digits, ``.``, ``_``, ``+``, ``-``).

    Raises:
        UnsafeFileError: Naming the version.
    """
    if not isinstance(version, str) or not _VERSION.fullmatch(version) or ".." in version:
        raise UnsafeFileError(
            f"invalid version {version!r}: use 1-32 letters, digits, '.', '_', '+' or '-', "
            "starting and ending with a letter or digit"
        )
    return version


def check_file_name(name: str) -> str:
    """Return ``name`` when a hub may hold a file of that name, else raise.

    Files are single path components ending in ``.safetensors``, ``.json`` or ``.md``.

    Raises:
        UnsafeFileError: Naming the file: pickles are refused with a pointer to
            ``foundations hub convert-pickle``, other kinds and paths as unsafe.
    """
    lowered = name.lower() if isinstance(name, str) else ""
    if lowered.endswith(PICKLE_SUFFIXES):
        raise UnsafeFileError(
            f"{name}: pickled files are never read from a hub (unpickling runs code); convert "
            "a local file you trust with `foundations hub convert-pickle`"
        )
    if not _FILE.fullmatch(lowered) or ".." in lowered or not lowered.endswith(ALLOWED_SUFFIXES):
        raise UnsafeFileError(
            f"{name!r}: a hub file must be a plain file name ending in "
            f"{', '.join(ALLOWED_SUFFIXES)} (no folders, '..' or absolute paths)"
        )
    return name


def parse_ref(ref: str) -> tuple[str, str | None]:
    """Split ``"NAME[@VERSION]"`` into a checked name and version (``None``: latest).

    Raises:
        UnsafeFileError: When the name or version is invalid.
    """
    name, sep, version = ref.strip().partition("@")
    check_name(name)
    if not sep:
        return name, None
    return name, check_version(version)
