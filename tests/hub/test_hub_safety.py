"""Tampered files, wrong hashes, pickles, untrusted classes and traversal names are refused."""

from __future__ import annotations

import json
import os
from pathlib import Path

import hub_support
import pytest
import torch

import foundations.hub as hub
from foundations.hub.card import dumps
from foundations.hub.hashing import sha256_bytes, sha256_file
from foundations.hub.names import check_file_name, check_name, parse_ref
from foundations.hub.transports import LocalTransport

# Fixtures shared by the hub tests (trained once per session).
toy_checkpoint = hub_support.toy_checkpoint
toy_run = hub_support.toy_run


@pytest.fixture()
def local_hub(toy_checkpoint: Path, tmp_path: Path) -> Path:
    hub.push(toy_checkpoint, "toy", tmp_path / "hub")
    return tmp_path / "hub"


def _republish(root: Path, mutate_card) -> None:  # type: ignore[no-untyped-def]
    """Rewrite toy@1's card with ``mutate_card`` and fix the index's hash (a hostile hub)."""
    card_path = root / "toy" / "1" / "card.json"
    card = json.loads(card_path.read_text())
    mutate_card(card)
    card_path.write_bytes(dumps(card))
    index = json.loads((root / "index.json").read_text())
    index["models"]["toy"]["versions"]["1"]["card_sha256"] = sha256_bytes(card_path.read_bytes())
    (root / "index.json").write_bytes(dumps(index))


def _no_leftovers(cache: Path) -> None:
    left = [
        p for p in cache.rglob("*") if p.is_file() and not p.name.endswith((".lock", "index.json"))
    ]
    assert left == [], left


def test_tampered_weights_are_refused_naming_the_file_and_both_hashes(
    local_hub: Path, tmp_path: Path
) -> None:
    weights = local_hub / "toy" / "1" / "model.safetensors"
    expected = sha256_file(weights)
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF
    weights.write_bytes(bytes(data))
    actual = sha256_file(weights)
    cache = tmp_path / "cache"
    with pytest.raises(hub.IntegrityError) as caught:
        hub.pull("toy", local_hub, cache)
    message = str(caught.value)
    assert "model.safetensors" in message and expected in message and actual in message
    _no_leftovers(cache)  # the partial download was removed
    with pytest.raises(hub.IntegrityError, match=r"model\.safetensors"):
        hub.verify("toy", local_hub, cache)


def test_tampered_card_and_cache_are_refused(local_hub: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    pulled = hub.pull("toy", local_hub, cache)
    cached = pulled.folder / "model.safetensors"
    os.chmod(cached, 0o644)
    cached.write_bytes(cached.read_bytes()[:-1] + b"\0")
    with pytest.raises(hub.IntegrityError, match=r"model\.safetensors: sha256 mismatch"):
        hub.verify("toy", local_hub, cache)  # verify reports, it does not repair
    assert torch.is_tensor(
        next(iter(hub.load("toy", hub=local_hub, cache=cache).state_dict().values()))
    )
    card = local_hub / "toy" / "1" / "card.json"
    card.write_text(card.read_text().replace('"licence": "unspecified"', '"licence": "MIT"'))
    with pytest.raises(hub.IntegrityError, match=r"card\.json: sha256 mismatch"):
        hub.pull("toy", local_hub, tmp_path / "other-cache")
    with pytest.raises(hub.IntegrityError, match=r"card\.json"):
        hub.show("toy", local_hub)


def test_pickles_are_refused(local_hub: Path, tmp_path: Path) -> None:
    # A card that lists a pickle is refused before anything is downloaded.
    _republish(local_hub, lambda card: card["files"].update({"extra.pt": {"sha256": "0" * 64}}))
    with pytest.raises(hub.UnsafeFileError, match=r"extra\.pt: pickled files are never read"):
        hub.pull("toy", local_hub, tmp_path / "c1")

    # A pickle named model.safetensors, with matching hashes, is still never unpickled.
    weights = local_hub / "toy" / "1" / "model.safetensors"
    torch.save({"weight": torch.zeros(2)}, weights)

    def fix(card: dict) -> None:
        card["files"].pop("extra.pt")
        card["files"]["model.safetensors"]["sha256"] = sha256_file(weights)

    _republish(local_hub, fix)
    with pytest.raises(hub.UnsafeFileError, match=r"model\.safetensors: not a safetensors file"):
        hub.load("toy", hub=local_hub, cache=tmp_path / "c2")


def test_cards_cannot_name_code_outside_trusted_packages(local_hub: Path, tmp_path: Path) -> None:
    _republish(
        local_hub,
        lambda card: card["architecture"].update(
            {"class_path": "subprocess.Popen", "init_args": {"args": "true"}}
        ),
    )
    with pytest.raises(hub.UnsafeFileError, match=r"'subprocess\.Popen' is outside the trusted"):
        hub.load("toy", hub=local_hub, cache=tmp_path / "cache")


@pytest.mark.parametrize(
    "name", ["../x", "/etc/passwd", "a/b", "..", "x y", "", "UPPER", "a..b", "x\\y"]
)
def test_traversal_and_odd_names_are_refused(
    name: str, local_hub: Path, toy_checkpoint: Path
) -> None:
    with pytest.raises(hub.UnsafeFileError, match="invalid model name"):
        check_name(name)
    with pytest.raises(hub.UnsafeFileError):
        hub.pull(name, local_hub)
    with pytest.raises(hub.UnsafeFileError):
        hub.push(toy_checkpoint, name, local_hub)


def test_versions_files_and_index_entries_cannot_escape(local_hub: Path, tmp_path: Path) -> None:
    with pytest.raises(hub.UnsafeFileError, match="invalid version"):
        parse_ref("toy@../../etc")
    for bad in ("../card.json", "/abs.json", "sub/model.safetensors", "run.sh"):
        with pytest.raises(hub.UnsafeFileError):
            check_file_name(bad)
    with pytest.raises(hub.UnsafeFileError, match="stay below the root"):
        LocalTransport(local_hub).read_bytes("../secret.json")
    index = json.loads((local_hub / "index.json").read_text())
    index["models"]["../evil"] = index["models"]["toy"]
    (local_hub / "index.json").write_bytes(dumps(index))
    with pytest.raises(hub.UnsafeFileError, match=r"invalid model name '\.\./evil'"):
        hub.list_models(local_hub)


def test_versions_are_immutable_and_formats_checked(
    local_hub: Path, toy_checkpoint: Path, tmp_path: Path
) -> None:
    with pytest.raises(hub.HubError, match="already"):
        hub.push(toy_checkpoint, "toy", local_hub, version="1")
    _republish(local_hub, lambda card: card.update({"format_version": 99}))
    with pytest.raises(hub.CardError, match="format_version 99 is newer"):
        hub.pull("toy", local_hub, tmp_path / "cache")


def test_convert_pickle_needs_trust_for_code(tmp_path: Path) -> None:
    source = tmp_path / "weights.pt"
    torch.save(
        {"model": {"module.w": torch.ones(2, 2), "module.b": torch.zeros(2)}, "epoch": 3}, source
    )
    output = hub.convert_pickle(source, key="model", prefix="module.")
    from safetensors.torch import load_file

    assert set(load_file(str(output))) == {"w", "b"}
    coded = tmp_path / "coded.pt"
    torch.save({"state_dict": {"w": torch.ones(1)}, "obj": Path("x")}, coded)
    with pytest.raises(hub.HubError, match=r"coded\.pt: cannot be read as weights only.*trust"):
        hub.convert_pickle(coded)
    assert set(load_file(str(hub.convert_pickle(coded, trust_code=True)))) == {"w"}
