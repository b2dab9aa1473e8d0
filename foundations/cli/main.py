"""The ``foundations`` command: a thin dispatcher over public Python functions.

Lightning verbs (``fit``, ``validate``, ``test``, ``predict``) go to :class:`FoundationsCLI`.
Other verbs come from the ``foundations.commands`` entry-point group (``eval``, ``hub``,
``data`` and ``demo`` live in packages that import the core, never the other way round) plus the
built-in ``info``.
"""

from __future__ import annotations

import sys
from importlib.metadata import EntryPoint, entry_points

from foundations import __version__
from foundations.cli import info
from foundations.cli.lightning_cli import LIGHTNING_VERBS, run_lightning

COMMAND_GROUP = "foundations.commands"

_DESCRIPTIONS = {
    "fit": "train a model from a YAML recipe (-c RECIPE.yaml)",
    "validate": "run the validation loop of a recipe",
    "test": "run the test loop of a recipe",
    "predict": "write predictions (embeddings) of a recipe",
    "info": "list installed domains, datasets, tokenizers, recipes and benchmarks",
}


def plugin_commands() -> dict[str, EntryPoint]:
    """Verbs registered through the ``foundations.commands`` entry-point group.

    Each entry point names a function ``main(args: list[str]) -> int``; it is imported only
    when its verb runs, so ``foundations --help`` stays fast.
    """
    return {entry.name: entry for entry in entry_points(group=COMMAND_GROUP)}


def _summary(entry: EntryPoint) -> str:
    """First line of the docstring of the module that defines a plugin command."""
    try:
        module = sys.modules[entry.load().__module__]
    except Exception as error:  # a broken plugin must not break --help
        return f"(failed to load: {error})"
    doc = (module.__doc__ or "").strip().splitlines()
    return doc[0].split(": ", 1)[-1] if doc else ""


def usage(commands: dict[str, EntryPoint]) -> str:
    lines = [
        f"foundations {__version__}: self-supervised foundation models for science",
        "",
        "usage: foundations <command> [options]",
        "",
        "commands:",
    ]
    descriptions = dict(_DESCRIPTIONS)
    for name, entry in sorted(commands.items()):
        descriptions[name] = _summary(entry)
    for name, text in descriptions.items():
        lines.append(f"  {name:<10} {text}".rstrip())
    lines += ["", "Run `foundations <command> --help` for a command's options."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``foundations`` console script."""
    args = list(sys.argv[1:] if argv is None else argv)
    commands = plugin_commands()
    if not args or args[0] in ("-h", "--help"):
        print(usage(commands))
        return 0
    if args[0] == "--version":
        print(__version__)
        return 0
    verb, rest = args[0], args[1:]
    if verb in LIGHTNING_VERBS:
        # From the console script, LightningCLI reads sys.argv itself (it warns when given both).
        run_lightning(None if argv is None else [verb, *rest])
        return 0
    if verb == "info":
        return info.main(rest)
    if verb in commands:
        return int(commands[verb].load()(rest) or 0)
    known = ", ".join([*LIGHTNING_VERBS, "info", *sorted(commands)])
    print(f"foundations: unknown command {verb!r}; choose from: {known}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
