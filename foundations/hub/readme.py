"""Render the human-readable ``README.md`` model card from ``card.json``."""

from __future__ import annotations

import json
from typing import Any

from foundations.hub.card import README_FILE, Card


def _value(value: Any) -> str:
    if isinstance(value, dict | list):
        return f"`{json.dumps(value, sort_keys=True)}`"
    return f"`{value}`"


def _table(rows: dict[str, Any]) -> list[str]:
    lines = ["| field | value |", "|---|---|"]
    lines += [f"| {key} | {_value(value)} |" for key, value in rows.items() if value is not None]
    return lines


def _evaluation(evaluation: dict[str, Any]) -> list[str]:
    lines: list[str] = []
    for benchmark, summary in evaluation.items():
        lines += [f"### {benchmark}", ""]
        primary = summary.get("primary_metric") if isinstance(summary, dict) else None
        if primary:
            lines += [f"Primary metric: `{primary}`.", ""]
        rows = summary.get("candidates", {}) if isinstance(summary, dict) else {}
        if not rows:
            lines += [f"```json\n{json.dumps(summary, indent=2, sort_keys=True)}\n```", ""]
            continue
        lines += ["| candidate | protocol | metric | value |", "|---|---|---|---|"]
        for candidate, protocols in rows.items():
            for protocol, metrics in protocols.items():
                for metric, value in metrics.items():
                    shown = f"{value:.3f}" if isinstance(value, float) else str(value)
                    lines.append(f"| {candidate} | {protocol} | {metric} | {shown} |")
        lines.append("")
    return lines


def render_readme(card: Card) -> str:
    """A Markdown model card: summary, usage, modality, normalisation, training, results.

    The README is for people; tools read ``card.json``, which is the source of truth.
    """
    ref = f"{card.name}@{card.version}"
    lines = [
        f"# {ref}",
        "",
        card.description or "An encoder published with `foundations hub push`.",
        "",
        f"- embedding dimension: {card.embedding_dim}",
        f"- licence: {card.licence}",
        f"- created: {card.created}",
        f"- format version: {card.format_version}",
        "",
        "## Use",
        "",
        "```python",
        "import foundations.hub",
        "",
        f'encoder = foundations.hub.load("{ref}", hub="HUB")  # eval mode, [B, ...] -> [B, D]',
        "print(encoder.hub_card.normalisation)  # apply before calling the encoder",
        "```",
        "",
        f"`foundations hub pull {ref} --hub HUB` downloads and verifies it; "
        f"`foundations eval BENCHMARK --model hub:{ref}` evaluates it.",
        "",
        "## Modality",
        "",
        *_table(card.modality),
        "",
        "## Normalisation",
        "",
        *(
            _table(card.normalisation)
            if card.normalisation
            else ["As produced by the data module."]
        ),
        "",
        "## Architecture",
        "",
        f"```json\n{json.dumps(card.architecture, indent=2, sort_keys=True)}\n```",
        "",
        "## Training",
        "",
        *_table(card.training),
        "",
        "## Evaluation",
        "",
        *(_evaluation(card.evaluation) if card.evaluation else ["No results attached.", ""]),
        "## Provenance",
        "",
        *(_table(card.parent) if card.parent else ["Unknown."]),
        "",
        "## Files",
        "",
        "| file | sha256 | bytes |",
        "|---|---|---|",
        *[
            f"| {name} | `{entry['sha256']}` | {entry.get('size', '')} |"
            for name, entry in card.files.items()
            if name != README_FILE  # the README cannot hold its own hash
        ],
        "",
    ]
    return "\n".join(lines)
