"""MAE training-step throughput: ours against lightly's MAE, same model, batch and input.

Both sides are a ViT (default ViT-Tiny: width 192, 12 blocks, 3 heads, 16 px patches on 224 px
RGB images) with 75% of the patches dropped before the encoder and the same decoder (width,
depth, heads), trained by the same AdamW on the same resident random batch:

- ours: :class:`foundations.methods.MAE` (``PatchTokenizer2d`` + ``Encoder`` + ``MAEDecoder``),
  one call of ``reconstruction_loss``;
- lightly: ``MaskedVisionTransformerTIMM`` over a timm ``VisionTransformer`` and
  ``MAEDecoderTIMM``, wired as in lightly's MAE example (``random_token_mask``, ``encode``,
  ``set_at_index``, ``decode``, ``predict`` on the masked tokens, MSE on raw patches).

Targets are raw patches on both sides (``norm_target=False`` for ours). Steps alternate between
the two sides (ABBA order) after warm-up; the ratio is of median step times, so above 1 ours
is faster.

    python benchmarks/lightly_mae_step.py [--batch-size 32] [--steps 10] [--device cuda]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from lightly.models import utils as lightly_utils
from lightly.models.modules import MAEDecoderTIMM, MaskedVisionTransformerTIMM
from timm.models.vision_transformer import VisionTransformer
from torch import Tensor, nn

from foundations.encoders import Encoder
from foundations.encoders.patch2d import PatchTokenizer2d
from foundations.methods import MAE


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The command line (``sys.argv[1:]`` when ``argv`` is ``None``)."""
    parser = argparse.ArgumentParser(
        description=(__doc__ or "").split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--image-size", type=int, default=224)
    parser.add_argument("--patch-size", type=int, default=16)
    parser.add_argument("--embed-dim", type=int, default=192, help="ViT-Tiny: 192")
    parser.add_argument("--depth", type=int, default=12)
    parser.add_argument("--heads", type=int, default=3)
    parser.add_argument("--decoder-dim", type=int, default=128)
    parser.add_argument("--decoder-depth", type=int, default=2)
    parser.add_argument("--decoder-heads", type=int, default=4)
    parser.add_argument("--mask-ratio", type=float, default=0.75)
    parser.add_argument("--steps", type=int, default=10, help="measured steps per side (median)")
    parser.add_argument("--warmup", type=int, default=2, help="discarded steps per side")
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--precision", choices=("fp32", "bf16"), default="fp32")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true", help="print the summary as JSON too")
    args = parser.parse_args(argv)
    if min(args.batch_size, args.steps, args.depth, args.decoder_depth, args.threads) < 1:
        parser.error("--batch-size, --steps, --depth, --decoder-depth, --threads must be >= 1")
    if args.image_size % args.patch_size:
        parser.error("--image-size must be a multiple of --patch-size")
    return args


class OursMAE(nn.Module):
    """Our MAE method, reduced to the loss of one batch of images."""

    def __init__(self, args: argparse.Namespace) -> None:
        super().__init__()
        tokenizer = PatchTokenizer2d(
            in_channels=3,
            image_size=args.image_size,
            patch_size=args.patch_size,
            embed_dim=args.embed_dim,
        )
        encoder = Encoder(tokenizer, depth=args.depth, num_heads=args.heads, pool="mean")
        self.method = MAE(
            encoder,
            mask_ratio=args.mask_ratio,
            decoder_dim=args.decoder_dim,
            decoder_depth=args.decoder_depth,
            decoder_heads=args.decoder_heads,
            norm_target=False,
        )

    def forward(self, images: Tensor) -> Tensor:
        return self.method.reconstruction_loss(images)


class LightlyMAE(nn.Module):
    """lightly's MAE, as in its example (``examples/pytorch/mae.py``), with a loss."""

    def __init__(self, args: argparse.Namespace) -> None:
        super().__init__()
        vit = VisionTransformer(
            img_size=args.image_size,
            patch_size=args.patch_size,
            in_chans=3,
            embed_dim=args.embed_dim,
            depth=args.depth,
            num_heads=args.heads,
            num_classes=0,
        )
        self.mask_ratio = args.mask_ratio
        self.patch_size = args.patch_size
        self.backbone = MaskedVisionTransformerTIMM(vit=vit)
        self.sequence_length = self.backbone.sequence_length
        with warnings.catch_warnings():
            # Deprecated for MaskedVisionTransformerDecoderTIMM, which lacks embed/predict: the
            # example's decoder is still this one in lightly 1.6.
            warnings.filterwarnings("ignore", category=FutureWarning)
            self.decoder = MAEDecoderTIMM(
                num_patches=vit.patch_embed.num_patches,
                patch_size=args.patch_size,
                embed_dim=args.embed_dim,
                decoder_embed_dim=args.decoder_dim,
                decoder_depth=args.decoder_depth,
                decoder_num_heads=args.decoder_heads,
                mlp_ratio=4.0,
                proj_drop_rate=0.0,
                attn_drop_rate=0.0,
            )
        self.criterion = nn.MSELoss()

    def forward(self, images: Tensor) -> Tensor:
        batch_size = images.shape[0]
        idx_keep, idx_mask = lightly_utils.random_token_mask(
            size=(batch_size, self.sequence_length),
            mask_ratio=self.mask_ratio,
            device=images.device,
        )
        encoded = self.backbone.encode(images=images, idx_keep=idx_keep)
        decoded = self.decoder.embed(encoded)
        masked = lightly_utils.repeat_token(
            self.decoder.mask_token, (batch_size, self.sequence_length)
        )
        masked = lightly_utils.set_at_index(masked, idx_keep, decoded.type_as(masked))
        prediction = self.decoder.predict(
            lightly_utils.get_at_index(self.decoder.decode(masked), idx_mask)
        )
        patches = lightly_utils.patchify(images, self.patch_size)
        target = lightly_utils.get_at_index(patches, idx_mask - 1)
        return self.criterion(prediction, target)


@dataclass
class Candidate:
    """One side of the comparison and its measured step times."""

    name: str
    model: nn.Module
    optimizer: torch.optim.Optimizer
    times: list[float] = field(default_factory=list)
    losses: list[float] = field(default_factory=list)

    @property
    def params_m(self) -> float:
        return sum(p.numel() for p in self.model.parameters() if p.requires_grad) / 1e6


def build(args: argparse.Namespace, device: torch.device) -> list[Candidate]:
    """Both models, each with the same AdamW (fused kernel, as our methods use)."""
    candidates = []
    for name, cls in (("ours", OursMAE), ("lightly", LightlyMAE)):
        torch.manual_seed(args.seed)
        model = cls(args).to(device).train()
        optimizer = torch.optim.AdamW(model.parameters(), lr=1.5e-4, fused=True)
        candidates.append(Candidate(name, model, optimizer))
    return candidates


def run(args: argparse.Namespace) -> list[Candidate]:
    """Time ``warmup + steps`` steps of each side, interleaved ABBA."""
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda asked for but CUDA is not available")
    threads = torch.get_num_threads()
    torch.set_num_threads(args.threads)
    try:
        candidates = build(args, device)
        generator = torch.Generator().manual_seed(args.seed)
        shape = (args.batch_size, 3, args.image_size, args.image_size)
        images = torch.rand(shape, generator=generator).to(device)

        def autocast() -> contextlib.AbstractContextManager[Any]:
            if args.precision == "fp32":
                return contextlib.nullcontext()
            return torch.autocast(device.type, dtype=torch.bfloat16)

        def sync() -> None:
            if device.type == "cuda":
                torch.cuda.synchronize()

        def step(candidate: Candidate) -> Tensor:
            with autocast():
                loss = candidate.model(images)
            loss.backward()
            candidate.optimizer.step()
            candidate.optimizer.zero_grad(set_to_none=True)
            return loss.detach()

        for index in range(args.warmup + args.steps):
            for candidate in candidates if index % 2 == 0 else candidates[::-1]:
                sync()
                start = time.perf_counter()
                loss = step(candidate)
                sync()
                if index >= args.warmup:
                    candidate.times.append(time.perf_counter() - start)
                    candidate.losses.append(float(loss))
    finally:
        torch.set_num_threads(threads)
    return candidates


def summarise(candidates: list[Candidate], batch_size: int) -> dict[str, Any]:
    """Median step time and images/s per side, and ours / lightly (above 1: ours faster)."""
    rows = []
    for c in candidates:
        median = statistics.median(c.times)
        rows.append(
            {
                "candidate": c.name,
                "params_m": c.params_m,
                "step_ms": median * 1e3,
                "best_ms": min(c.times) * 1e3,
                "images_per_s": batch_size / median,
                "final_loss": c.losses[-1],
            }
        )
    ours, lightly = rows
    return {
        "rows": rows,
        "ratio": ours["images_per_s"] / lightly["images_per_s"],
        "best_ratio": lightly["best_ms"] / ours["best_ms"],
    }


def markdown(summary: dict[str, Any]) -> str:
    """The summary as a markdown table."""
    lines = [
        "| MAE | trainable params | step (ms, median) | best step (ms) | images/s |",
        "|---|---:|---:|---:|---:|",
    ]
    for r in summary["rows"]:
        lines.append(
            f"| {r['candidate']} | {r['params_m']:.2f} M | {r['step_ms']:.1f} "
            f"| {r['best_ms']:.1f} | {r['images_per_s']:.1f} |"
        )
    lines.append(
        f"\nthroughput ours / lightly: **{summary['ratio']:.2f}x** "
        f"(best step: {summary['best_ratio']:.2f}x)"
    )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Run the benchmark, print the table and return the summary.

    Args:
        argv: Command-line arguments (``sys.argv[1:]`` when ``None``).

    Returns:
        ``{"rows": [{"candidate", "params_m", "step_ms", "best_ms", "images_per_s",
        "final_loss"}, ...], "ratio": ours / lightly images/s, "best_ratio": ...}``.
    """
    args = parse_args(argv)
    summary = summarise(run(args), args.batch_size)
    device = torch.cuda.get_device_name() if args.device == "cuda" else f"cpu x{args.threads}"
    summary["setup"] = (
        f"ViT {args.embed_dim}x{args.depth} ({args.heads} heads), patch {args.patch_size}, "
        f"{args.image_size} px, decoder {args.decoder_dim}x{args.decoder_depth}, batch "
        f"{args.batch_size}, mask {args.mask_ratio}, {args.precision}, {device}"
    )
    print(summary["setup"])
    print(markdown(summary))
    if args.json:
        print(json.dumps(summary))
    return summary


if __name__ == "__main__":
    main()
