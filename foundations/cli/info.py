"""``foundations info``: what domains, datasets, tokenizers, recipes and benchmarks exist."""

from __future__ import annotations

from pathlib import Path

from foundations.registry import DomainPlugin, domains


def _relative(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def describe_domain(plugin: DomainPlugin) -> str:
    """A human-readable block describing one plugin."""
    lines = [f"{plugin.name}: {plugin.description}".rstrip(": ")]
    sections: list[tuple[str, list[str]]] = [
        ("datasets", [f"{name} ({path})" for name, path in plugin.datasets.items()]),
        ("tokenizers", [f"{name} ({path})" for name, path in plugin.tokenizers.items()]),
        ("transforms", [f"{name} ({path})" for name, path in plugin.transforms.items()]),
        ("recipes", [_relative(path) for path in plugin.recipes()]),
        ("benchmarks", list(plugin.benchmarks)),
    ]
    for title, items in sections:
        lines.append(f"  {title}: {'none' if not items else ''}".rstrip())
        lines.extend(f"    - {item}" for item in items)
    return "\n".join(lines)


def describe_all() -> str:
    """The text ``foundations info`` prints."""
    plugins = domains()
    if not plugins:
        return "No domains installed (entry-point group 'foundations.domains')."
    return "\n\n".join(describe_domain(plugin) for plugin in plugins.values())


def main(args: list[str]) -> int:
    if args and args[0] in ("-h", "--help"):
        print(
            "usage: foundations info\n\nList installed domains with their datasets, "
            "tokenizers, transforms, recipes and benchmarks."
        )
        return 0
    print(describe_all())
    return 0
