"""Python entry points that mirror the CLI verbs.

``foundations fit -c recipe.yaml --trainer.max_epochs 2`` is
``foundations.api.fit("recipe.yaml", {"trainer.max_epochs": 2})``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

from foundations.cli.lightning_cli import FoundationsCLI

Verb = Literal["fit", "validate", "test", "predict"]
Overrides = Mapping[str, Any] | Sequence[str] | None


def override_args(overrides: Overrides) -> list[str]:
    """``{"trainer.max_epochs": 2}`` -> ``["--trainer.max_epochs", "2"]``; lists pass through."""
    if overrides is None:
        return []
    if isinstance(overrides, Mapping):
        args: list[str] = []
        for key, value in overrides.items():
            text = str(value).lower() if isinstance(value, bool) else str(value)
            args += [f"--{key.removeprefix('--')}", text]
        return args
    return list(overrides)


def run(verb: Verb, recipe: str | Path, overrides: Overrides = None) -> FoundationsCLI:
    """Run a Lightning verb on a recipe.

    Returns:
        The CLI object, holding ``model``, ``datamodule`` and ``trainer``.
    """
    return FoundationsCLI(args=[verb, "-c", str(recipe), *override_args(overrides)])


def fit(recipe: str | Path, overrides: Overrides = None) -> FoundationsCLI:
    """Train from a recipe, as ``foundations fit -c RECIPE``."""
    return run("fit", recipe, overrides)


def validate(recipe: str | Path, overrides: Overrides = None) -> FoundationsCLI:
    """Run the validation loop, as ``foundations validate -c RECIPE``."""
    return run("validate", recipe, overrides)


def test(recipe: str | Path, overrides: Overrides = None) -> FoundationsCLI:
    """Run the test loop, as ``foundations test -c RECIPE``."""
    return run("test", recipe, overrides)


def predict(recipe: str | Path, overrides: Overrides = None) -> FoundationsCLI:
    """Write embeddings, as ``foundations predict -c RECIPE``."""
    return run("predict", recipe, overrides)


def build(recipe: str | Path, overrides: Overrides = None) -> FoundationsCLI:
    """Instantiate a recipe's model, datamodule and trainer without running anything."""
    return FoundationsCLI(args=["-c", str(recipe), *override_args(overrides)], run=False)
