"""Writing files so that a reader (or another rank) never sees half of one."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

CACHE_ENV = "FOUNDATIONS_CACHE"


def cache_root() -> Path:
    """Where generated datasets and caches live: ``$FOUNDATIONS_CACHE``, else
    ``~/.cache/foundations``."""
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "foundations").expanduser()


def atomic_save_npz(path: Path, compress: bool = False, **arrays: Any) -> Path:
    """Write NumPy arrays to ``path`` (``.npz``) through a temporary file and a rename.

    The temporary file lives in the same folder, so ``os.replace`` is atomic: concurrent
    writers of the same content (several ranks generating a dataset, two protocols filling a
    cache) leave one complete file. Arrays are stored without pickling. Parent folders are
    created; the file is made readable by everyone (``mkstemp`` creates it owner-only), since
    caches may be shared.

    Args:
        path: Destination.
        compress: Use ``np.savez_compressed``.
        **arrays: Named arrays.

    Returns:
        ``path``.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    save = np.savez_compressed if compress else np.savez
    try:
        with os.fdopen(handle, "wb") as file:
            save(file, allow_pickle=False, **arrays)
            file.flush()
            os.fsync(file.fileno())
        os.chmod(temp_name, 0o644)
        os.replace(temp_name, path)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise
    return path
