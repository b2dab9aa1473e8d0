"""Render a benchmark's ``results.json`` as a Markdown report."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

METRICS = ("accuracy", "balanced_accuracy", "macro_f1", "auroc", "mAP", "micro_f1")


def _cell(value: Any) -> str:
    return "-" if value is None else f"{value:.3f}"


def render_report(results: Mapping[str, Any]) -> str:
    """Headline tables (linear, kNN, label efficiency), provenance and figures."""
    benchmark = results["benchmark"]
    lines = [
        f"# {benchmark['name']}",
        "",
        benchmark.get("description", ""),
        "",
        f"- split: {results['split']}",
        f"- dataset id: `{results['dataset_id'][:16]}`",
        f"- software: {', '.join(f'{k} {v}' for k, v in results['versions'].items())}",
        f"- created: {results['created']}",
        "",
    ]
    candidates = results["candidates"]
    for protocol, title in (
        ("linear", "Linear probe (rows named '+ gradient boosting': boosted trees instead)"),
        ("knn", "kNN (cosine, weighted)"),
    ):
        rows = {n: p[protocol] for n, p in candidates.items() if protocol in p}
        if not rows:
            continue
        present = [m for m in METRICS if any(r.get(m) is not None for r in rows.values())]
        lines += [
            f"## {title}",
            "",
            "| model | " + " | ".join(present) + " |",
            "|---" * (len(present) + 1) + "|",
        ]
        for name, row in rows.items():
            lines.append(f"| {name} | " + " | ".join(_cell(row.get(m)) for m in present) + " |")
        lines.append("")
    for protocol, title, key in (
        ("similarity", "Similarity search (test among train, same class)", "precision@10"),
        ("anomaly", f"Anomaly detection (classes {list(benchmark['anomaly_classes'])})", "auroc"),
    ):
        rows = {n: p[protocol][key] for n, p in candidates.items() if protocol in p}
        if rows:
            lines += [f"## {title}", "", f"| model | {key} |", "|---|---|"]
            lines += [f"| {name} | {_cell(value)} |" for name, value in rows.items()]
            lines.append("")
    retrieval = {n: p["retrieval"] for n, p in candidates.items() if "retrieval" in p}
    if retrieval:
        lines += [
            "## Cross-modal retrieval (test pairs present in both modalities)",
            "",
            "| model | pair | pairs | recall@1 (a→b) | recall@5 (a→b) | recall@1 (b→a) |"
            " median rank (a→b) |",
            "|---|---|---|---|---|---|---|",
        ]
        for name, pairs in retrieval.items():
            for pair, row in pairs.items():
                lines.append(
                    f"| {name} | {pair.replace('__', ' ↔ ')} | {int(row['num_pairs'])} | "
                    f"{_cell(row['q2g_recall@1'])} | {_cell(row['q2g_recall@5'])} | "
                    f"{_cell(row['g2q_recall@1'])} | {row['q2g_median_rank']:.0f} |"
                )
        lines.append("")
    lines += _zero_shot_section(results)
    metric = benchmark["primary_metric"]
    efficiency = {
        n: p["label_efficiency"]["summary"]
        for n, p in candidates.items()
        if "label_efficiency" in p
    }
    if efficiency:
        fractions = sorted({f for s in efficiency.values() for f in s}, key=float)
        lines += [
            f"## Label efficiency ({metric}, mean ± std over seeds {benchmark['seeds']})",
            "",
            "| model | " + " | ".join(f"{float(f):.0%}" for f in fractions) + " |",
            "|---" * (len(fractions) + 1) + "|",
        ]
        for name, summary in efficiency.items():
            cells = []
            for f in fractions:
                mean, std = summary[f][metric] if f in summary else (None, None)
                cells.append("-" if mean is None else f"{mean:.3f} ± {std:.3f}")
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
        lines.append("")
    tuned = {n: p["finetune"] for n, p in candidates.items() if "finetune" in p}
    if tuned:
        lines += [
            f"## Fine-tuning ({metric} on test; epoch chosen on val; seed 0)",
            "",
            "| model | labelled fraction | labels | " + metric + " |",
            "|---|---|---|---|",
        ]
        for name, rows in tuned.items():
            for row in rows:
                lines.append(
                    f"| {name} | {row['fraction']:.0%} | {row['num_labels']} | "
                    f"{_cell(row.get(metric))} |"
                )
        lines.append("")
    for name, file in results.get("figures", {}).items():
        lines += [f"![{name}]({file})", ""]
    return "\n".join(lines)


def _zero_shot_section(results: Mapping[str, Any]) -> list[str]:
    zeroshot = {n: p["zeroshot"] for n, p in results["candidates"].items() if "zeroshot" in p}
    skipped = results.get("zeroshot_skipped", {})
    if not zeroshot and not skipped:
        return []
    lines = ["## Zero-shot (text prompts)", ""]
    if zeroshot:
        metrics = ("accuracy", "balanced_accuracy", "macro_f1", "auroc")
        lines += [
            "Test split classified by cosine similarity to each class's prompt embeddings (no "
            "labels used); chance balanced accuracy is 1 / classes.",
            "",
            "| model | encoders | samples | chance | " + " | ".join(metrics) + " |",
            "|---" * (len(metrics) + 4) + "|",
        ]
        for name, row in zeroshot.items():
            cells = " | ".join(_cell(row.get(m)) for m in metrics)
            lines.append(
                f"| {name} | {row['image_encoder']} ↔ {row['text_encoder']} | "
                f"{row['num_samples']} | {_cell(1 / row['num_classes'])} | {cells} |"
            )
        lines.append("")
    for name, reason in skipped.items():
        lines.append(f"- skipped {name}: {reason}")
    if skipped:
        lines.append("")
    return lines


def render_table(results: Mapping[str, Any]) -> str:
    """The short table printed to the terminal."""
    metric = results["benchmark"]["primary_metric"]
    zeroshot = any("zeroshot" in p for p in results["candidates"].values())
    header = f"{'model':<40} {'linear':>8} {'kNN':>8}" + (f" {'0-shot':>8}" if zeroshot else "")
    lines = [header, "-" * len(header)]
    for name, protocols in results["candidates"].items():
        if not {"linear", "knn", "zeroshot"} & set(protocols):
            continue
        linear = protocols.get("linear", {}).get(metric)
        knn = protocols.get("knn", {}).get(metric)
        line = f"{name[:40]:<40} {_cell(linear):>8} {_cell(knn):>8}"
        if zeroshot:
            line += f" {_cell(protocols.get('zeroshot', {}).get(metric)):>8}"
        lines.append(line)
    return "\n".join(lines)
