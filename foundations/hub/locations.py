"""Where the default hub and the local cache are: ``FOUNDATIONS_HUB`` and ``FOUNDATIONS_CACHE``."""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

from foundations.hub.errors import HubError
from foundations.io import cache_root

HUB_ENV = "FOUNDATIONS_HUB"


def default_hub(hub: str | os.PathLike[str] | None = None) -> str:
    """``hub`` when given, else ``$FOUNDATIONS_HUB``.

    Raises:
        HubError: When neither is set.
    """
    if hub is not None and os.fspath(hub):
        return os.fspath(hub)
    env = os.environ.get(HUB_ENV)
    if env:
        return env
    raise HubError(f"no hub given: pass --hub/hub=... or set ${HUB_ENV} to a folder, URL or hf://")


def hub_cache(location: str, cache: str | os.PathLike[str] | None = None) -> Path:
    """The cache folder of one hub: ``<cache>/hub/<readable slug>-<sha256 prefix>``.

    ``cache`` defaults to ``$FOUNDATIONS_CACHE`` or ``~/.cache/foundations``. Each hub gets its
    own folder, so two hubs holding different ``name@version`` never mix.
    """
    root = Path(cache).expanduser() if cache is not None else cache_root()
    slug = re.sub(r"[^A-Za-z0-9]+", "_", location).strip("_")[-40:] or "hub"
    digest = hashlib.sha256(location.encode()).hexdigest()[:12]
    return root / "hub" / f"{slug}-{digest}"
