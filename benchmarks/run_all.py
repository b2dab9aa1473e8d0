"""Every peer benchmark in one go (``make bench``): a markdown table of ours / peer ratios.

Each benchmark script runs in this process through its ``main(argv)``, which returns a summary;
every ratio in the table was measured within one run of its script (both sides on the same
machine, interleaved where the script does so), and above 1 ours is faster. The table, with the
date, the machine and the exact command of each row, goes to ``<output>/bench.md`` and stdout;
each script's own output goes to ``<output>/<name>.txt``.

    python benchmarks/run_all.py [--output runs/bench] [--only lightly_mae,rs_ssl] [--quick]

``--quick`` uses tiny sizes (a smoke test of the plumbing, not a measurement). Benchmarks whose
data or script is missing (the ASAS table, ``streaming_scaling.py``) are listed as skipped.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import importlib.util
import io
import os
import platform
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import torch

HERE = Path(__file__).resolve().parent
ASAS = HERE.parents[1] / "shared" / "data" / "asas" / "photometry.csv.gz"

Row = tuple[str, str, str, float | None]  # benchmark, ours, peer, ratio (ours / peer)


@dataclass(frozen=True)
class Bench:
    """One script, the arguments ``make bench`` gives it, and how its summary becomes rows.

    Attributes:
        name: Short name (``--only``, the output file).
        script: File name in ``benchmarks/``.
        argv: Default arguments: small but meaningful sizes.
        quick: Tiny arguments for ``--quick``.
        rows: Maps the script's returned summary to table rows.
        requires: A file that must exist (data); the benchmark is skipped otherwise.
    """

    name: str
    script: str
    argv: tuple[str, ...]
    quick: tuple[str, ...]
    rows: Callable[[dict[str, Any]], list[Row]]
    requires: Path | None = None


def _lightly_rows(summary: dict[str, Any]) -> list[Row]:
    ours, lightly = summary["rows"]
    return [
        (
            "MAE training step vs lightly MAE",
            f"{ours['images_per_s']:.1f} img/s",
            f"{lightly['images_per_s']:.1f} img/s",
            summary["ratio"],
        )
    ]


def _ssl_rows(summary: dict[str, Any]) -> list[Row]:
    names = {"simclr": "SimCLR", "moco": "MoCo v3"}
    rows: list[Row] = []
    for key, ratio in summary["ratios"].items():
        method, views = key.split("/")
        augmented = views == "augmented"
        side = "ours-fixed" if views.endswith("fixed bands") else "ours"

        def rate(side: str, method: str = method, augmented: bool = augmented) -> float:
            return next(
                float(r["samples_per_s"])
                for r in summary["rows"]
                if r["method"] == method and r["side"] == side and r["augmented"] == augmented
            )

        label = f"{names[method]} training step vs torchgeo task ({views})"
        rows.append((label, f"{rate(side):.1f} samples/s", f"{rate('torchgeo'):.1f}", ratio))
    return rows


def _med_rows(summary: dict[str, Any]) -> list[Row]:
    labels = {"dataset": "Dataset", "cache": "CacheDataset", "persistent": "PersistentDataset"}
    by_name = {row["candidate"]: row for row in summary["rows"]}
    ours = by_name["ours"]["steady_volumes_per_s"]
    return [
        (
            f"3D pipeline vs MONAI {labels.get(name, name)} (steady epoch)",
            f"{ours:.0f} vol/s",
            f"{by_name[name]['steady_volumes_per_s']:.0f} vol/s",
            ratio,
        )
        for name, ratio in summary["ratios"]["steady"].items()
    ]


def _scene_rows(summary: dict[str, Any]) -> list[Row]:
    return [
        (
            "scene window sampling vs torchgeo RandomGeoSampler",
            f"{summary['ours_windows_per_s']:.0f} windows/s",
            f"{summary['torchgeo_windows_per_s']:.0f} windows/s",
            float(summary["speedup"]),
        )
    ]


def _ingest_rows(summary: dict[str, Any]) -> list[Row]:
    return [
        (
            f"ASAS ingest + tokenise vs pandas groupby ({summary['objects']} objects)",
            f"{summary['ours_s']:.2f} s",
            f"{summary['pandas_s']:.2f} s",
            float(summary["speedup"]),
        )
    ]


def _streaming_rows(summary: dict[str, Any]) -> list[Row]:
    """Dataset-size scaling: time per sample at the largest size against the smallest (not a
    peer ratio: 1.00 means flat, below 1 the cost per sample grows with the dataset)."""
    try:
        small, large = summary["rows"][0], summary["rows"][-1]
        return [
            (
                f"streaming: time per sample, {large['size']:,} vs {small['size']:,} samples",
                f"{large['us_per_sample']:.0f} us",
                f"{small['us_per_sample']:.0f} us",
                small["us_per_sample"] / large["us_per_sample"],
            )
        ]
    except (KeyError, IndexError, TypeError, ZeroDivisionError):
        return _generic_rows("streaming")(summary)


def _generic_rows(name: str) -> Callable[[dict[str, Any]], list[Row]]:
    """Rows of a script whose summary follows no fixed layout: ``ratio``/``ratios`` if any."""

    def rows(summary: dict[str, Any]) -> list[Row]:
        if isinstance(summary.get("ratios"), dict):
            return [
                (f"{name}: {key}", "-", "-", float(value))
                for key, value in summary["ratios"].items()
                if isinstance(value, int | float)
            ]
        ratio = summary.get("ratio")
        value = float(ratio) if isinstance(ratio, int | float) else None
        return [(name, "see output", "-", value)]

    return rows


BENCHMARKS = (
    Bench(
        "lightly_mae",
        "lightly_mae_step.py",
        ("--batch-size", "16", "--steps", "8", "--warmup", "2", "--threads", "1"),
        ("--batch-size", "2", "--image-size", "32", "--depth", "1", "--embed-dim", "32",
         "--heads", "2", "--decoder-dim", "16", "--decoder-depth", "1", "--decoder-heads", "2",
         "--steps", "1", "--warmup", "0", "--threads", "1"),
        _lightly_rows,
    ),
    Bench(
        "rs_ssl",
        "rs_ssl_step.py",
        ("--steps", "5", "--warmup", "1"),
        ("--batch-size", "4", "--image-size", "16", "--patch-size", "8", "--bands", "4",
         "--embed-dim", "32", "--depth", "1", "--heads", "2", "--simclr-dims", "32", "16",
         "--moco-dims", "32", "16", "--augment", "off", "--steps", "1", "--warmup", "0"),
        _ssl_rows,
    ),
    Bench(
        "med_pipeline",
        "med_pipeline.py",
        ("--volumes", "96", "--epochs", "3", "--warmup", "1"),
        ("--volumes", "6", "--size", "16", "--batch-size", "2", "--epochs", "1", "--warmup",
         "0", "--check", "1"),
        _med_rows,
    ),
    Bench(
        "rs_scene_sampling",
        "rs_scene_sampling.py",
        ("--size", "1024", "--windows", "1024"),
        ("--size", "256", "--windows", "64", "--window", "32", "--batch-size", "16"),
        _scene_rows,
    ),
    Bench("astro_ingest", "astro_ingest.py", (), (), _ingest_rows, requires=ASAS),
    Bench("streaming_scaling", "streaming_scaling.py", (),
          ("--sizes", "512", "1024", "--batch-size", "64"), _streaming_rows),
)  # fmt: skip


def load_script(script: str) -> ModuleType:
    """Import ``benchmarks/<script>`` under its own module name (registered in sys.modules,
    which scripts that register entry points need)."""
    name = f"bench_{Path(script).stem}"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, HERE / script)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def command(bench: Bench, argv: Sequence[str]) -> str:
    """The shell command that reproduces one benchmark's rows."""
    return " ".join(["python", f"benchmarks/{bench.script}", *argv])


def run_one(bench: Bench, argv: list[str], log: Path) -> tuple[list[Row], float]:
    """Run one script, tee its output to ``log``; returns its rows and the seconds it took."""
    buffer = io.StringIO()
    start = time.perf_counter()
    with contextlib.redirect_stdout(buffer):
        summary = load_script(bench.script).main(argv)
    seconds = time.perf_counter() - start
    log.write_text(buffer.getvalue())
    print(buffer.getvalue(), end="")
    if not isinstance(summary, dict):
        return [(bench.name, "see output", "-", None)], seconds
    return bench.rows(summary), seconds


def machine() -> str:
    """One line naming the machine: CPU, cores, torch, and the GPU if any."""
    cpu = platform.processor() or platform.machine()
    text = f"{platform.system()} {cpu}, {os.cpu_count()} cores, torch {torch.__version__}"
    if torch.cuda.is_available():
        text += f", {torch.cuda.get_device_name()}"
    return text


def table(results: list[tuple[Row, str]], skipped: list[str], header: str) -> str:
    """The markdown table of every row and its command, with skipped benchmarks below."""
    lines = [
        header,
        "",
        "| benchmark | ours | peer | ours / peer | command |",
        "|---|---:|---:|---:|---|",
    ]
    for (name, ours, peer, ratio), cmd in results:
        shown = "-" if ratio is None else f"**{ratio:.2f}x**"
        lines.append(f"| {name} | {ours} | {peer} | {shown} | `{cmd}` |")
    lines += [f"\nskipped: {reason}" for reason in skipped]
    return "\n".join(lines) + "\n"


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The command line (``sys.argv[1:]`` when ``argv`` is ``None``)."""
    parser = argparse.ArgumentParser(
        description=(__doc__ or "").split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--output", type=Path, default=Path("runs/bench"))
    parser.add_argument("--only", default="", help="comma-separated benchmark names")
    parser.add_argument("--quick", action="store_true", help="tiny sizes: a smoke test")
    args = parser.parse_args(argv)
    known = {bench.name for bench in BENCHMARKS}
    args.only = [name.strip() for name in args.only.split(",") if name.strip()]
    if unknown := sorted(set(args.only) - known):
        parser.error(f"--only: unknown {unknown}; choose from {sorted(known)}")
    return args


def main(argv: Sequence[str] | None = None) -> str:
    """Run the selected benchmarks; write and print ``bench.md``; return its text.

    Args:
        argv: Command-line arguments (``sys.argv[1:]`` when ``None``).
    """
    args = parse_args(argv)
    args.output.mkdir(parents=True, exist_ok=True)
    results: list[tuple[Row, str]] = []
    skipped: list[str] = []
    durations: list[str] = []
    for bench in BENCHMARKS:
        if args.only and bench.name not in args.only:
            continue
        if not (HERE / bench.script).is_file():
            skipped.append(f"{bench.name} (benchmarks/{bench.script} does not exist)")
            continue
        if bench.requires is not None and not bench.requires.is_file():
            skipped.append(f"{bench.name} ({bench.requires} is absent)")
            continue
        bench_argv = list(bench.quick if args.quick else bench.argv)
        print(f"== {bench.name}: {command(bench, bench_argv)}", flush=True)
        rows, seconds = run_one(bench, bench_argv, args.output / f"{bench.name}.txt")
        results += [(row, command(bench, bench_argv)) for row in rows]
        durations.append(f"{bench.name} {seconds:.0f} s")
    stamp = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    header = (
        f"# Peer ratios ({stamp}, {machine()}{', --quick' if args.quick else ''})\n\n"
        f"Above 1, ours is faster. Wall time: {', '.join(durations) or 'none'}."
    )
    text = table(results, skipped, header)
    (args.output / "bench.md").write_text(text)
    print(text, end="")
    return text


if __name__ == "__main__":
    main()
