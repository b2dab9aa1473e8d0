"""The 3D data pipeline against the equivalent plain MONAI pipeline: same NIfTI files, one run.

Every candidate reads the same phantom CT volumes (``.nii.gz`` written by
:func:`domains.medical.phantoms.write_phantom_folder`, seven voxel orders, int16 / uint16 with
a rescale slope / float32), preprocesses them to RAS+, the soft-tissue window (level 40, width
400 HU -> ``[0, 1]``, clipped) and ``32^3`` voxels, and yields batches of two random SSL views
per volume, ``[B, 1, 32, 32, 32]`` each, through a DataLoader with the same batch size, workers,
shuffling and ``drop_last``:

- ours: :class:`~domains.medical.datamodules.VolumeFolderDataModule` (read and preprocess once
  into a memory-mapped float16 cache, then serve from it; all volumes in the training split)
  and :class:`~domains.medical.augment.VolumeViews` applied twice to each batch, as SimCLR does
  (the recipe's settings: crop extent 0.7..1 per axis, flips, rot90 in planes of equal spacing,
  intensity gain +-0.1 and shift +-0.05, noise 0.02): one ``grid_sample`` per view over the
  batch;
- MONAI ``Dataset`` / ``CacheDataset`` / ``PersistentDataset``: dictionary transforms
  ``LoadImaged(ensure_channel_first=True)``, ``Orientationd("RAS")``,
  ``ScaleIntensityRanged(-160, 240, 0, 1, clip=True)``, ``Resized(32^3, "trilinear")``, then
  for each of two copies of the image the same random policy per sample: ``RandScaleCropd``
  (0.7..1 of each axis) and ``Resized`` back to ``32^3``, ``RandFlipd`` on each axis,
  ``RandRotate90d`` in the axial plane (probability 3/4, one to three turns: what ours draws
  for the one plane whose voxels are square), ``RandScaleIntensityd``,
  ``RandShiftIntensityd`` and ``RandGaussianNoised`` (fixed std); batched by
  ``monai.data.DataLoader`` (a torch ``DataLoader`` with MONAI's collate). ``Dataset`` runs the
  whole chain every epoch; ``CacheDataset`` keeps the deterministic part in memory (built
  before the first epoch), ``PersistentDataset`` pickles it to disk during the first epoch.

Measured: the first epoch (file reading and preprocessing included: building our cache, whose
folder is deleted first, filling ``CacheDataset``'s memory or ``PersistentDataset``'s files)
and the steady state, the median of ``--epochs`` later epochs after ``--warmup`` discarded
ones; steady epochs are interleaved across candidates, in alternating order, so drifts of a
shared machine hit all of them alike. Throughput is volumes per second, two augmented views
per volume. ``torch.set_num_threads(--threads)`` is fixed, one thread by default. With no
workers, the CPU time of this process per volume is reported too (it moves less than wall time
on a machine other jobs share). Files are written to a temporary folder, read once to warm the
page cache, and ``FOUNDATIONS_CACHE`` points at a temporary folder for the run.

Before timing, the preprocessed (unaugmented) volume of a few files is compared between ours
(what the cache serves) and MONAI's deterministic chain: the difference is float16 storage in
our cache (~5e-4 on ``[0, 1]``); with MONAI's default ``Resized`` mode ("area") instead of
trilinear it is larger, and printed too.

    python benchmarks/med_pipeline.py [--volumes 200] [--batch-size 16] [--epochs 5]
        [--warmup 1] [--workers 0] [--threads 1] [--candidates ours,dataset,cache,persistent]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import monai
import torch
from monai.data import CacheDataset, DataLoader, Dataset, PersistentDataset
from monai.transforms import (
    Compose,
    CopyItemsd,
    DeleteItemsd,
    LoadImaged,
    Orientationd,
    RandFlipd,
    RandGaussianNoised,
    RandRotate90d,
    RandScaleCropd,
    RandScaleIntensityd,
    RandShiftIntensityd,
    Resized,
    ScaleIntensityRanged,
)
from torch import Tensor

from domains.medical.augment import VolumeViews
from domains.medical.datamodules import VolumeFolderDataModule, cache_folder, read_volume_index
from domains.medical.phantoms import write_phantom_folder
from domains.medical.transforms import window_range
from foundations.io import CACHE_ENV

CANDIDATES = ("ours", "dataset", "cache", "persistent")
LABELS = {
    "ours": "ours (VolumeFolderDataModule + VolumeViews)",
    "dataset": "MONAI Dataset",
    "cache": "MONAI CacheDataset",
    "persistent": "MONAI PersistentDataset",
}
WINDOW = "soft_tissue"
# The SimCLR recipe's view policy (recipes/medical/simclr_phantoms.yaml), used on both sides.
CROP_SCALE = (0.7, 1.0)
FLIP_PROB = 0.5
INTENSITY_SCALE = 0.1
INTENSITY_SHIFT = 0.05
NOISE_STD = 0.02
VIEW_KEYS = ("view1", "view2")


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The command line (``sys.argv[1:]`` when ``argv`` is ``None``)."""
    parser = argparse.ArgumentParser(
        description=(__doc__ or "").split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--volumes", type=int, default=200, help="phantom NIfTI files")
    parser.add_argument("--size", type=int, default=32, help="side of the preprocessed cube")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--workers", type=int, default=0, help="DataLoader workers")
    parser.add_argument("--epochs", type=int, default=5, help="steady-state epochs measured")
    parser.add_argument("--warmup", type=int, default=1, help="epochs discarded after the first")
    parser.add_argument("--threads", type=int, default=1, help="torch.set_num_threads")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--check", type=int, default=4, help="files compared before timing")
    parser.add_argument(
        "--candidates",
        default=",".join(CANDIDATES),
        help=f"comma-separated subset of {','.join(CANDIDATES)}",
    )
    args = parser.parse_args(argv)
    names = [name.strip() for name in args.candidates.split(",") if name.strip()]
    unknown = sorted(set(names) - set(CANDIDATES))
    if unknown or not names:
        parser.error(f"--candidates: unknown {unknown}; choose from {list(CANDIDATES)}")
    if min(args.volumes, args.size, args.batch_size, args.epochs, args.threads) < 1:
        parser.error("--volumes, --size, --batch-size, --epochs and --threads must be positive")
    if min(args.workers, args.warmup, args.check) < 0:
        parser.error("--workers, --warmup and --check must be >= 0")
    args.candidates = names
    return args


def monai_preprocess(size: int, mode: str = "trilinear") -> list[Any]:
    """MONAI's deterministic chain: load, RAS, soft-tissue window, resize to ``size^3``.

    Args:
        size: Side of the output cube.
        mode: ``Resized`` interpolation; trilinear matches ours (MONAI's default is "area").
    """
    low, high = window_range(WINDOW)
    return [
        LoadImaged(keys="image", ensure_channel_first=True),
        Orientationd(keys="image", axcodes="RAS"),
        ScaleIntensityRanged(keys="image", a_min=low, a_max=high, b_min=0.0, b_max=1.0, clip=True),
        Resized(keys="image", spatial_size=(size,) * 3, mode=mode),
    ]


def monai_view(key: str, size: int) -> list[Any]:
    """MONAI's per-sample random view of ``key``, the same policy as our ``VolumeViews``."""
    return [
        RandScaleCropd(
            keys=key, roi_scale=CROP_SCALE[0], max_roi_scale=CROP_SCALE[1], random_size=True
        ),
        Resized(keys=key, spatial_size=(size,) * 3, mode="trilinear"),
        *(RandFlipd(keys=key, prob=FLIP_PROB, spatial_axis=axis) for axis in range(3)),
        RandRotate90d(keys=key, prob=0.75, max_k=3, spatial_axes=(0, 1)),
        RandScaleIntensityd(keys=key, factors=INTENSITY_SCALE, prob=1.0),
        RandShiftIntensityd(keys=key, offsets=INTENSITY_SHIFT, prob=1.0),
        RandGaussianNoised(keys=key, prob=1.0, mean=0.0, std=NOISE_STD, sample_std=False),
    ]


def monai_transform(size: int, seed: int) -> Compose:
    """Preprocessing, two copies of the image, and an independent random view of each."""
    steps = [
        *monai_preprocess(size),
        CopyItemsd(keys="image", times=len(VIEW_KEYS), names=list(VIEW_KEYS)),
        DeleteItemsd(keys="image"),
    ]
    for key in VIEW_KEYS:
        steps += monai_view(key, size)
    transform = Compose(steps)
    transform.set_random_state(seed=seed)
    return transform


@dataclass
class Candidate:
    """One pipeline to time.

    Attributes:
        name: Key in :data:`CANDIDATES`.
        start: Builds the loader (cache building excluded: that happens in the first epoch).
        prepare: Work that belongs to the first epoch before iterating (cache building).
        views: Two views ``[B, 1, *S]`` of one batch.
        first_s: Wall time of the first epoch (``prepare`` included).
        first_volumes: Volumes in the first epoch.
        times: Wall time of each measured steady epoch.
        cpu_times: CPU time of this process in each measured steady epoch.
        volumes: Volumes per steady epoch.
        loader: The loader ``prepare`` returned.
    """

    name: str
    start: Callable[[], Any]
    prepare: Callable[[Any], Any]
    views: Callable[[Any], tuple[Tensor, Tensor]]
    first_s: float = 0.0
    first_volumes: int = 0
    times: list[float] = field(default_factory=list)
    cpu_times: list[float] = field(default_factory=list)
    volumes: int = 0
    loader: Any = None


def _epoch(candidate: Candidate, shape: tuple[int, ...]) -> int:
    """Iterate one epoch of ``candidate``'s loader with views; the number of volumes."""
    count = 0
    for batch in candidate.loader:
        first, second = candidate.views(batch)
        expected = (first.shape[0], *shape)
        if tuple(first.shape) != expected or tuple(second.shape) != expected:
            raise RuntimeError(
                f"{candidate.name}: views {tuple(first.shape)} and {tuple(second.shape)}, "
                f"expected {expected}"
            )
        count += first.shape[0]
    return count


def _ours(args: argparse.Namespace, root: Path) -> Candidate:
    module = VolumeFolderDataModule(
        root=str(root),
        size=args.size,
        batch_size=args.batch_size,
        num_workers=args.workers,
        val_fraction=0.0,
        test_fraction=0.0,
        seed=args.seed,
    )
    augment = VolumeViews(
        size=args.size,
        scale=CROP_SCALE,
        flip_prob=FLIP_PROB,
        intensity_scale=INTENSITY_SCALE,
        intensity_shift=INTENSITY_SHIFT,
        noise_std=NOISE_STD,
    )

    def prepare(_: Any) -> Any:
        index = read_volume_index(root / "labels.csv")
        shutil.rmtree(cache_folder(index.paths, module.preprocess), ignore_errors=True)
        module.setup("fit")  # builds the cache
        return module.train_dataloader()

    def views(batch: dict[str, Any]) -> tuple[Tensor, Tensor]:
        volume = batch["volume"]
        return augment(volume)["values"], augment(volume)["values"]

    return Candidate("ours", start=lambda: module, prepare=prepare, views=views)


def _monai(
    args: argparse.Namespace, name: str, files: list[dict[str, str]], work: Path
) -> Candidate:
    def build() -> Any:
        transform = monai_transform(args.size, args.seed)
        if name == "dataset":
            return Dataset(files, transform)
        if name == "persistent":
            folder = work / "persistent"
            shutil.rmtree(folder, ignore_errors=True)
            return PersistentDataset(files, transform, cache_dir=folder)
        return None  # CacheDataset fills its memory when built: part of the first epoch

    def prepare(dataset: Any) -> Any:
        if dataset is None:
            transform = monai_transform(args.size, args.seed)
            workers = max(1, args.workers)
            dataset = CacheDataset(files, transform, num_workers=workers, progress=False)
        return DataLoader(
            dataset,
            batch_size=args.batch_size,
            shuffle=True,
            drop_last=len(files) > args.batch_size,
            num_workers=args.workers,
            persistent_workers=args.workers > 0,
            generator=torch.Generator().manual_seed(args.seed),
        )

    def views(batch: dict[str, Any]) -> tuple[Tensor, Tensor]:
        return batch[VIEW_KEYS[0]], batch[VIEW_KEYS[1]]

    return Candidate(name, start=build, prepare=prepare, views=views)


def check_agreement(args: argparse.Namespace, root: Path, count: int) -> dict[str, float] | None:
    """Largest differences between our cached volume and MONAI's preprocessed one.

    Returns:
        ``{"values_trilinear", "values_area", "affine"}`` maximum absolute differences over
        the first ``count`` files, or ``None`` when ``count`` is 0. Builds (and keeps) our cache.
    """
    if count == 0:
        return None
    module = VolumeFolderDataModule(
        root=str(root), size=args.size, val_fraction=0.0, test_fraction=0.0, seed=args.seed
    )
    module.setup("fit")
    assert module.full is not None
    paths = module.volume_index.paths[:count]
    trilinear = Compose(monai_preprocess(args.size, "trilinear"))
    area = Compose(monai_preprocess(args.size, "area"))
    worst = {"values_trilinear": 0.0, "values_area": 0.0, "affine": 0.0}
    for row, path in enumerate(paths):
        ours = module.full[row]["volume"]
        theirs = trilinear({"image": str(path)})["image"]
        if tuple(theirs.shape) != tuple(ours["values"].shape):
            raise RuntimeError(f"{path}: ours {tuple(ours['values'].shape)}, MONAI {theirs.shape}")
        by_area = area({"image": str(path)})["image"]
        diffs = {
            "values_trilinear": (theirs.as_tensor() - ours["values"]).abs().max(),
            "values_area": (by_area.as_tensor() - ours["values"]).abs().max(),
            "affine": (theirs.affine.double() - ours["affine"]).abs().max(),
        }
        for key, value in diffs.items():
            worst[key] = max(worst[key], float(value))
    shutil.rmtree(module.cache_dir or "", ignore_errors=True)
    return worst


@contextmanager
def _cache_env(folder: Path) -> Iterator[None]:
    """Point ``FOUNDATIONS_CACHE`` at ``folder`` for the duration."""
    old = os.environ.get(CACHE_ENV)
    os.environ[CACHE_ENV] = str(folder)
    try:
        yield
    finally:
        if old is None:
            os.environ.pop(CACHE_ENV, None)
        else:
            os.environ[CACHE_ENV] = old


def run(args: argparse.Namespace, work: Path) -> tuple[list[Candidate], dict[str, float] | None]:
    """Write the files, check agreement, then time the first and steady epochs."""
    root = write_phantom_folder(work / "phantoms", args.volumes, args.seed)
    paths = read_volume_index(root / "labels.csv").paths
    for path in paths:  # warm the page cache alike for everyone
        path.read_bytes()
    files = [{"image": str(path)} for path in paths]
    agreement = check_agreement(args, root, min(args.check, len(paths)))

    candidates = []
    for name in args.candidates:
        candidates.append(_ours(args, root) if name == "ours" else _monai(args, name, files, work))
    shape = (1, args.size, args.size, args.size)
    for candidate in candidates:  # first epoch: reading and preprocessing included
        torch.manual_seed(args.seed)
        state = candidate.start()
        start = time.perf_counter()
        candidate.loader = candidate.prepare(state)
        candidate.first_volumes = _epoch(candidate, shape)
        candidate.first_s = time.perf_counter() - start
    for round_ in range(args.warmup + args.epochs):
        order = candidates if round_ % 2 == 0 else candidates[::-1]
        for candidate in order:
            cpu, start = time.process_time(), time.perf_counter()
            volumes = _epoch(candidate, shape)
            elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
            if round_ >= args.warmup:
                candidate.times.append(elapsed)
                candidate.cpu_times.append(cpu)
                candidate.volumes = volumes
    for candidate in candidates:
        candidate.loader = None  # ends persistent workers before the folder goes
    return candidates, agreement


def summarise(candidates: list[Candidate], workers: int) -> dict[str, Any]:
    """Rows (volumes/s, first and steady) and ours / MONAI throughput ratios."""
    rows: list[dict[str, Any]] = []
    for c in candidates:
        median = statistics.median(c.times)
        rows.append(
            {
                "candidate": c.name,
                "first_epoch_s": c.first_s,
                "first_volumes_per_s": c.first_volumes / c.first_s,
                "steady_epoch_s": median,
                "steady_volumes_per_s": c.volumes / median,
                "steady_best_volumes_per_s": c.volumes / min(c.times),
                "cpu_ms_per_volume": (
                    1000 * statistics.median(c.cpu_times) / c.volumes if workers == 0 else None
                ),
                "volumes_per_epoch": c.volumes,
            }
        )
    by_name = {row["candidate"]: row for row in rows}
    ratios: dict[str, dict[str, float]] = {"steady": {}, "first": {}}
    if "ours" in by_name:
        ours = by_name["ours"]
        for row in rows:
            if row["candidate"] == "ours":
                continue
            name = row["candidate"]
            ratios["steady"][name] = ours["steady_volumes_per_s"] / row["steady_volumes_per_s"]
            ratios["first"][name] = ours["first_volumes_per_s"] / row["first_volumes_per_s"]
    return {"rows": rows, "ratios": ratios}


def markdown(summary: dict[str, Any]) -> str:
    """The summary as a markdown table (ratios: ours / that row, above 1 ours is faster)."""
    lines = [
        "| pipeline | first epoch (s) | first epoch vol/s | steady vol/s (median) | "
        "steady vol/s (best) | CPU ms/vol | ours / this, steady | ours / this, first |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    ratios = summary["ratios"]
    for row in summary["rows"]:
        name = row["candidate"]
        cpu = row["cpu_ms_per_volume"]
        steady = ratios["steady"].get(name)
        first = ratios["first"].get(name)
        lines.append(
            f"| {LABELS[name]} | {row['first_epoch_s']:.2f} | {row['first_volumes_per_s']:.0f} "
            f"| {row['steady_volumes_per_s']:.0f} | {row['steady_best_volumes_per_s']:.0f} | "
            f"{'-' if cpu is None else f'{cpu:.2f}'} | "
            f"{'-' if steady is None else f'{steady:.1f}x'} | "
            f"{'-' if first is None else f'{first:.1f}x'} |"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Run the benchmark, print the agreement check and the markdown table, return the summary.

    Args:
        argv: Command-line arguments (``sys.argv[1:]`` when ``None``).

    Returns:
        ``{"rows": [...], "ratios": {"steady": {name: ours / MONAI volumes/s}, "first":
        {...}}, "agreement": {...} | None}``; a ratio above 1 means ours is faster.
    """
    args = parse_args(argv)
    threads = torch.get_num_threads()
    torch.set_num_threads(args.threads)
    try:
        with warnings.catch_warnings(), tempfile.TemporaryDirectory(prefix="med_") as folder:
            # MONAI announces a future default of Orientationd (unused here) on every build.
            warnings.filterwarnings("ignore", category=FutureWarning, module="monai")
            work = Path(folder)
            with _cache_env(work / "cache"):
                candidates, agreement = run(args, work)
    finally:
        torch.set_num_threads(threads)
    summary = summarise(candidates, args.workers)
    summary["agreement"] = agreement
    if agreement is not None:
        print(
            f"preprocessed volume, ours (float16 cache) vs MONAI, max |diff| over "
            f"{min(args.check, args.volumes)} files: {agreement['values_trilinear']:.2e} "
            f"(Resized trilinear, as ours), {agreement['values_area']:.2e} (Resized 'area', "
            f"MONAI's default); affine {agreement['affine']:.1e} mm"
        )
    print(
        f"{args.volumes} volumes -> {args.size}^3, batch {args.batch_size}, workers "
        f"{args.workers}, two views per volume, first epoch then median of {args.epochs} epochs "
        f"after {args.warmup} warm-up, cpu x{args.threads} (torch {torch.__version__}, MONAI "
        f"{monai.__version__})\n"
    )
    print(markdown(summary))
    return summary


if __name__ == "__main__":
    main()
