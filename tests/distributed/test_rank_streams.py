"""Per-rank data shards, random streams and optimiser groups, without starting processes."""

from __future__ import annotations

import pytest
import torch
from lightning.fabric.utilities.distributed import DistributedSamplerWrapper
from torch import nn

from foundations.data import EpochShuffleSampler
from foundations.methods.base import parameter_groups, unwrapped_name
from foundations.methods.rng import rank_seed


def shard(rank: int, epoch: int, num_samples: int = 11) -> list[int]:
    """What rank ``rank`` of 2 draws, as Lightning wraps our sampler under DDP."""
    sampler = DistributedSamplerWrapper(
        EpochShuffleSampler(num_samples, seed=3), num_replicas=2, rank=rank, shuffle=False
    )
    sampler.set_epoch(epoch)
    return list(sampler)


def test_ranks_draw_disjoint_shards_that_cover_the_data_and_change_per_epoch() -> None:
    first, second = shard(0, 0), shard(1, 0)
    assert set(first) | set(second) == set(range(11))
    assert len(first) == len(second) == 6  # one index repeated to even out the ranks
    assert len(set(first) & set(second)) <= 1
    assert shard(0, 1) != first  # set_epoch reaches our sampler through the wrapper
    assert shard(0, 1) == shard(0, 1)


def test_rank_seeds_differ_between_ranks_and_steps_but_are_reproducible() -> None:
    seeds = {rank_seed(0, rank, step) for rank in range(8) for step in (0, 100)}
    assert len(seeds) == 16
    assert rank_seed(5, 1, 7) == rank_seed(5, 1, 7)
    assert all(0 <= seed < 2**32 for seed in seeds)


def test_flattened_fsdp_shards_keep_their_weight_decay() -> None:
    """FSDP hands the optimiser 1-D shards; recorded shapes keep matrices decayed."""
    wrapped = nn.Module()
    wrapped._fsdp_wrapped_module = nn.Linear(4, 4)  # type: ignore[assignment]
    ndims = {"weight": 2, "bias": 1}
    inner = wrapped._fsdp_wrapped_module
    inner.weight = nn.Parameter(torch.zeros(16))  # what a flattened shard looks like
    assert unwrapped_name("_fsdp_wrapped_module.weight") == "weight"
    decay, no_decay = parameter_groups(wrapped, 0.05, ndims)
    assert [p.shape for p in decay["params"]] == [torch.Size([16])]
    assert [p.shape for p in no_decay["params"]] == [torch.Size([4])]
    decay, _ = parameter_groups(wrapped, 0.05)  # without recorded shapes: no decay at all
    assert decay["params"] == []


@pytest.mark.parametrize("name", ["layer.weight", "_orig_mod.layer.weight"])
def test_unwrapped_name_strips_compile_prefix(name: str) -> None:
    assert unwrapped_name(name) == "layer.weight"
