"""Random-number state of a training process: capture, restore, and one stream per rank.

Lightning checkpoints hold no random-number state, and ``seed_everything`` gives every rank the
same seed, so under DDP every rank would draw the same augmentations and masks (on different
samples). The methods therefore (a) reseed each rank from ``(seed, rank, step)`` when training
starts on several processes, after the model is built (the initial weights stay identical
everywhere), and (b) store every rank's state in the checkpoint so that a resumed run with the
same number of processes continues each stream exactly. States are tensors and plain Python
values, so checkpoints still load with ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import os
import random
from typing import Any

import numpy as np
import torch
import torch.distributed as dist

RNGStates = dict[str, Any]


def capture_rng_states() -> RNGStates:
    """The torch, CUDA, NumPy and Python random states of this process."""
    kind, keys, position, has_gauss, cached = np.random.get_state(legacy=True)
    keys = np.asarray(keys)
    return {
        "torch": torch.get_rng_state(),
        "numpy": (kind, torch.from_numpy(keys.astype(np.int64)), position, has_gauss, cached),
        "python": random.getstate(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
    }


def restore_rng_states(states: RNGStates) -> None:
    """Set this process's random states from :func:`capture_rng_states` output."""
    torch.set_rng_state(states["torch"])
    kind, keys, position, has_gauss, cached = states["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), position, has_gauss, cached))
    random.setstate(states["python"])
    if states["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["cuda"])


def gather_rng_states(states: RNGStates) -> list[RNGStates] | None:
    """Every rank's states, in rank order; ``None`` outside a multi-process group.

    A collective: under a process group, every rank must call it (Lightning builds checkpoints
    on all ranks, so ``on_save_checkpoint`` is such a place).
    """
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return None
    gathered: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(gathered, states)
    return gathered


def base_seed() -> int:
    """The run's seed: ``PL_GLOBAL_SEED`` (set by ``seed_everything``), else torch's."""
    seed = os.environ.get("PL_GLOBAL_SEED")
    return int(seed) if seed is not None else torch.initial_seed()


def rank_seed(seed: int, rank: int, step: int = 0) -> int:
    """A 32-bit seed for ``rank`` at optimiser step ``step``, well mixed by NumPy's
    ``SeedSequence`` (so neighbouring ranks get unrelated streams)."""
    sequence = np.random.SeedSequence([seed % 2**63, rank, step])
    return int(sequence.generate_state(1, dtype=np.uint32)[0])


def seed_this_rank(rank: int, step: int = 0) -> int:
    """Seed torch (and CUDA), NumPy and Python with :func:`rank_seed`; returns the seed."""
    seed = rank_seed(base_seed(), rank, step)
    torch.manual_seed(seed)
    np.random.seed(seed)
    random.seed(seed)
    return seed
