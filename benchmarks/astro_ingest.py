"""Reading and tokenising all of ASAS: vectorised CSR pipeline vs pandas groupby + loop.

Ours: ``read_photometry_table`` (one ``read_csv`` with explicit dtypes, one factorisation) then
``tokenise_table`` (whole-array cleaning, segment medians, one gather). Baseline: plain
``pd.read_csv``, ``groupby("object_id")`` and, per object, the same cleaning, robust
normalisation and crop/pad with numpy (the per-object functions of ``preprocess``). Both give
the same arrays; the script checks that and prints a markdown table.

    .venv/bin/python benchmarks/astro_ingest.py [--length 256] [--path .../photometry.csv.gz]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from domains.astronomy.io import read_photometry_table
from domains.astronomy.preprocess import (
    clean_light_curve,
    crop_or_pad,
    robust_normalise,
    tokenise_table,
)

DEFAULT_PATH = (
    Path(__file__).resolve().parents[2] / "shared" / "data" / "asas" / "photometry.csv.gz"
)


def ours(path: Path, length: int) -> dict[str, np.ndarray]:
    table = read_photometry_table(path, time_col="hjd", value_col="mag", error_col="mag_err")
    return tokenise_table(table, length)


def baseline(path: Path, length: int) -> dict[str, np.ndarray]:
    frame = pd.read_csv(path)
    out: dict[str, list[np.ndarray]] = {k: [] for k in ("time", "value", "error", "mask")}
    for _, group in frame.groupby("object_id", sort=False):
        curve = clean_light_curve(
            group["hjd"].to_numpy(), group["mag"].to_numpy(), group["mag_err"].to_numpy()
        )
        value, error, _, _ = robust_normalise(curve["value"], curve["error"])
        t0 = curve["time"][0] if curve["time"].size else 0.0
        fixed = crop_or_pad({"time": curve["time"] - t0, "value": value, "error": error}, length)
        for key in out:
            out[key].append(fixed[key])
    return {k: np.stack(v).astype(np.float32 if k != "mask" else bool) for k, v in out.items()}


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Run both pipelines, check they agree, print a markdown table and return the timings
    (``sys.argv[1:]`` when ``argv`` is ``None``)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--path", type=Path, default=DEFAULT_PATH)
    parser.add_argument("--length", type=int, default=256)
    args = parser.parse_args(argv)

    start = time.perf_counter()
    fast = ours(args.path, args.length)
    t_ours = time.perf_counter() - start
    start = time.perf_counter()
    slow = baseline(args.path, args.length)
    t_base = time.perf_counter() - start

    assert np.array_equal(fast["mask"], slow["mask"])
    diff = max(float(np.max(np.abs(fast[k] - slow[k]))) for k in ("time", "value", "error"))
    print(f"{fast['mask'].shape[0]} objects, length {args.length}, max abs diff {diff:.2e}\n")
    print("| pipeline | seconds |")
    print("|---|---:|")
    print(f"| pandas read_csv + groupby loop | {t_base:.2f} |")
    print(f"| read_photometry_table + tokenise_table | {t_ours:.2f} |")
    print(f"| speed-up | {t_base / t_ours:.1f}x |")
    return {
        "objects": int(fast["mask"].shape[0]),
        "ours_s": t_ours,
        "pandas_s": t_base,
        "speedup": t_base / t_ours,
        "max_abs_diff": diff,
    }


if __name__ == "__main__":
    main()
