"""Domain plugins and their discovery through the ``foundations.domains`` entry-point group.

A science (built in or third-party) is a :class:`DomainPlugin`. A package makes one available by
declaring, in its ``pyproject.toml``::

    [project.entry-points."foundations.domains"]
    my_science = "my_package.plugin:plugin"

where the target is a ``DomainPlugin`` or a zero-argument callable returning one. The core never
imports a domain by name: everything goes through this registry.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path
from typing import Any

ENTRY_POINT_GROUP = "foundations.domains"

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class DomainPlugin:
    """What a science contributes, as data.

    Attributes:
        name: Short unique name (``"astronomy"``).
        description: One line for ``foundations info``.
        datasets: Name -> import path (``"pkg.module.Class"``) of datasets / datamodules.
        tokenizers: Name -> import path of tokenizer modules.
        recipes_dir: Folder holding this domain's YAML recipes, or ``None``.
        benchmarks: Name -> benchmark definition (any object; the evaluation package reads it).
        transforms: Name -> import path of augmentation / view policies.
    """

    name: str
    description: str = ""
    datasets: dict[str, str] = field(default_factory=dict)
    tokenizers: dict[str, str] = field(default_factory=dict)
    recipes_dir: Path | None = None
    benchmarks: dict[str, Any] = field(default_factory=dict)
    transforms: dict[str, str] = field(default_factory=dict)

    def recipes(self) -> list[Path]:
        """YAML recipes shipped by this domain, sorted by path."""
        if self.recipes_dir is None or not Path(self.recipes_dir).is_dir():
            return []
        return sorted(Path(self.recipes_dir).rglob("*.yaml"))


class PluginError(RuntimeError):
    """A domain plugin could not be loaded or is malformed."""


def _load(entry: EntryPoint) -> DomainPlugin:
    try:
        obj = entry.load()
    except Exception as error:
        raise PluginError(
            f"domain plugin {entry.name!r} ({entry.value}) failed to import: {error}"
        ) from error
    plugin = obj() if callable(obj) and not isinstance(obj, DomainPlugin) else obj
    if not isinstance(plugin, DomainPlugin):
        raise PluginError(
            f"domain plugin {entry.name!r} ({entry.value}) gave {type(plugin).__name__}, "
            "expected foundations.registry.DomainPlugin"
        )
    return plugin


def _entry_points() -> Iterable[EntryPoint]:
    return entry_points(group=ENTRY_POINT_GROUP)


_extra: dict[str, DomainPlugin] = {}


def register(plugin: DomainPlugin) -> DomainPlugin:
    """Register a plugin from Python (tests, notebooks) without an installed entry point."""
    _extra[plugin.name] = plugin
    return plugin


def domains(strict: bool = False) -> dict[str, DomainPlugin]:
    """All installed domain plugins, by name.

    Args:
        strict: Raise :class:`PluginError` for a broken plugin instead of logging and skipping.

    Returns:
        Plugins sorted by name. Entry points are read on every call, so a package installed
        into the running environment shows up without a restart.

    Raises:
        PluginError: With ``strict``, when a plugin fails to load or two share a name.
    """
    found: dict[str, DomainPlugin] = {}
    for entry in _entry_points():
        try:
            plugin = _load(entry)
        except PluginError as error:
            if strict:
                raise
            logger.warning("%s", error)
            continue
        if plugin.name in found and strict:
            raise PluginError(f"two domain plugins are named {plugin.name!r}")
        found[plugin.name] = plugin
    found.update(_extra)
    return dict(sorted(found.items()))


def get_domain(name: str) -> DomainPlugin:
    """The plugin called ``name``.

    Raises:
        KeyError: Naming the installed domains when ``name`` is not one of them.
    """
    available = domains()
    if name not in available:
        raise KeyError(f"no domain {name!r}; installed domains: {', '.join(available) or 'none'}")
    return available[name]


def import_object(path: str) -> Callable[..., Any]:
    """Import ``"package.module.Name"`` and return ``Name``.

    Raises:
        ImportError: Naming ``path`` when the module or attribute does not exist.
    """
    module_name, _, attribute = path.rpartition(".")
    if not module_name:
        raise ImportError(f"{path!r} is not a dotted import path")
    module = importlib.import_module(module_name)
    try:
        obj: Callable[..., Any] = getattr(module, attribute)
        return obj
    except AttributeError as error:
        raise ImportError(f"{module_name!r} has no attribute {attribute!r}") from error
