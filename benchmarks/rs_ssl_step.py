"""One SSL training step, ours against torchgeo's trainers: equal model, equal batch, one run.

Candidates, for each method (``--methods simclr,moco``):

- ours: :class:`foundations.methods.SimCLR` / :class:`foundations.methods.MoCoV3` around an
  :class:`~foundations.encoders.Encoder` with the
  :class:`~domains.remote_sensing.tokenizer.WavelengthPatchTokenizer` (class-token pooling),
  views drawn by :class:`~domains.remote_sensing.augment.SpectralViews`;
- torchgeo: ``torchgeo.trainers.SimCLRTask`` / ``MoCoTask`` (v3) with a timm ViT backbone,
  views drawn by its own kornia pipeline (``simclr_augmentations`` / ``moco_augmentations``);
- ours with fixed bands (``ours-fixed``, identity views only): the same method and trunk with
  :class:`~foundations.encoders.patch2d.PatchTokenizer2d` (timm's ``PatchEmbed``, a fixed channel
  count) instead of the wavelength tokenizer. This is the strictly equal model: its ratio
  measures the training machinery (method, heads, loss, trunk), and the gap between ``ours``
  and ``ours-fixed`` is what reading any band set costs.

Equal model. torchgeo builds its backbone with ``timm.create_model(model, in_chans=...,
num_classes=0)`` and passes no image or patch size, so a named timm ViT always expects 224 px
in patches of 16. The script therefore registers, under a new timm name, the ``--timm-model``
architecture with ``img_size``, ``patch_size``, ``embed_dim``, ``depth`` and ``num_heads``
overridden, and gives torchgeo that name: its own ``configure_models`` then builds the backbone,
MoCo's momentum backbone and the heads. Ours gets the same width, depth, heads, MLP ratio, patch
size, class-token pooling and input size. Heads are sized alike: SimCLR is torchgeo's
``version=1`` (two-layer ``SimCLRProjectionHead``, no memory bank), as ours; MoCo is v3 on both
sides (3-layer projection and 2-layer prediction heads, momentum encoder and head, keys for both
views, symmetric loss).

Differences that cannot be removed (they are what each side *is*):

- tokenizer: ours generates each band's patch projection from its wavelength with a small MLP
  (the last layer alone has ``128 * D * p**2`` weights) every step, zeroes nodata pixels, counts
  valid bands per patch and builds a padding mask and a masked-modelling target; torchgeo's
  timm ``PatchEmbed`` is one strided convolution with fixed input channels. Inputs here are all
  valid, so there is no padding, but ours still pays for the masks;
- positions: ours a fixed sin-cos table, timm a learned one (no cost difference to speak of);
- losses: our ``NTXentLoss`` / ``InfoNCELoss`` against lightly's ``NTXentLoss``;
- MoCo v3 heads: torchgeo puts BatchNorm in both heads (``batch_norm=True``), ours does not;
- MoCo momentum update: torchgeo inside ``training_step``, ours in ``on_train_batch_end``
  (both are timed);
- torchgeo's step also computes a collapse statistic (``.item()``, a device sync on GPUs);
- augmentations: ours crop+flip+rot90 folded into one warp of values and validity (normalised
  convolution so nodata does not bleed), band dropout, per-band gain/offset, noise; torchgeo's
  random resized crop, flips, brightness, contrast, grayscale and Gaussian blur (SimCLR) or the
  MoCo v3 set. Each side is timed with its own pipeline ("augmented") and with both pipelines
  replaced by the identity ("no augmentation": the model and loss alone).

How a step is run. No ``lightning.Trainer`` loop: for each candidate the script calls
``optimizer.zero_grad()``, ``module.training_step(batch, i)``, ``loss.backward()``,
``optimizer.step()`` and ``module.on_train_batch_end(loss, batch, i)``, which is exactly the
work of the Trainer's automatic optimisation without its loop bookkeeping (identical for both
sides, so left out). torchgeo's tasks read ``self.trainer`` (MoCo's momentum schedule, the
optimisers' epoch counts), so a ``Trainer(barebones=True)`` is attached to them, which also
makes ``self.log`` return at once; ours runs without a trainer, where ``self.log`` also returns
at once (its schedules then see step 0 of 1). By default both sides use the same optimiser,
``torch.optim.AdamW`` over the trainable parameters (``--optimizer adamw``: PyTorch's default
implementation, a loop over tensors on the CPU; ``adamw-fused``: its fused kernel), so the
ratio is the step itself; ``--optimizer own`` uses each side's own choice instead (ours: the fused
AdamW with no-decay groups of ``SSLMethod.configure_optimizers``; torchgeo: what its
``configure_optimizers`` returns, LARS for SimCLR and AdamW for MoCo v3). Schedulers are not
stepped.

Timing. The same random batch (``--bands`` bands, reflectance-like values in [0, 1), every
pixel valid) is used throughout; candidates are interleaved step by step, in alternating order,
so drifts of a shared machine hit all of them alike; ``--warmup`` rounds are discarded and the
median of ``--steps`` rounds is reported (throughput = batch size / median step), with the
fastest step and this process's CPU time per step (all threads) beside it: on a machine whose
cores other jobs share, these two move less than the median wall time (CPU time also counts
threads spinning while they wait). ``torch.set_num_threads(--threads)`` is fixed, to one thread
by default: with two threads on two cores that other jobs also use, every parallel operator
waits at its barrier for the thread that lost its core, which turns a count of small
operators, not the work, into the measurement. dtype is float32, or bfloat16 autocast with
``--precision bf16`` (meant for ``--device cuda``, where every step ends with a
synchronisation). Before timing, one step of each candidate runs under
``torch.utils.flop_counter.FlopCounterMode`` (skip with ``--no-flops``): matmul and convolution
FLOPs of forward, backward and augmentation; the CPU kernel of
``scaled_dot_product_attention`` is not counted by it, which leaves out the same attention
FLOPs on both sides.

    python benchmarks/rs_ssl_step.py --batch-size 8 --image-size 64 --steps 8 --warmup 1
    python benchmarks/rs_ssl_step.py [--batch-size 16] [--image-size 64] [--patch-size 8]
        [--steps 6] [--bands 12] [--methods simclr,moco] [--augment both|on|off]
        [--optimizer adamw|adamw-fused|own] [--threads 1]
        [--device cpu|cuda --precision bf16]
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import statistics
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import lightning as L
import timm
import torch
from timm.models import register_model
from torch import Tensor, nn
from torch.utils.flop_counter import FlopCounterMode

from domains.remote_sensing.augment import SpectralViews
from domains.remote_sensing.sensors import get_sensor, hyperspectral
from domains.remote_sensing.tokenizer import WavelengthPatchTokenizer
from foundations.encoders import Encoder
from foundations.encoders.patch2d import PatchTokenizer2d
from foundations.methods import MoCoV3, SimCLR
from foundations.methods.base import SSLMethod, parameter_groups

METHODS = ("simclr", "moco")


@dataclass
class Candidate:
    """One module to time, with its optimiser and batch.

    Attributes:
        method: ``"simclr"`` or ``"moco"``.
        side: ``"ours"``, ``"ours-fixed"`` (fixed-band patch tokenizer) or ``"torchgeo"``.
        augmented: Whether the module draws its own views (``False``: identity views).
        module: The LightningModule whose ``training_step`` is timed.
        optimizer: Its optimiser.
        batch: The batch in the module's own format.
        times: Measured wall-clock step durations in seconds.
        cpu_times: CPU time of this process (all threads) during those steps, in seconds.
        flops: FLOPs of one step counted by ``torch.utils.flop_counter``, or ``None``.
    """

    method: str
    side: str
    augmented: bool
    module: L.LightningModule
    optimizer: torch.optim.Optimizer
    batch: dict[str, Any]
    times: list[float] = field(default_factory=list)
    cpu_times: list[float] = field(default_factory=list)
    flops: int | None = None

    @property
    def trainable_params(self) -> int:
        return sum(p.numel() for p in self.module.parameters() if p.requires_grad)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Command-line options (see the module docstring)."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--patch-size", type=int, default=8)
    parser.add_argument("--bands", type=int, default=12, help="12: Sentinel-2 L2A wavelengths")
    parser.add_argument("--embed-dim", type=int, default=192, help="ViT-Tiny: 192")
    parser.add_argument("--depth", type=int, default=12)
    parser.add_argument("--heads", type=int, default=3)
    parser.add_argument("--timm-model", default="vit_tiny_patch16_224", help="torchgeo's model")
    parser.add_argument("--simclr-dims", type=int, nargs=2, default=(512, 128), metavar="H O")
    parser.add_argument("--moco-dims", type=int, nargs=2, default=(1024, 256), metavar="H O")
    parser.add_argument("--methods", default="simclr,moco", help="comma-separated subset")
    parser.add_argument("--augment", choices=("both", "on", "off"), default="both")
    parser.add_argument("--optimizer", choices=("adamw", "adamw-fused", "own"), default="adamw")
    parser.add_argument("--steps", type=int, default=6, help="measured rounds (median)")
    parser.add_argument("--warmup", type=int, default=2, help="discarded rounds")
    parser.add_argument(
        "--threads", type=int, default=1, help="1 is steadiest on cores other jobs share"
    )
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--precision", choices=("fp32", "bf16"), default="fp32")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--no-flops", dest="flops", action="store_false", help="skip the counted FLOPs step"
    )
    args = parser.parse_args(argv)
    args.methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    unknown = set(args.methods) - set(METHODS)
    if unknown or not args.methods:
        parser.error(f"--methods must be a subset of {','.join(METHODS)}, got {args.methods}")
    return args


def wavelengths_for(bands: int) -> Tensor:
    """Band centres (µm): Sentinel-2 L2A for 12 bands, else evenly spaced over 0.45-2.2 µm."""
    if bands == 12:
        return torch.tensor(get_sensor("sentinel2_l2a").wavelengths())
    return torch.tensor(hyperspectral(bands, 0.45, 2.2, 10.0).wavelengths())


def register_sized_timm_model(args: argparse.Namespace) -> str:
    """Register ``--timm-model`` at the benchmark's size under a new timm name; return it.

    torchgeo passes only a model name to ``timm.create_model``; the registered entry point
    forwards to ``--timm-model`` with the image size, patch size, width, depth and heads
    overridden (timm's ViT entry points let keyword arguments override their defaults).
    """
    name = (
        f"{args.timm_model}_rsbench_{args.image_size}px_p{args.patch_size}_"
        f"{args.embed_dim}x{args.depth}h{args.heads}"
    )
    if timm.is_model(name):
        return name
    overrides = {
        "img_size": args.image_size,
        "patch_size": args.patch_size,
        "embed_dim": args.embed_dim,
        "depth": args.depth,
        "num_heads": args.heads,
    }
    base = args.timm_model

    def entry(pretrained: bool = False, **kwargs: Any) -> nn.Module:
        if pretrained:
            raise ValueError("the benchmark's resized models have no pretrained weights")
        kwargs.pop("pretrained_cfg", None)
        kwargs.pop("pretrained_cfg_overlay", None)
        return timm.create_model(base, pretrained=False, **{**kwargs, **overrides})

    entry.__name__ = entry.__qualname__ = name
    entry.__module__ = __name__
    register_model(entry)
    return name


def build_ours(
    method: str, args: argparse.Namespace, augmented: bool, fixed_bands: bool = False
) -> L.LightningModule:
    """Our SimCLR or MoCo v3 at the benchmark's size, with the wavelength tokenizer or, with
    ``fixed_bands``, the fixed-channel patch tokenizer (no augmentation then)."""
    tokenizer: nn.Module
    if fixed_bands:
        tokenizer = PatchTokenizer2d(args.bands, args.image_size, args.patch_size, args.embed_dim)
    else:
        tokenizer = WavelengthPatchTokenizer(
            image_size=args.image_size,
            patch_size=args.patch_size,
            embed_dim=args.embed_dim,
            num_bands=args.bands,
        )
    encoder = Encoder(tokenizer, depth=args.depth, num_heads=args.heads, pool="cls")
    augment = SpectralViews(size=args.image_size) if augmented else None
    if method == "simclr":
        hidden, out = args.simclr_dims
        return SimCLR(encoder, augment, hidden_dim=hidden, projection_dim=out, lr=1e-4)
    hidden, out = args.moco_dims
    return MoCoV3(encoder, augment, hidden_dim=hidden, projection_dim=out, lr=1e-4)


def build_torchgeo(method: str, args: argparse.Namespace, augmented: bool) -> L.LightningModule:
    """torchgeo's SimCLRTask (v1 head, no memory bank) or MoCoTask (v3) at the benchmark's size."""
    from torchgeo.trainers import MoCoTask, SimCLRTask

    task: L.LightningModule
    if method == "simclr":
        hidden, out = args.simclr_dims
        task = SimCLRTask(
            model=register_sized_timm_model(args),
            in_channels=args.bands,
            version=1,
            layers=2,
            hidden_dim=hidden,
            output_dim=out,
            lr=1e-4,
            temperature=0.1,
            memory_bank_size=0,
            size=args.image_size,
            augmentations=None if augmented else nn.Identity(),
        )
        return task
    hidden, out = args.moco_dims
    identity = None if augmented else nn.Identity()
    task = MoCoTask(
        model=register_sized_timm_model(args),
        in_channels=args.bands,
        version=3,
        layers=3,
        hidden_dim=hidden,
        output_dim=out,
        lr=1e-4,
        size=args.image_size,
        augmentation1=identity,
        augmentation2=identity,
    )
    return task


def make_optimizer(module: L.LightningModule, side: str, kind: str) -> torch.optim.Optimizer:
    """The shared AdamW (for-loop or fused kernel), or each side's own optimiser."""
    if kind in ("adamw", "adamw-fused"):
        params = [p for p in module.parameters() if p.requires_grad]
        fused = True if kind == "adamw-fused" else None
        return torch.optim.AdamW(params, lr=1e-4, weight_decay=0.05, fused=fused)
    if side.startswith("ours"):
        assert isinstance(module, SSLMethod)
        groups = parameter_groups(module, module.weight_decay)
        return torch.optim.AdamW(groups, lr=module.lr, betas=module.betas, fused=True)
    config: Any = module.configure_optimizers()
    optimizer = config["optimizer"] if isinstance(config, dict) else config
    assert isinstance(optimizer, torch.optim.Optimizer)
    return optimizer


def build_candidates(args: argparse.Namespace, device: torch.device) -> list[Candidate]:
    """Every (method, augmentation, side) combination asked for, on ``device``."""
    generator = torch.Generator().manual_seed(args.seed)
    size = (args.batch_size, args.bands, args.image_size, args.image_size)
    values = torch.rand(size, generator=generator).to(device)
    ours_batch = {
        "image": {
            "values": values,
            "valid": torch.ones(size, dtype=torch.bool, device=device),
            "wavelengths": wavelengths_for(args.bands).to(device),
        }
    }
    torchgeo_batch = {"image": values}
    batches = {"ours": ours_batch, "ours-fixed": torchgeo_batch, "torchgeo": torchgeo_batch}
    modes = {"both": (True, False), "on": (True,), "off": (False,)}[args.augment]
    trainer = L.Trainer(barebones=True, accelerator="cpu", devices=1, max_epochs=100)
    candidates = []
    batch: dict[str, Any]
    for method in args.methods:
        for augmented in modes:
            sides = ("ours", "torchgeo") if augmented else ("ours", "ours-fixed", "torchgeo")
            for side in sides:
                torch.manual_seed(args.seed)
                batch = batches[side]
                if side == "torchgeo":
                    module = build_torchgeo(method, args, augmented)
                    module.trainer = trainer  # its steps and optimisers read self.trainer
                else:
                    module = build_ours(method, args, augmented, fixed_bands=side == "ours-fixed")
                module = module.to(device).train()
                optimizer = make_optimizer(module, side, args.optimizer)
                candidates.append(Candidate(method, side, augmented, module, optimizer, batch))
    return candidates


def step_fn(
    candidate: Candidate, autocast: Callable[[], contextlib.AbstractContextManager[Any]]
) -> Callable[[int], None]:
    """One optimisation step of ``candidate``, as Lightning's automatic optimisation runs it."""
    module, optimizer, batch = candidate.module, candidate.optimizer, candidate.batch

    def step(index: int) -> None:
        optimizer.zero_grad(set_to_none=True)
        with autocast():
            loss = module.training_step(batch, index)
        assert isinstance(loss, Tensor)
        loss.backward()
        optimizer.step()
        module.on_train_batch_end(loss, batch, index)

    return step


def _interleaved(candidates: list[Candidate], rounds: int) -> Iterator[tuple[int, Candidate]]:
    for index in range(rounds):
        order = candidates if index % 2 == 0 else candidates[::-1]
        for candidate in order:
            yield index, candidate


def run(args: argparse.Namespace) -> list[Candidate]:
    """Build every candidate and time ``args.warmup + args.steps`` interleaved rounds."""
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda asked for but CUDA is not available")
    torch.set_num_threads(args.threads)
    dtype = torch.bfloat16 if args.precision == "bf16" else None

    def autocast() -> contextlib.AbstractContextManager[Any]:
        if dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device.type, dtype=dtype)

    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize()

    candidates = build_candidates(args, device)
    steps = {id(c): step_fn(c, autocast) for c in candidates}
    if args.flops:  # one counted, untimed step each (it also warms the candidate up)
        for candidate in candidates:
            with FlopCounterMode(display=False) as counter:
                steps[id(candidate)](0)
            candidate.flops = counter.get_total_flops()
    for index, candidate in _interleaved(candidates, args.warmup + args.steps):
        sync()
        start, cpu_start = time.perf_counter(), time.process_time()
        steps[id(candidate)](index)
        sync()
        if index >= args.warmup:
            candidate.times.append(time.perf_counter() - start)
            candidate.cpu_times.append(time.process_time() - cpu_start)
    return candidates


def summarise(candidates: list[Candidate], batch_size: int) -> dict[str, Any]:
    """Median step times, throughputs and ours/torchgeo ratios (>1: ours is faster)."""
    rows: list[dict[str, Any]] = []
    for c in candidates:
        median = statistics.median(c.times)
        rows.append(
            {
                "method": c.method,
                "augmented": c.augmented,
                "side": c.side,
                "params_m": c.trainable_params / 1e6,
                "step_ms": median * 1e3,
                "gflops": None if c.flops is None else c.flops / 1e9,
                "best_ms": min(c.times) * 1e3,
                "cpu_ms": statistics.median(c.cpu_times) * 1e3,
                "samples_per_s": batch_size / median,
            }
        )
    ratios: dict[str, float] = {}
    best_ratios: dict[str, float] = {}
    cpu_ratios: dict[str, float] = {}
    for row in rows:
        if row["side"] == "torchgeo":
            continue
        theirs = next(
            r
            for r in rows
            if r["side"] == "torchgeo"
            and r["method"] == row["method"]
            and r["augmented"] == row["augmented"]
        )
        key = f"{row['method']}/{'augmented' if row['augmented'] else 'no augmentation'}"
        if row["side"] == "ours-fixed":
            key += ", fixed bands"
        ratios[key] = row["samples_per_s"] / theirs["samples_per_s"]
        best_ratios[key] = theirs["best_ms"] / row["best_ms"]
        cpu_ratios[key] = theirs["cpu_ms"] / row["cpu_ms"]
    return {"rows": rows, "ratios": ratios, "best_ratios": best_ratios, "cpu_ratios": cpu_ratios}


def markdown(summary: dict[str, Any]) -> str:
    """The results as two markdown tables: per candidate, then the ratios."""
    names = {"simclr": "SimCLR", "moco": "MoCo v3"}
    lines = [
        "| method | views | candidate | trainable params | GFLOP/step | step (ms) "
        "| best step (ms) | CPU time (ms) | samples/s |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in summary["rows"]:
        views = "own augmentation" if r["augmented"] else "no augmentation"
        who = {"ours-fixed": "ours, fixed-band tokenizer"}.get(r["side"], r["side"])
        gflops = "-" if r["gflops"] is None else f"{r['gflops']:.2f}"
        lines.append(
            f"| {names[r['method']]} | {views} | {who} | {r['params_m']:.2f} M | {gflops} "
            f"| {r['step_ms']:.1f} | {r['best_ms']:.1f} | {r['cpu_ms']:.1f} "
            f"| {r['samples_per_s']:.1f} |"
        )
    lines += [
        "",
        "| method | views | throughput ours / torchgeo | best step torchgeo / ours "
        "| CPU time torchgeo / ours |",
        "|---|---|---|---|---|",
    ]
    for key, ratio in summary["ratios"].items():
        method, views = key.split("/")
        best, cpu = summary["best_ratios"][key], summary["cpu_ratios"][key]
        lines.append(f"| {names[method]} | {views} | **{ratio:.2f}x** | {best:.2f}x | {cpu:.2f}x |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Run the benchmark, print the markdown tables and return the summary.

    Args:
        argv: Command-line arguments (``sys.argv[1:]`` when ``None``).

    Returns:
        ``{"rows": [...], "ratios": {"simclr/augmented": ours / torchgeo samples/s, ...},
        "best_ratios": {...: torchgeo / ours fastest step}, "cpu_ratios": {...: torchgeo /
        ours CPU time per step}}``; above 1, ours is faster.
    """
    args = parse_args(argv)
    logging.getLogger("lightning.pytorch").setLevel(logging.WARNING)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*self.log.*")
        warnings.filterwarnings("ignore", message=".*barebones.*")
        candidates = run(args)
    summary = summarise(candidates, args.batch_size)
    device = torch.cuda.get_device_name() if args.device == "cuda" else f"cpu x{args.threads}"
    print(
        f"batch {args.batch_size}, {args.bands} bands, {args.image_size} px, patch "
        f"{args.patch_size}, ViT {args.embed_dim}/{args.depth}/{args.heads}, {args.precision}, "
        f"{device}, optimizer {args.optimizer}, median of {args.steps} steps after "
        f"{args.warmup} warm-up (torch {torch.__version__})\n"
    )
    print(markdown(summary))
    return summary


if __name__ == "__main__":
    main()
