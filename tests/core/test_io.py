"""atomic_folder: a reader never sees half a folder, and a lost race keeps the winner's."""

from __future__ import annotations

from pathlib import Path

import pytest

from foundations.io import atomic_folder


def test_the_folder_appears_only_when_complete(tmp_path: Path) -> None:
    root = tmp_path / "deep" / "data"
    with atomic_folder(root) as temp:
        (temp / "a.txt").write_text("a")
        assert not root.exists()
    assert (root / "a.txt").read_text() == "a"
    assert list(root.parent.iterdir()) == [root]
    assert root.stat().st_mode & 0o755 == 0o755


def test_an_error_leaves_nothing_behind(tmp_path: Path) -> None:
    root = tmp_path / "data"
    with pytest.raises(RuntimeError, match="boom"), atomic_folder(root) as temp:
        (temp / "a.txt").write_text("a")
        raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


def test_a_lost_race_keeps_the_first_writer(tmp_path: Path) -> None:
    root = tmp_path / "data"
    with atomic_folder(root) as temp:
        (temp / "who").write_text("second")
        root.mkdir()
        (root / "who").write_text("first")
    assert (root / "who").read_text() == "first"
    assert list(tmp_path.iterdir()) == [root]


def test_an_incomplete_folder_in_the_way_is_an_error(tmp_path: Path) -> None:
    root = tmp_path / "data"
    root.mkdir()
    (root / "partial").write_text("x")
    with pytest.raises(OSError), atomic_folder(root, is_complete=lambda p: False) as temp:
        (temp / "who").write_text("mine")
    assert list(tmp_path.iterdir()) == [root]
