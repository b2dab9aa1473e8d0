"""Rebuild an encoder from a card's ``architecture``, importing only trusted classes.

Written by hand rather than with jsonargparse or ``lightning.pytorch.cli.instantiate_module``:
those import whatever dotted path a config names before anything can check it, and a card comes
from a hub, so a malicious card could name any callable (``os.system``). Here a class path is
checked against the trusted packages *before* its module is imported, and only
``torch.nn.Module`` subclasses are called.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from torch import nn

from foundations.hub.errors import UnsafeFileError
from foundations.registry import domains, import_object

#: Packages whose modules a card may name. Installed domain plugins add the packages of their
#: tokenizers (a third-party science is trusted once installed).
TRUSTED_PACKAGES = ("foundations", "domains")

_DOTTED = re.compile(r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+")


def trusted_packages() -> set[str]:
    """Top-level packages a card's class paths may come from."""
    packages = set(TRUSTED_PACKAGES)
    for plugin in domains().values():
        packages.update(path.split(".", 1)[0] for path in plugin.tokenizers.values())
    return packages


def _check_class_path(class_path: Any, source: str, packages: Iterable[str]) -> type[nn.Module]:
    if not isinstance(class_path, str) or not _DOTTED.fullmatch(class_path):
        raise UnsafeFileError(f"{source}: class_path {class_path!r} is not a dotted import path")
    top = class_path.split(".", 1)[0]
    if top not in set(packages):
        raise UnsafeFileError(
            f"{source}: class_path {class_path!r} is outside the trusted packages "
            f"{sorted(set(packages))}; cards may only name foundations encoders and the "
            "tokenizers of installed domains"
        )
    cls = import_object(class_path)
    if not (isinstance(cls, type) and issubclass(cls, nn.Module)):
        raise UnsafeFileError(f"{source}: {class_path} is not a torch.nn.Module class")
    return cls


def build_module(config: dict[str, Any], source: str = "card.json") -> nn.Module:
    """Instantiate ``{"class_path", "init_args"}``, nested configs first.

    Args:
        config: The architecture; any init arg that is itself a ``{"class_path", ...}``
            mapping is built the same way (the encoder's tokenizer).
        source: Named in errors.

    Returns:
        The module with fresh weights.

    Raises:
        UnsafeFileError: When a class path is outside the trusted packages or not a module.
        ValueError: Naming ``source`` when the init args do not fit the class.
    """
    packages = trusted_packages()

    def build(value: Any) -> Any:
        if isinstance(value, dict) and "class_path" in value:
            cls = _check_class_path(value["class_path"], source, packages)
            args = value.get("init_args") or {}
            if not isinstance(args, dict):
                raise ValueError(f"{source}: init_args of {value['class_path']} must be a mapping")
            try:
                return cls(**{key: build(arg) for key, arg in args.items()})
            except TypeError as error:
                raise ValueError(
                    f"{source}: cannot build {value['class_path']}: {error}"
                ) from error
        if isinstance(value, dict):
            return {key: build(arg) for key, arg in value.items()}
        if isinstance(value, list):
            return [build(arg) for arg in value]
        return value

    module = build(config)
    if not isinstance(module, nn.Module):
        raise ValueError(f"{source}: architecture is not a module config")
    return module
