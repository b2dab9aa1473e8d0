"""Reading and writing a hub's files over a local folder, HTTP(S) or a Hugging Face repo.

A hub is static files, so a transport needs only "read a file" and "publish some files plus a
new index". HTTP uses the standard library's ``urllib`` (streaming to a file, no extra
dependency; a static server needs nothing more); Hugging Face repos go through
``huggingface_hub`` (``hf_hub_download`` and one ``HfApi.upload_folder`` commit per push).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from pathlib import Path, PurePosixPath
from typing import Any

from filelock import FileLock

from foundations.hub.card import INDEX_FILE, dumps, loads
from foundations.hub.errors import HubError, HubNotFoundError, HubUnreachableError, UnsafeFileError
from foundations.hub.hashing import CHUNK
from foundations.io import atomic_folder

HF_PREFIX = "hf://"
TIMEOUT_S = 30.0

#: ``index -> new index`` (``None`` when the hub has no index yet).
IndexUpdate = Callable[[dict[str, Any] | None], dict[str, Any]]


def _relative(path: str) -> PurePosixPath:
    """A hub-relative POSIX path that cannot leave the hub's root."""
    pure = PurePosixPath(path)
    if pure.is_absolute() or not pure.parts or any(p in ("", ".", "..") for p in pure.parts):
        raise UnsafeFileError(f"{path!r}: hub paths must be relative and stay below the root")
    return pure


class Transport(ABC):
    """One hub location.

    Attributes:
        location: The hub as the user wrote it (normalised), also the cache's key.
    """

    location: str

    @abstractmethod
    def read_bytes(self, path: str) -> bytes:
        """Content of the hub file at ``path`` (relative, POSIX).

        Raises:
            HubNotFoundError: When the file does not exist.
            HubUnreachableError: When the hub cannot be contacted.
        """

    @abstractmethod
    def download(self, path: str, dest: Path) -> None:
        """Stream the hub file at ``path`` into the (new) local file ``dest``.

        Raises:
            HubNotFoundError: When the file does not exist.
            HubUnreachableError: When the hub cannot be contacted.
        """

    def publish(self, folder: str, files: Mapping[str, Path], update_index: IndexUpdate) -> None:
        """Add the version folder ``folder`` holding ``files`` and rewrite ``index.json``.

        Raises:
            HubError: When the hub is read-only or the folder already exists.
        """
        raise HubError(
            f"{self.location}: this hub is read-only; push to the folder or repository it serves"
        )

    def read_index(self) -> dict[str, Any] | None:
        """The parsed ``index.json``, or ``None`` for an empty hub."""
        try:
            data = self.read_bytes(INDEX_FILE)
        except HubNotFoundError:
            return None
        return loads(data, f"{self.location}/{INDEX_FILE}")


class LocalTransport(Transport):
    """A hub in a local (or mounted network) folder; pushes hold a file lock on the index."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root).expanduser().resolve()
        self.location = str(self.root)

    def _path(self, path: str) -> Path:
        full = self.root.joinpath(*_relative(path).parts)
        if not full.resolve().is_relative_to(self.root):
            raise UnsafeFileError(f"{path!r}: resolves outside the hub root {self.root}")
        return full

    def read_bytes(self, path: str) -> bytes:
        full = self._path(path)
        if not self.root.is_dir():
            raise HubUnreachableError(f"{self.root}: hub folder does not exist")
        if not full.is_file():
            raise HubNotFoundError(f"{full}: not in the hub")
        return full.read_bytes()

    def download(self, path: str, dest: Path) -> None:
        full = self._path(path)
        if not full.is_file():
            raise HubNotFoundError(f"{full}: not in the hub")
        shutil.copyfile(full, dest)

    def publish(self, folder: str, files: Mapping[str, Path], update_index: IndexUpdate) -> None:
        target = self._path(folder)
        self.root.mkdir(parents=True, exist_ok=True)
        with FileLock(str(self.root / ".index.lock"), timeout=120):
            if target.exists():
                raise HubError(f"{target}: this version already exists; versions are immutable")
            new_index = update_index(self.read_index())
            with atomic_folder(target) as temp:
                for name, source in files.items():
                    shutil.copyfile(source, temp / name)
            handle, temp_name = tempfile.mkstemp(prefix=".index.", dir=self.root)
            with os.fdopen(handle, "wb") as file:
                file.write(dumps(new_index))
            os.chmod(temp_name, 0o644)
            os.replace(temp_name, self.root / INDEX_FILE)


class HttpTransport(Transport):
    """A hub served by any static HTTP(S) server (read-only)."""

    def __init__(self, url: str) -> None:
        self.location = url.rstrip("/")

    def _open(self, path: str) -> Any:
        url = f"{self.location}/{urllib.parse.quote(str(_relative(path)))}"
        try:
            return urllib.request.urlopen(url, timeout=TIMEOUT_S)  # http(s) only: open_hub checks
        except urllib.error.HTTPError as error:
            if error.code == 404:
                raise HubNotFoundError(f"{url}: not in the hub (HTTP 404)") from error
            raise HubUnreachableError(f"{url}: HTTP {error.code} {error.reason}") from error
        except (urllib.error.URLError, OSError) as error:
            raise HubUnreachableError(f"{url}: hub unreachable ({error})") from error

    def read_bytes(self, path: str) -> bytes:
        with self._open(path) as response:
            data: bytes = response.read()
            return data

    def download(self, path: str, dest: Path) -> None:
        try:
            with self._open(path) as response, open(dest, "wb") as file:
                while chunk := response.read(CHUNK):
                    file.write(chunk)
        except (urllib.error.URLError, ConnectionError, TimeoutError) as error:
            raise HubUnreachableError(
                f"{self.location}/{path}: download failed ({error})"
            ) from error


class HuggingFaceTransport(Transport):
    """A hub stored in a Hugging Face Hub model repository, ``hf://owner/repo[@revision]``."""

    def __init__(self, location: str) -> None:
        spec = location.removeprefix(HF_PREFIX).strip("/")
        repo_id, _, revision = spec.partition("@")
        if repo_id.count("/") != 1 or not all(repo_id.split("/")):
            raise HubError(f"{location!r}: expected hf://owner/repo[@revision]")
        self.repo_id = repo_id
        self.revision = revision or None
        self.location = f"{HF_PREFIX}{spec}"

    def _fetch(self, path: str) -> Path:
        from huggingface_hub import hf_hub_download
        from huggingface_hub.errors import (
            EntryNotFoundError,
            LocalEntryNotFoundError,
            RepositoryNotFoundError,
            RevisionNotFoundError,
        )

        try:
            local = hf_hub_download(
                self.repo_id, str(_relative(path)), revision=self.revision, repo_type="model"
            )
        except LocalEntryNotFoundError as error:  # offline and not in huggingface's cache
            raise HubUnreachableError(
                f"{self.location}/{path}: hub unreachable ({error})"
            ) from error
        except (EntryNotFoundError, RepositoryNotFoundError, RevisionNotFoundError) as error:
            raise HubNotFoundError(f"{self.location}/{path}: not in the hub") from error
        except OSError as error:
            raise HubUnreachableError(
                f"{self.location}/{path}: hub unreachable ({error})"
            ) from error
        return Path(str(local))

    def read_bytes(self, path: str) -> bytes:
        return self._fetch(path).read_bytes()

    def download(self, path: str, dest: Path) -> None:
        shutil.copyfile(self._fetch(path), dest)

    def publish(self, folder: str, files: Mapping[str, Path], update_index: IndexUpdate) -> None:
        from huggingface_hub import HfApi

        if self._has_version(folder):
            raise HubError(f"{self.location}/{folder}: this version already exists")
        new_index = update_index(self.read_index())
        with tempfile.TemporaryDirectory(prefix="foundations-hub-") as staging:
            stage = Path(staging)
            target = stage.joinpath(*_relative(folder).parts)
            target.mkdir(parents=True)
            for name, source in files.items():
                shutil.copyfile(source, target / name)
            (stage / INDEX_FILE).write_bytes(dumps(new_index))
            HfApi().upload_folder(
                repo_id=self.repo_id,
                folder_path=stage,
                revision=self.revision,
                repo_type="model",
                commit_message=f"foundations hub push {folder}",
            )

    def _has_version(self, folder: str) -> bool:
        """Whether ``index.json`` already lists the version at ``folder`` (``name/version``)."""
        index = self.read_index() or {}
        name, _, version = folder.partition("/")
        return version in index.get("models", {}).get(name, {}).get("versions", {})


def open_hub(location: str | os.PathLike[str]) -> Transport:
    """The transport for ``location``: ``http(s)://...``, ``hf://owner/repo`` or a folder."""
    text = os.fspath(location)
    if text.startswith(("http://", "https://")):
        return HttpTransport(text)
    if text.startswith(HF_PREFIX):
        return HuggingFaceTransport(text)
    text = text.removeprefix("file://")
    if "://" in text:
        raise HubError(f"{text!r}: unknown hub scheme; use a folder, http(s):// or hf://")
    return LocalTransport(text)
