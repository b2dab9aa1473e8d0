"""Turn a local pickled checkpoint the user trusts into safetensors (all that hubs hold)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save_file

from foundations.hub.errors import HubError

_STATE_KEYS = ("state_dict", "model", "teacher", "student", "model_state", "module")


def _find_state_dict(obj: Any, key: str | None, source: Path) -> Mapping[str, torch.Tensor]:
    if key is not None:
        for part in key.split("."):
            if not isinstance(obj, Mapping) or part not in obj:
                raise HubError(f"{source}: no entry {key!r} (top-level keys: {list(obj)[:20]})")
            obj = obj[part]
    elif isinstance(obj, Mapping) and not all(isinstance(v, torch.Tensor) for v in obj.values()):
        for candidate in _STATE_KEYS:
            if isinstance(obj.get(candidate), Mapping):
                obj = obj[candidate]
                break
    if not isinstance(obj, Mapping) or not obj:
        raise HubError(f"{source}: no state dict found; name one with key=...")
    tensors = {str(k): v for k, v in obj.items() if isinstance(v, torch.Tensor)}
    if not tensors:
        raise HubError(f"{source}: the selected entry holds no tensors")
    return tensors


def convert_pickle(
    source: str | Path,
    output: str | Path | None = None,
    key: str | None = None,
    prefix: str = "",
    trust_code: bool = False,
) -> Path:
    """Convert a local ``.pt``/``.pth``/``.ckpt``/``.bin`` to ``.safetensors``.

    The file is read with ``torch.load(weights_only=True)`` (tensors and plain containers,
    no code runs). Only with ``trust_code=True`` is a file that needs full unpickling loaded,
    which runs whatever code it holds: do that only for a local file you trust. Never use this
    on files downloaded from a hub; hubs refuse pickles.

    Args:
        source: The pickled file.
        output: Destination; default ``source`` with the suffix ``.safetensors``.
        key: Dotted path of the state dict inside the file (default: the file itself, or its
            ``state_dict``/``model``/``teacher``/... entry).
        prefix: Keep only keys starting with it, with it removed (e.g. ``"module."``).
        trust_code: Allow full unpickling.

    Returns:
        The safetensors file.

    Raises:
        HubError: Naming the file when it cannot be read safely or holds no tensors.
    """
    source = Path(source).expanduser()
    if not source.is_file():
        raise HubError(f"{source}: no such file")
    try:
        obj = torch.load(source, map_location="cpu", weights_only=not trust_code)
    except Exception as error:
        hint = (
            "" if trust_code else " (if you trust this file, pass --trust-code / trust_code=True)"
        )
        raise HubError(f"{source}: cannot be read as weights only: {error}{hint}") from error
    tensors = _find_state_dict(obj, key, source)
    if prefix:
        tensors = {k.removeprefix(prefix): v for k, v in tensors.items() if k.startswith(prefix)}
        if not tensors:
            raise HubError(f"{source}: no key starts with {prefix!r}")
    output = Path(output) if output is not None else source.with_suffix(".safetensors")
    save_file({k: v.detach().contiguous().clone() for k, v in tensors.items()}, str(output))
    return output
