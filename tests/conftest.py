"""Suite-wide fixtures: generated data goes to a temporary cache, never the user's home."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True, scope="session")
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    import os

    os.environ["FOUNDATIONS_CACHE"] = str(tmp_path_factory.mktemp("foundations_cache"))


@pytest.fixture()
def repo_root() -> Path:
    return Path(__file__).resolve().parents[1]
