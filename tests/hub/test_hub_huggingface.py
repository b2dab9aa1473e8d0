"""The Hugging Face transport, with huggingface_hub's download and upload faked (no network)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import hub_support
import pytest
import torch
from huggingface_hub.errors import EntryNotFoundError, LocalEntryNotFoundError

import foundations.hub as hub

# Fixtures shared by the hub tests (trained once per session).
toy_checkpoint = hub_support.toy_checkpoint
toy_run = hub_support.toy_run


class FakeRepo:
    """A Hugging Face model repo as a local folder, with commits counted."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.commits: list[str] = []
        self.online = True

    def hf_hub_download(self, repo_id: str, filename: str, **kwargs: Any) -> str:
        assert repo_id == "lab/encoders" and kwargs.get("repo_type") == "model"
        if not self.online:
            raise LocalEntryNotFoundError("offline and not cached")
        path = self.root / filename
        if not path.is_file():
            raise EntryNotFoundError(f"{filename} not found")
        return str(path)

    def upload_folder(self, **kwargs: Any) -> None:
        assert kwargs["repo_id"] == "lab/encoders"
        shutil.copytree(kwargs["folder_path"], self.root, dirs_exist_ok=True)
        self.commits.append(kwargs["commit_message"])


def test_push_and_pull_through_huggingface_hub(
    toy_checkpoint: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = FakeRepo(tmp_path / "repo")
    monkeypatch.setattr("huggingface_hub.hf_hub_download", repo.hf_hub_download)
    monkeypatch.setattr(
        "huggingface_hub.HfApi.upload_folder", lambda self, **kw: repo.upload_folder(**kw)
    )
    card = hub.push(toy_checkpoint, "toy", "hf://lab/encoders")
    assert repo.commits == [
        "foundations hub push toy/1"
    ]  # weights, card, README and index: one commit
    assert (repo.root / "index.json").is_file() and (
        repo.root / "toy" / "1" / "card.json"
    ).is_file()
    hub.push(toy_checkpoint, "toy", "hf://lab/encoders")
    assert [r["version"] for r in hub.list_models("hf://lab/encoders")] == ["1", "2"]

    cache = tmp_path / "cache"
    encoder = hub.load("toy@1", hub="hf://lab/encoders", cache=cache)
    assert encoder.hub_card.files == card.files
    images = torch.rand(2, 3, 32, 32)
    with torch.no_grad():
        first = encoder(images)
    repo.online = False  # offline: the cached copy is used
    with torch.no_grad():
        assert torch.equal(hub.load("toy@1", hub="hf://lab/encoders", cache=cache)(images), first)
    repo.online = True
    with pytest.raises(hub.HubNotFoundError, match="no model 'missing'"):
        hub.pull("missing", "hf://lab/encoders", cache)
    with pytest.raises(hub.HubError, match="expected hf://owner/repo"):
        hub.pull("toy", "hf://just-a-name", cache)
