"""On-disk embedding cache, so that repeated protocols on one model embed each split once.

An entry is one ``.npz`` file per ``(model, dataset, split)``, named by the sha256 of the three
identities. Models are identified by :func:`fingerprint_module` (their weights and structure),
datasets by :func:`fingerprint_config` (their hyper-parameters). Files are written atomically
and read without unpickling, so a half-written or hostile file can never run code; an
unreadable one is a miss and is rewritten.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from collections.abc import Iterable, Mapping
from enum import Enum
from pathlib import Path, PurePath
from typing import Any

import numpy as np
import torch
from torch import nn

from evaluation.embeddings import extract_embeddings
from foundations.io import atomic_save_npz, cache_root

"""Environment variable naming the cache root (default ``~/.cache/foundations``)."""

CACHE_FORMAT = 1
"""Bump when the file layout changes, so old entries become misses rather than errors."""

_SKIPPED_ATTRIBUTES = frozenset({"training"})


def default_cache_root() -> Path:
    """``$FOUNDATIONS_CACHE``, or ``~/.cache/foundations`` when the variable is unset."""
    return cache_root()


def _plain(value: Any) -> bool:
    if value is None or isinstance(value, bool | int | float | str):
        return True
    return isinstance(value, tuple | list) and all(_plain(item) for item in value)


def _tensor_bytes(tensor: torch.Tensor) -> bytes:
    flat = tensor.detach().to("cpu").contiguous().reshape(-1)
    return flat.view(torch.uint8).numpy().tobytes()


def fingerprint_module(module: nn.Module) -> str:
    """A sha256 identity of a module: its weights, and the structure that interprets them.

    The digest covers every ``state_dict`` entry in sorted order (name, dtype, shape and raw
    bytes, read on the CPU, so the device does not matter), and for every submodule its class
    and its plain scalar attributes (``num_heads``, ``modality``, ``pool_kind``...): weights
    alone do not tell apart two encoders that differ only in a shape-free hyper-parameter, and
    two recipes with the same seed draw identical random weights for them. Train/eval mode is
    left out. So the identity changes when, and only when, the weights (or the architecture)
    change.

    Args:
        module: Any ``nn.Module``, e.g. an :class:`~foundations.encoders.Encoder`.

    Returns:
        64 hexadecimal characters.
    """
    digest = hashlib.sha256(b"foundations.fingerprint_module.v1\0")
    for name, child in sorted(module.named_modules(), key=lambda item: item[0]):
        kind = type(child)
        attributes = {
            key: value
            for key, value in vars(child).items()
            if not key.startswith("_") and key not in _SKIPPED_ATTRIBUTES and _plain(value)
        }
        structure = [name, f"{kind.__module__}.{kind.__qualname__}", attributes]
        digest.update(json.dumps(structure, sort_keys=True).encode() + b"\0")
    state = module.state_dict()
    for name in sorted(state):
        value = state[name]
        if isinstance(value, torch.Tensor):
            header = f"{name}|{value.dtype}|{tuple(value.shape)}"
            digest.update(header.encode() + b"\0" + _tensor_bytes(value) + b"\0")
        else:  # extra state (``get_extra_state``): hashed through its repr
            digest.update(f"{name}|{type(value).__qualname__}|{value!r}".encode() + b"\0")
    return digest.hexdigest()


def _jsonable(value: Any) -> Any:
    if isinstance(value, PurePath):
        return str(value)
    if isinstance(value, Enum):
        return _jsonable(value.value)
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, torch.dtype):
        return str(value)
    if isinstance(value, set | frozenset):
        return sorted(_jsonable(item) for item in value)
    raise TypeError(
        f"cannot fingerprint a {type(value).__qualname__} ({value!r}); pass plain values "
        "(numbers, strings, lists, dicts, paths)"
    )


def fingerprint_config(obj: Any) -> str:
    """sha256 of a canonical JSON of plain values: a dataset's identity from its settings.

    Pass what decides a dataset's content, e.g. ``{"class": "pkg.DataModule",
    **datamodule.hparams}``. Keys are sorted and the JSON is compact, so equal configurations
    give equal digests whatever their key order; tuples and lists are the same. Paths, enums,
    numpy scalars/arrays, sets and torch dtypes are converted; anything else is refused rather
    than hashed through a ``repr`` that may hold a memory address.

    Args:
        obj: A mapping (or list, or scalar) of plain values.

    Returns:
        64 hexadecimal characters.

    Raises:
        TypeError: When a value cannot be written as JSON.
    """
    if isinstance(obj, Mapping):
        obj = dict(obj)  # e.g. Lightning's AttributeDict
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"), default=_jsonable)
    return hashlib.sha256(text.encode()).hexdigest()


class EmbeddingCache:
    """Embeddings and labels of one ``(model, dataset, split)`` per ``.npz`` file.

    Args:
        root: Folder of the entries; ``None`` means ``$FOUNDATIONS_CACHE/embeddings``
            (``~/.cache/foundations/embeddings`` when the variable is unset), read when the
            cache is created.
    """

    def __init__(self, root: Path | None = None) -> None:
        self.root = (
            Path(root).expanduser() if root is not None else default_cache_root() / "embeddings"
        )

    def key(self, model_id: str, dataset_id: str, split: str) -> str:
        """sha256 naming the entry of ``split`` of ``dataset_id`` embedded by ``model_id``."""
        identity = json.dumps([CACHE_FORMAT, model_id, dataset_id, split])
        return hashlib.sha256(identity.encode()).hexdigest()

    def path(self, model_id: str, dataset_id: str, split: str) -> Path:
        """The file holding the entry (which may not exist)."""
        return self.root / f"{self.key(model_id, dataset_id, split)}.npz"

    def get(
        self, model_id: str, dataset_id: str, split: str
    ) -> tuple[np.ndarray, np.ndarray | None] | None:
        """The cached ``(embeddings [N, D], labels [N] or None)``, or ``None`` on a miss.

        A file that cannot be read, lacks the arrays, or records another identity is a miss,
        with a warning naming it; the next :meth:`put` replaces it.
        """
        path = self.path(model_id, dataset_id, split)
        if not path.is_file():
            return None
        try:
            with np.load(path, allow_pickle=False) as archive:
                identity = [str(archive["identity"][i]) for i in range(3)]
                if identity != [model_id, dataset_id, split]:
                    raise ValueError(f"it holds the entry of {identity}")
                embeddings = np.array(archive["embeddings"])
                labels = np.array(archive["labels"]) if "labels" in archive.files else None
            _check(embeddings, labels)
        except Exception as error:
            warnings.warn(
                f"{path}: unreadable embedding cache file, treated as a miss and rewritten "
                f"({type(error).__name__}: {error})",
                RuntimeWarning,
                stacklevel=2,
            )
            return None
        return embeddings, labels

    def put(
        self,
        model_id: str,
        dataset_id: str,
        split: str,
        embeddings: np.ndarray,
        labels: np.ndarray | None = None,
    ) -> Path:
        """Store an entry atomically (a temporary file in the same folder, then a rename).

        Returns:
            The file written.

        Raises:
            ValueError: When ``embeddings`` is not ``[N, D]``, ``labels`` does not have ``N``
                rows, or either has an ``object`` dtype (which would need pickling).
        """
        _check(embeddings, labels)
        path = self.path(model_id, dataset_id, split)
        arrays: dict[str, Any] = {
            "identity": np.array([model_id, dataset_id, split]),
            "embeddings": np.ascontiguousarray(embeddings),
        }
        if labels is not None:
            arrays["labels"] = np.ascontiguousarray(labels)
        atomic_save_npz(path, **arrays)
        return path


def _check(embeddings: np.ndarray, labels: np.ndarray | None) -> None:
    if not isinstance(embeddings, np.ndarray) or embeddings.ndim != 2:
        raise ValueError(f"embeddings must be an [N, D] array, got {np.shape(embeddings)}")
    if embeddings.dtype == object or (labels is not None and labels.dtype == object):
        raise ValueError("object arrays cannot be cached (they would need pickling)")
    if labels is not None and (labels.ndim == 0 or len(labels) != len(embeddings)):
        raise ValueError(f"{len(embeddings)} embeddings but labels of shape {labels.shape}")
    if embeddings.dtype.kind in "fc" and not np.isfinite(embeddings).all():
        raise ValueError("embeddings hold NaN or infinite values")


def cached_embeddings(
    cache: EmbeddingCache,
    encoder: nn.Module,
    dataloader: Iterable[dict[str, Any]],
    model_id: str,
    dataset_id: str,
    split: str,
    modality: str | None = None,
    device: str | torch.device | None = None,
) -> tuple[np.ndarray, np.ndarray | None]:
    """The embeddings of one split, from the cache or computed once and stored.

    ``model_id`` and ``dataset_id`` are trusted to identify what ``encoder`` and ``dataloader``
    are (use :func:`fingerprint_module` and :func:`fingerprint_config`); when ``modality``
    overrides the encoder's own, make ``dataset_id`` say so.

    Args:
        cache: Where entries live.
        encoder: Embeds the batches on a miss (see :func:`extract_embeddings`).
        dataloader: Sample dicts of the split, in a fixed order.
        model_id: Identity of the encoder.
        dataset_id: Identity of the dataset (and its preprocessing).
        split: Name of the split (``"train"``, ``"val"``, ``"test"``, ...).
        modality: Sample key to embed; defaults to the encoder's.
        device: Where to embed on a miss; defaults to CUDA when available.

    Returns:
        ``(embeddings [N, D] float32, labels [N] or None)``.
    """
    hit = cache.get(model_id, dataset_id, split)
    if hit is not None:
        return hit
    embeddings, labels = extract_embeddings(encoder, dataloader, modality, device)
    cache.put(model_id, dataset_id, split, embeddings, labels)
    return embeddings, labels
