"""Dataset-size scaling of sharded streaming: time per sample and peak memory, 10k vs 100k.

For each size N, one subprocess writes N small remote-sensing-like samples (13x8x8 float16
patch, 13 float32 wavelengths, int64 label; ~1.8 kB each) with ``write_shards`` into LitData
shards, and a fresh subprocess streams one shuffled training epoch of them through
``StreamingDataModule`` (batch 256, shuffle buffer 1024, no workers). Time per sample and the
streaming process's peak RSS should not grow with N; the last row gives the ratios.

    python benchmarks/streaming_scaling.py [--sizes 10000 100000] [--root /tmp]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

WAVELENGTHS = [0.443, 0.49, 0.56, 0.665, 0.705, 0.74, 0.783, 0.842, 0.865, 0.945, 1.375, 1.61, 2.19]


def _peak_rss_mib() -> float:
    """Peak resident memory of this process and its finished children, in MiB (Linux: kB)."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(own, children) / 1024


def write(size: int, folder: str, chunk_bytes: str) -> dict[str, Any]:
    """Write ``size`` generated samples to ``folder/train``; returns the timing."""
    import lightning as L
    import numpy as np
    import torch
    from torch.utils.data import Dataset

    from foundations.data import write_shards

    class Patches(Dataset[dict[str, Any]]):
        """Sample ``i`` is drawn from seed ``i``: nothing held in memory."""

        def __init__(self, size: int) -> None:
            self.size = size
            self.wavelengths = torch.tensor(WAVELENGTHS, dtype=torch.float32)

        def __len__(self) -> int:
            return self.size

        def __getitem__(self, index: int) -> dict[str, Any]:
            rng = np.random.default_rng(index)
            values = rng.standard_normal((13, 8, 8), dtype=np.float32).astype(np.float16)
            image = {"values": torch.from_numpy(values), "wavelengths": self.wavelengths}
            return {"image": image, "label": torch.tensor(index % 10)}

    class Source(L.LightningDataModule):
        def __init__(self) -> None:
            super().__init__()
            self.splits = {"train": Patches(size)}

    start = time.perf_counter()
    out = write_shards(Source(), folder, chunk_bytes=chunk_bytes)
    seconds = time.perf_counter() - start
    disk = sum(path.stat().st_size for path in out.iterdir())
    return {"write_s": seconds, "disk_mib": disk / 2**20}


def stream(folder: str, batch_size: int, num_workers: int, shuffle_buffer: int) -> dict[str, Any]:
    """Stream one shuffled epoch of ``folder``; returns time per sample and peak RSS."""
    import torch

    from foundations.data import StreamingDataModule

    torch.set_num_threads(1)
    before = _peak_rss_mib()
    data = StreamingDataModule(
        folder,
        batch_size=batch_size,
        num_workers=num_workers,
        seed=0,
        shuffle_buffer=shuffle_buffer,
    )
    data.setup("fit")
    loader = data.train_dataloader()
    samples = 0
    start = time.perf_counter()
    for batch in loader:
        samples += batch["label"].shape[0]
    seconds = time.perf_counter() - start
    return {
        "samples": samples,
        "stream_s": seconds,
        "us_per_sample": 1e6 * seconds / samples,
        "rss_before_mib": before,
        "peak_rss_mib": _peak_rss_mib(),
    }


def _child(args: list[str]) -> dict[str, Any]:
    """Run this script's ``--child`` mode in a fresh interpreter (clean peak RSS)."""
    done = subprocess.run(
        [sys.executable, __file__, "--child", *args], check=True, capture_output=True, text=True
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def _above(row: dict[str, Any]) -> float:
    return max(row["peak_rss_mib"] - row["rss_before_mib"], 1e-9)


def table(rows: list[dict[str, Any]]) -> str:
    """The markdown table of the results, with the largest/smallest ratio row."""
    lines = [
        "| samples | write | on disk | stream epoch | time per sample | peak RSS "
        "| RSS above imports |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        lines.append(
            f"| {row['size']:,} | {row['write_s']:.1f} s | {row['disk_mib']:.0f} MiB | "
            f"{row['stream_s']:.2f} s | {row['us_per_sample']:.1f} µs | "
            f"{row['peak_rss_mib']:.0f} MiB | {_above(row):.0f} MiB |"
        )
    if len(rows) > 1:
        small, large = rows[0], rows[-1]
        lines.append(
            f"| ratio {large['size'] // small['size']}x | "
            f"{large['write_s'] / small['write_s']:.2f} | "
            f"{large['disk_mib'] / small['disk_mib']:.2f} | "
            f"{large['stream_s'] / small['stream_s']:.2f} | "
            f"**{large['us_per_sample'] / small['us_per_sample']:.2f}** | "
            f"**{large['peak_rss_mib'] / small['peak_rss_mib']:.2f}** | "
            f"{_above(large) / _above(small):.2f} |"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Run the benchmark, print the table and JSON, and return the results."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--root", default=None, help="scratch folder (default: a temp dir)")
    parser.add_argument("--chunk-bytes", default="8MB")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--num-workers", type=int, default=0)
    parser.add_argument("--shuffle-buffer", type=int, default=1024)
    args = parser.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory(dir=args.root) as scratch:
        for size in args.sizes:
            folder = str(Path(scratch) / f"n{size}")
            row: dict[str, Any] = {"size": size}
            row |= _child(["write", str(size), folder, args.chunk_bytes])
            settings = [args.batch_size, args.num_workers, args.shuffle_buffer]
            row |= _child(["stream", folder, *map(str, settings)])
            rows.append(row)
            print(json.dumps(row), flush=True)
    print(table(rows))
    return {"rows": rows, "table": table(rows)}


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        mode, rest = sys.argv[2], sys.argv[3:]
        if mode == "write":
            result = write(int(rest[0]), rest[1], rest[2])
        else:
            result = stream(rest[0], int(rest[1]), int(rest[2]), int(rest[3]))
        print(json.dumps(result))
    else:
        main()
