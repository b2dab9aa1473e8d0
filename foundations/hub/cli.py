"""``foundations hub``: push, pull, list, show and verify encoders on a checkpoint hub."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict

from foundations.hub.card import to_json
from foundations.hub.catalog import list_models, show, verify
from foundations.hub.convert import convert_pickle
from foundations.hub.errors import HubError
from foundations.hub.fetch import pull
from foundations.hub.publish import push

HUB_HELP = "folder, http(s):// URL or hf://owner/repo (default: $FOUNDATIONS_HUB)"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="foundations hub",
        description="Publish, find, verify and load encoders (format: docs/hub.md).",
    )
    verbs = parser.add_subparsers(dest="verb", required=True)
    p = verbs.add_parser("push", help="publish a checkpoint's encoder as NAME@VERSION")
    p.add_argument("run_or_ckpt", help="a .ckpt from `foundations fit`, or its run folder")
    p.add_argument("--name", required=True)
    p.add_argument("--version", default=None, help="default: next integer")
    p.add_argument("--to", dest="hub", default=None, help=HUB_HELP)
    p.add_argument("--results", action="append", default=[], help="results.json (repeatable)")
    p.add_argument("--licence", "--license", dest="licence", default="unspecified")
    p.add_argument("--description", default="")
    p.add_argument("--normalisation", default=None, help="JSON object replacing the recorded one")
    for verb, text in (
        ("pull", "download and verify into the cache"),
        ("show", "print a model's card"),
        ("verify", "re-hash a model's files in the hub and the cache"),
    ):
        p = verbs.add_parser(verb, help=text)
        p.add_argument("ref", metavar="NAME[@VERSION]")
        p.add_argument("--hub", default=None, help=HUB_HELP)
        if verb != "show":
            p.add_argument("--cache", default=None, help="default: $FOUNDATIONS_CACHE")
        else:
            p.add_argument("--json", action="store_true", help="print card.json")
    p = verbs.add_parser("list", help="models and versions in a hub")
    p.add_argument("--hub", default=None, help=HUB_HELP)
    p.add_argument("--json", action="store_true")
    p = verbs.add_parser("convert-pickle", help="convert a local pickle you trust to safetensors")
    p.add_argument("source")
    p.add_argument("--output", default=None)
    p.add_argument("--key", default=None, help="dotted path of the state dict in the file")
    p.add_argument("--prefix", default="", help="keep keys with this prefix, removing it")
    p.add_argument("--trust-code", action="store_true", help="allow full unpickling (runs code)")
    return parser


def _run(args: argparse.Namespace) -> int:
    if args.verb == "push":
        normalisation = json.loads(args.normalisation) if args.normalisation else None
        card = push(
            args.run_or_ckpt,
            args.name,
            args.hub,
            args.version,
            results=args.results,
            licence=args.licence,
            description=args.description,
            normalisation=normalisation,
        )
        print(f"pushed {card.name}@{card.version} ({card.files['model.safetensors']['sha256']})")
    elif args.verb == "pull":
        pulled = pull(args.ref, args.hub, args.cache)
        note = " (hub unreachable: cached copy)" if pulled.offline else ""
        print(f"{pulled.ref} verified in {pulled.folder}{note}")
    elif args.verb == "list":
        rows = list_models(args.hub)
        if args.json:
            print(json.dumps(rows, indent=2))
        for row in [] if args.json else rows:
            mark = "*" if row["latest"] else " "
            print(
                f"{row['name']}@{row['version']}{mark}  dim={row.get('embedding_dim')}  "
                f"modality={row.get('modality')}  licence={row.get('licence')}  "
                f"{row.get('created')}"
            )
    elif args.verb == "show":
        card = show(args.ref, args.hub)
        if args.json:
            print(json.dumps(to_json(asdict(card)), indent=2, sort_keys=True))
        else:
            print(f"{card.name}@{card.version}: {card.description or '(no description)'}")
            for field in ("embedding_dim", "licence", "modality", "normalisation", "parent"):
                print(f"  {field}: {json.dumps(getattr(card, field), sort_keys=True)}")
            print(f"  evaluation: {', '.join(card.evaluation) or 'none'}")
            for name, entry in card.files.items():
                print(f"  file {name}: sha256 {entry['sha256']}")
    elif args.verb == "verify":
        report = verify(args.ref, args.hub, args.cache)
        for name, sha in report["files"].items():
            print(f"ok  {name}  {sha}")
        print(f"{report['ref']}: all files match their card")
    else:
        output = convert_pickle(args.source, args.output, args.key, args.prefix, args.trust_code)
        print(f"wrote {output}")
    return 0


def main(args: list[str]) -> int:
    """Run ``foundations hub VERB ...``; errors are one line on stderr and exit status 1."""
    parsed = _parser().parse_args(args)
    try:
        return _run(parsed)
    except (HubError, ValueError, OSError) as error:
        print(f"foundations hub {parsed.verb}: error: {error}", file=sys.stderr)
        return 1
