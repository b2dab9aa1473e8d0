"""Random-window sampling from a scene GeoTIFF: ours against torchgeo, same file, one run.

Both read 64x64 windows of a 12-band synthetic Sentinel-2 scene with rasterio and batch them
(32 per batch, no workers, so the comparison is the sampling and reading path itself):

- ours: ``SceneWindowDataModule`` (lazy per-worker handles, seeded window ids, nodata masks);
- torchgeo: ``RasterDataset`` + ``RandomGeoSampler`` + ``stack_samples``.

    python benchmarks/rs_scene_sampling.py [--size 4096] [--windows 2048]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DataLoader
from torchgeo.datasets import RasterDataset, stack_samples
from torchgeo.samplers import RandomGeoSampler

from domains.remote_sensing.datamodules import SceneWindowDataModule
from domains.remote_sensing.synthetic import write_scene


class SyntheticScene(RasterDataset):
    """torchgeo's view of the generated scene file."""

    filename_glob = "scene.tif"
    is_image = True


def time_loader(loader: DataLoader, key: str) -> tuple[float, int]:
    start = time.perf_counter()
    windows = 0
    for batch in loader:
        value = batch[key]
        windows += (value["values"] if isinstance(value, dict) else value).shape[0]
    return time.perf_counter() - start, windows


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Run the comparison, print it as JSON and return it (``sys.argv[1:]`` when ``argv`` is
    ``None``)."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", type=int, default=4096, help="scene side in pixels")
    parser.add_argument("--windows", type=int, default=2048)
    parser.add_argument("--window", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=32)
    args = parser.parse_args(argv)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)

    with tempfile.TemporaryDirectory() as folder:
        scene, _ = write_scene(Path(folder) / "scene.tif", size=args.size, seed=0)
        ours = SceneWindowDataModule(
            scenes=[str(scene)],
            sensor="sentinel2_l2a",
            window_size=args.window,
            windows_per_epoch=args.windows,
            batch_size=args.batch_size,
            min_valid_fraction=0.0,
        )
        ours.setup("fit")
        dataset = SyntheticScene(paths=folder)
        sampler = RandomGeoSampler(dataset, size=args.window, length=args.windows)
        theirs = DataLoader(
            dataset, sampler=sampler, batch_size=args.batch_size, collate_fn=stack_samples
        )
        for _ in range(2):  # warm the page cache and both code paths, then measure
            ours_s, ours_n = time_loader(ours.train_dataloader(), "image")
            theirs_s, theirs_n = time_loader(theirs, "image")
    result = {
        "scene_px": args.size,
        "window_px": args.window,
        "ours_windows_per_s": round(ours_n / ours_s, 1),
        "torchgeo_windows_per_s": round(theirs_n / theirs_s, 1),
        "speedup": round((ours_n / ours_s) / (theirs_n / theirs_s), 2),
    }
    torch.set_num_threads(threads)
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
