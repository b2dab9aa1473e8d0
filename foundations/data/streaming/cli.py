"""``foundations data``: write a datamodule's samples into LitData shards for streaming

    foundations data shard --data recipes/medical/mae_phantoms.yaml --output /data/shards/ct \\
        --split train val test [--chunk-bytes 64MB] [--num-workers 8] \\
        [--data.init_args.root /data/ct]

``--data`` takes a recipe (its ``data:`` section is used), a datamodule config YAML
(``class_path``/``init_args``) or a datamodule class path
(``domains.medical.datamodules.VolumeFolderDataModule``); further ``--data.init_args.*``
options set or override its arguments.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import lightning as L
import yaml
from jsonargparse import ArgumentParser

from foundations.cli.errors import summarise_parser_error
from foundations.data.streaming.manifest import MANIFEST_NAME
from foundations.data.streaming.writer import DEFAULT_CHUNK_BYTES, write_shards

CLASS_PATH = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)+")


def data_section(config: str | Path) -> dict[str, Any]:
    """The datamodule config of a recipe (its ``data:``), of a datamodule config file, or of a
    bare class path (``package.module.DataModule``).

    Raises:
        FileNotFoundError: When the file is missing.
        ValueError: When it holds neither a ``data:`` section nor a ``class_path``.
    """
    path = Path(config)
    if not path.is_file():
        if CLASS_PATH.fullmatch(str(config)) and path.suffix not in (".yaml", ".yml", ".json"):
            return {"class_path": str(config)}
        raise FileNotFoundError(f"data config not found: {path}")
    content = yaml.safe_load(path.read_text()) or {}
    section = content.get("data", content) if isinstance(content, dict) else None
    if not isinstance(section, dict) or "class_path" not in section:
        raise ValueError(f"{path} has no data: section with a class_path (nor a class_path)")
    return section


def datamodule_from_config(
    config: str | Path, overrides: Sequence[str] = ()
) -> tuple[L.LightningDataModule, dict[str, Any]]:
    """Instantiate the datamodule of a recipe or datamodule config, as ``foundations fit`` would.

    Args:
        config: A recipe YAML or a ``class_path``/``init_args`` YAML.
        overrides: Extra options, e.g. ``["--data.init_args.root", "/data/ct"]``.

    Returns:
        The datamodule and its resolved ``{"class_path", "init_args"}``.

    Raises:
        FileNotFoundError: When the file is missing.
        ValueError: On a config or override that does not parse.
    """
    parser = ArgumentParser(exit_on_error=False)
    parser.add_subclass_arguments(L.LightningDataModule, "data", required=True)
    section = data_section(config)
    try:
        parsed = parser.parse_args(["--data", json.dumps(section), *overrides])
    except Exception as error:  # jsonargparse's ArgumentError, with the full reason
        raise ValueError(f"{config}: {summarise_parser_error(str(error))}") from error
    resolved = parser.dump(parsed, format="json")
    return parser.instantiate_classes(parsed).data, json.loads(resolved)["data"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="foundations data", description=__doc__.splitlines()[0])
    verbs = parser.add_subparsers(dest="verb", required=True)
    shard = verbs.add_parser(
        "shard",
        help="write one split of a datamodule into LitData shards",
        epilog="Unknown --data.* options override the config, e.g. --data.init_args.root DIR.",
    )
    shard.add_argument(
        "--data", required=True, help="recipe, datamodule config YAML or datamodule class path"
    )
    shard.add_argument("--output", required=True, help="root folder of the shard set")
    shard.add_argument("--split", nargs="+", default=["train"], choices=["train", "val", "test"])
    shard.add_argument("--chunk-bytes", default=DEFAULT_CHUNK_BYTES, help="shard size")
    shard.add_argument("--num-workers", type=int, default=0, help="reader processes")
    shard.add_argument("--seed", type=int, default=0, help="seed of the write order")
    order = shard.add_mutually_exclusive_group()
    order.add_argument("--shuffle", dest="shuffle", action="store_true", default=None)
    order.add_argument("--no-shuffle", dest="shuffle", action="store_false")
    shard.add_argument("--overwrite", action="store_true", help="replace an existing split")
    return parser


def main(args: list[str]) -> int:
    """Entry point of ``foundations data``; returns the exit status."""
    parser = _parser()
    options, extra = parser.parse_known_args(args)
    unknown = [arg for arg in extra if arg.startswith("--") and not arg.startswith("--data.")]
    if unknown:
        parser.error(f"unrecognised arguments: {' '.join(unknown)}")
    try:
        datamodule, resolved = datamodule_from_config(options.data, extra)
        for split in options.split:
            folder = write_shards(
                datamodule,
                options.output,
                split=split,
                chunk_bytes=options.chunk_bytes,
                num_workers=options.num_workers,
                shuffle=options.shuffle,
                seed=options.seed,
                source={**resolved, "config": str(options.data)},
                overwrite=options.overwrite,
            )
            manifest = json.loads((folder / MANIFEST_NAME).read_text())
            print(f"wrote {manifest['count']} {split} samples to {folder}")
    except (FileNotFoundError, FileExistsError, ValueError) as error:
        print(f"foundations data: error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
