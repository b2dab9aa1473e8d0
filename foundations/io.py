"""Writing files so that a reader (or another rank) never sees half of one."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
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


@contextmanager
def atomic_folder(root: Path, is_complete: Callable[[Path], bool] = Path.is_dir) -> Iterator[Path]:
    """Fill a temporary folder next to ``root``, then rename it to ``root`` in one step.

    A reader never sees a half-written ``root``. The folder is made readable by everyone
    (``mkdtemp`` creates it owner-only), since caches may be shared. When another writer
    renamed its folder into place first, theirs is kept and ours removed; on an error inside
    the block the temporary folder is removed and the error propagates.

    Args:
        root: Destination folder; its parents are created.
        is_complete: Whether an existing ``root`` is a finished folder (a lost race rather than
            a failure) when the rename is refused.

    Yields:
        The temporary folder to fill.

    Raises:
        OSError: When the rename fails and ``root`` is not a finished folder.
    """
    root.parent.mkdir(parents=True, exist_ok=True)
    temp = Path(tempfile.mkdtemp(prefix=f".{root.name}.", suffix=".tmp", dir=root.parent))
    try:
        yield temp
        os.chmod(temp, 0o755)
        try:
            os.rename(temp, root)
        except OSError:
            if not is_complete(root):
                raise
    finally:
        shutil.rmtree(temp, ignore_errors=True)
