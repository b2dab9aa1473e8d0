"""MAE pretraining throughput and model-FLOPs utilisation (MFU) on one GPU.

ViT-B/16 at 224 px with the MAE paper's decoder (512 wide, 8 blocks), 75% of patches dropped
before the encoder, synthetic images resident on the GPU (this measures the model, not data
loading). FLOPs per step are counted by ``torch.utils.flop_counter`` on a real forward and
backward pass; MFU = counted FLOPs per second / the card's dense bf16 peak.

    python benchmarks/mae_gpu.py --batch-size 256 --steps 30 [--compile] [--peak-tflops 989]
"""

from __future__ import annotations

import argparse
import json
import time

import torch
from torch.utils.flop_counter import FlopCounterMode

from foundations.encoders import Encoder
from foundations.encoders.patch2d import PatchTokenizer2d
from foundations.methods import MAE


def build(image_size: int = 224) -> MAE:
    tokenizer = PatchTokenizer2d(in_channels=3, image_size=image_size, patch_size=16, embed_dim=768)
    encoder = Encoder(tokenizer, depth=12, num_heads=12, pool="mean")
    return MAE(encoder, mask_ratio=0.75, decoder_dim=512, decoder_depth=8, decoder_heads=16)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--compile", action="store_true")
    parser.add_argument("--peak-tflops", type=float, default=989.0, help="dense bf16 peak")
    args = parser.parse_args()

    device = torch.device("cuda")
    torch.backends.cuda.matmul.allow_tf32 = True
    model = build().to(device).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1.5e-4, fused=True)
    images = torch.rand(args.batch_size, 3, 224, 224, device=device)
    loss_fn = (
        torch.compile(model.reconstruction_loss) if args.compile else model.reconstruction_loss
    )

    def step() -> torch.Tensor:
        with torch.autocast("cuda", dtype=torch.bfloat16):
            loss = loss_fn(images)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        return loss

    with FlopCounterMode(display=False) as counter, torch.autocast("cuda", dtype=torch.bfloat16):
        model.reconstruction_loss(images).backward()
    optimizer.zero_grad(set_to_none=True)
    flops_per_step = counter.get_total_flops()

    for _ in range(args.warmup):
        step()
    torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(args.steps):
        loss = step()
    torch.cuda.synchronize()
    seconds = (time.perf_counter() - start) / args.steps
    result = {
        "gpu": torch.cuda.get_device_name(),
        "torch": torch.__version__,
        "batch_size": args.batch_size,
        "compile": args.compile,
        "step_ms": round(seconds * 1e3, 2),
        "images_per_s": round(args.batch_size / seconds, 1),
        "tflops_per_step": round(flops_per_step / 1e12, 3),
        "achieved_tflops": round(flops_per_step / seconds / 1e12, 1),
        "mfu": round(flops_per_step / seconds / (args.peak_tflops * 1e12), 3),
        "peak_memory_gib": round(torch.cuda.max_memory_allocated() / 2**30, 2),
        "final_loss": round(loss.item(), 4),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
