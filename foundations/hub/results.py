"""Attach ``foundations eval`` results (``results.json``) to a card."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from foundations.hub.card import to_json
from foundations.hub.errors import CardError


def _scalars(protocol: Any) -> Any:
    """A protocol's headline numbers: scalar metrics, or the summary of a sweep."""
    if isinstance(protocol, dict):
        if "summary" in protocol:
            return protocol["summary"]
        return {k: v for k, v in protocol.items() if isinstance(v, int | float | str | None)}
    return None


def summarise_results(
    path: str | os.PathLike[str], model_path: str | os.PathLike[str] | None = None
) -> tuple[str, dict[str, Any]]:
    """``(benchmark name, card entry)`` from a ``results.json`` written by ``foundations eval``.

    The entry keeps the benchmark's primary metric, split, dataset id and creation time, the
    candidate that is this model (the one whose checkpoint file name matches ``model_path``;
    ``None`` when none does), and every candidate's headline numbers so baselines stay next to
    the model's.

    Raises:
        CardError: Naming the file when it is not a ``foundations eval`` results file.
    """
    path = Path(path)
    try:
        results = json.loads(path.read_text())
        benchmark = results["benchmark"]
        candidates = results["candidates"]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise CardError(f"{path}: not a `foundations eval` results.json ({error})") from error
    model = None
    if model_path is not None:
        wanted = Path(model_path).name
        for name, info in (results.get("models") or {}).items():
            if info.get("path") and Path(info["path"]).name == wanted:
                model = name
    entry = {
        "primary_metric": benchmark.get("primary_metric"),
        "split": results.get("split"),
        "dataset_id": results.get("dataset_id"),
        "created": results.get("created"),
        "model": model,
        "candidates": {
            name: {p: _scalars(v) for p, v in protocols.items() if _scalars(v) is not None}
            for name, protocols in candidates.items()
        },
    }
    return str(benchmark.get("name", path.parent.name)), to_json(entry)
