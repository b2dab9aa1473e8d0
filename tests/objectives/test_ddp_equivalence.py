"""DDP equivalence: two gloo ranks on halves of a batch reproduce the single-process step.

For every objective the batch is split between two processes, a small projector (plus the
objective's own parameters) is wrapped in ``DistributedDataParallel`` and one forward/backward
is run. The mean of the rank losses must equal the single-process loss on the whole batch, the
DDP-averaged gradients the single-process gradients, and buffers (DINO's center) the
single-process buffers. All cases run in one spawn, because starting processes is the slow part.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel

from foundations.objectives import (
    CLIPLoss,
    DINOLoss,
    InfoNCELoss,
    MAELoss,
    MultiModalAlignmentLoss,
    NTXentLoss,
    SigLIPLoss,
)

WORLD_SIZE = 2
BATCH = 8
ATOL = 1e-5

MODALITIES = ["image", "photometry", "spectrum"]

Batch = dict[str, Tensor]
Compute = Callable[[Any, nn.Module, Batch], Tensor]


class Harness(nn.Module):
    """Projector + objective; ``compute`` says how a batch flows through them."""

    def __init__(self, projector: nn.Module, objective: nn.Module, compute: Compute) -> None:
        super().__init__()
        self.projector = projector
        self.objective = objective
        self.compute = compute

    def forward(self, batch: Batch) -> Tensor:
        return self.compute(self.projector, self.objective, batch)


@dataclass
class Case:
    """One objective under test."""

    build: Callable[[], tuple[Harness, Batch]]
    split: int = BATCH // 2  # rows of rank 0; rank 1 gets the rest
    expect_match: bool = True  # False for sanity cases that a correct test must reject


def _mask(*bits: int) -> Tensor:
    return torch.tensor(bits, dtype=torch.bool)


def _randn(generator: torch.Generator, *shape: int) -> Tensor:
    return torch.randn(*shape, generator=generator)


Objective = Callable[[], nn.Module]


def _two_view_case(objective: Objective) -> Callable[[], tuple[Harness, Batch]]:
    def build() -> tuple[Harness, Batch]:
        torch.manual_seed(0)
        g = torch.Generator().manual_seed(1)
        batch = {"x0": _randn(g, BATCH, 6), "x1": _randn(g, BATCH, 6)}

        def compute(proj: nn.Module, obj: nn.Module, b: Batch) -> Tensor:
            return obj(proj(b["x0"]), proj(b["x1"]))

        return Harness(nn.Linear(6, 5), objective(), compute), batch

    return build


def _pair_case(objective: Objective, valid: Tensor) -> Callable[[], tuple[Harness, Batch]]:
    def build() -> tuple[Harness, Batch]:
        torch.manual_seed(0)
        g = torch.Generator().manual_seed(2)
        batch = {"a": _randn(g, BATCH, 6), "b": _randn(g, BATCH, 7), "valid": valid}
        projector = nn.ModuleDict({"a": nn.Linear(6, 5), "b": nn.Linear(7, 5)})

        def compute(proj: nn.ModuleDict, obj: nn.Module, b: Batch) -> Tensor:
            return obj(proj["a"](b["a"]), proj["b"](b["b"]), b["valid"])

        return Harness(projector, objective(), compute), batch

    return build


def _multimodal_case(objective: Objective) -> Callable[[], tuple[Harness, Batch]]:
    def build() -> tuple[Harness, Batch]:
        torch.manual_seed(0)
        g = torch.Generator().manual_seed(3)
        dims = dict(zip(MODALITIES, (6, 4, 9), strict=True))
        batch = {m: _randn(g, BATCH, d) for m, d in dims.items()}
        # No sample of rank 1 has both photometry and spectrum: that pair is empty there.
        batch["has_photometry"] = _mask(1, 1, 0, 1, 1, 0, 1, 1)
        batch["has_spectrum"] = _mask(1, 0, 1, 0, 0, 1, 0, 1)
        batch["has_spectrum"][4:] &= ~batch["has_photometry"][4:]
        projector = nn.ModuleDict({m: nn.Linear(d, 5) for m, d in dims.items()})

        def compute(proj: nn.ModuleDict, obj: nn.Module, b: Batch) -> Tensor:
            embeddings = {m: proj[m](b[m]) for m in dims}
            present = {m: b[f"has_{m}"] for m in ("photometry", "spectrum")}
            return obj(embeddings, present)

        return Harness(projector, objective(), compute), batch

    return build


def _dino_build() -> tuple[Harness, Batch]:
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(4)
    # Two consecutive calls (steps) of 2 global + 2 local views each.
    batch = {f"step{s}_view{v}": _randn(g, BATCH, 6) for s in range(2) for v in range(4)}
    teacher = nn.Linear(6, 16).requires_grad_(False)

    def compute(proj: nn.Module, obj: nn.Module, b: Batch) -> Tensor:
        loss = torch.zeros(())
        for step, epoch in enumerate([0, 3]):
            views = [b[f"step{step}_view{v}"] for v in range(4)]
            with torch.no_grad():
                teacher_out = [teacher(v) * 5 for v in views[:2]]
            loss = loss + obj(teacher_out, [proj(v) for v in views], epoch=epoch)
        return loss

    objective = DINOLoss(
        16, warmup_teacher_temp=0.04, teacher_temp=0.07, warmup_teacher_temp_epochs=5
    )
    harness = Harness(nn.Linear(6, 16), objective, compute)
    harness.teacher = teacher
    return harness, batch


def _mae_build(local_mean: bool = False) -> Callable[[], tuple[Harness, Batch]]:
    def build() -> tuple[Harness, Batch]:
        torch.manual_seed(0)
        g = torch.Generator().manual_seed(5)
        rate = torch.tensor([0.9] * 4 + [0.3] * 4)[:, None]  # rank 0 masks far more tokens
        batch = {
            "tokens": _randn(g, BATCH, 5, 6),
            "target": _randn(g, BATCH, 5, 4),
            "mask": torch.rand(BATCH, 5, generator=g) < rate,
            "target_mask": torch.rand(BATCH, 5, 4, generator=g) < 0.8,
        }

        def compute(proj: nn.Module, obj: nn.Module, b: Batch) -> Tensor:
            pred = proj(b["tokens"])
            if local_mean:  # a mean that ignores the other ranks' counts
                weight = b["mask"][..., None] & b["target_mask"]
                return torch.where(weight, (pred - b["target"]) ** 2, 0.0).sum() / weight.sum()
            return obj(pred, b["target"], b["mask"], b["target_mask"])

        return Harness(nn.Linear(6, 4), MAELoss(norm_target=True), compute), batch

    return build


CASES: dict[str, Case] = {
    "ntxent": Case(_two_view_case(lambda: NTXentLoss(temperature=0.2))),
    "infonce_keys_with_grad": Case(_two_view_case(lambda: InfoNCELoss(temperature=0.3))),
    "clip_invalid": Case(
        _pair_case(lambda: CLIPLoss(init_temperature=0.1), _mask(1, 0, 1, 1, 0, 0, 1, 0))
    ),
    "siglip_chunked": Case(
        _pair_case(
            lambda: SigLIPLoss(init_temperature=2.0, init_bias=-1.0, chunk_size=3),
            _mask(1, 1, 0, 1, 1, 0, 0, 1),
        )
    ),
    "multimodal_clip": Case(
        _multimodal_case(lambda: MultiModalAlignmentLoss(MODALITIES, "clip", init_temperature=0.2))
    ),
    "multimodal_siglip_chunked": Case(
        _multimodal_case(lambda: MultiModalAlignmentLoss(MODALITIES, "siglip", chunk_size=3))
    ),
    "dino_unequal_batches": Case(_dino_build, split=3),
    "mae_unequal_counts": Case(_mae_build()),
    # Sanity: a contrastive loss that does not gather, and a mean that ignores the other
    # ranks' counts, must both be caught.
    "sanity_ntxent_not_gathered": Case(
        _two_view_case(lambda: NTXentLoss(temperature=0.2, gather_distributed=False)),
        expect_match=False,
    ),
    "sanity_mae_local_mean": Case(_mae_build(local_mean=True), expect_match=False),
}


def _run(model: nn.Module, harness: Harness, batch: Batch) -> dict[str, Any]:
    loss = model(batch)
    loss.backward()
    return {
        "loss": loss.detach(),
        "grads": {n: p.grad.clone() for n, p in harness.named_parameters() if p.grad is not None},
        "buffers": {n: b.clone() for n, b in harness.named_buffers()},
    }


def _worker(rank: int, port: int, out_dir: str) -> None:
    torch.set_num_threads(1)
    os.environ["MASTER_ADDR"] = "127.0.0.1"
    os.environ["MASTER_PORT"] = str(port)
    dist.init_process_group("gloo", rank=rank, world_size=WORLD_SIZE, timeout=timedelta(seconds=60))
    try:
        results = {}
        for name, case in CASES.items():
            harness, batch = case.build()
            rows = slice(0, case.split) if rank == 0 else slice(case.split, BATCH)
            local = {k: v[rows] for k, v in batch.items()}
            results[name] = _run(DistributedDataParallel(harness), harness, local)
        torch.save(results, Path(out_dir) / f"rank{rank}.pt")
    finally:
        dist.destroy_process_group()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def ddp_results(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    out_dir = tmp_path_factory.mktemp("ddp")
    mp.spawn(_worker, args=(_free_port(), str(out_dir)), nprocs=WORLD_SIZE, join=True)
    return [torch.load(out_dir / f"rank{r}.pt") for r in range(WORLD_SIZE)]


def _single_process(case: Case) -> dict[str, Any]:
    harness, batch = case.build()
    return _run(harness, harness, batch)


def _matches(ranks: list[dict[str, Any]], single: dict[str, Any]) -> bool:
    def close(x: Tensor, y: Tensor) -> bool:
        return torch.allclose(x, y, atol=ATOL, rtol=1e-4)

    checks = [close(torch.stack([r["loss"] for r in ranks]).mean(), single["loss"])]
    for r in ranks:
        for key in ("grads", "buffers"):
            checks += [close(r[key][n], value) for n, value in single[key].items()]
    return all(checks)


@pytest.mark.parametrize("name", [n for n, c in CASES.items() if c.expect_match])
def test_ddp_matches_single_process(name: str, ddp_results: list[dict[str, Any]]) -> None:
    ranks = [r[name] for r in ddp_results]
    single = _single_process(CASES[name])
    torch.testing.assert_close(
        torch.stack([r["loss"] for r in ranks]).mean(), single["loss"], atol=ATOL, rtol=1e-4
    )
    assert single["grads"], "the case must have trainable parameters"
    for r in ranks:
        assert r["grads"].keys() == single["grads"].keys()
        for n, g in single["grads"].items():
            torch.testing.assert_close(r["grads"][n], g, atol=ATOL, rtol=1e-4, msg=n)
        for n, b in single["buffers"].items():
            torch.testing.assert_close(r["buffers"][n], b, atol=ATOL, rtol=1e-4, msg=n)
    # The ranks must not have received trivially equal losses (each sees its own half).
    assert not torch.equal(ranks[0]["loss"], ranks[1]["loss"])


@pytest.mark.parametrize("name", [n for n, c in CASES.items() if not c.expect_match])
def test_sanity_wrong_implementations_are_caught(
    name: str, ddp_results: list[dict[str, Any]]
) -> None:
    assert not _matches([r[name] for r in ddp_results], _single_process(CASES[name]))
