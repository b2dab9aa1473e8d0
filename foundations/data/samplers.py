"""A shuffling sampler whose order depends only on ``(seed, epoch)``."""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch.utils.data import Sampler


class EpochShuffleSampler(Sampler[int]):
    """Shuffle with a permutation drawn from ``(seed, epoch)``, never from the global RNG.

    ``RandomSampler`` draws its permutation from the global torch RNG when the iterator is
    created, which Lightning does at different moments in a fresh and a resumed run, so a
    resumed run would see a different data order. Lightning calls :meth:`set_epoch` at every
    epoch start (as for ``DistributedSampler``, and it wraps this sampler for DDP), which makes
    the order reproducible across kills and restarts.

    Args:
        num_samples: Dataset length.
        seed: Base seed of the permutations.
    """

    def __init__(self, num_samples: int, seed: int = 0) -> None:
        self.num_samples = num_samples
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self) -> Iterator[int]:
        generator = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)
        yield from torch.randperm(self.num_samples, generator=generator).tolist()

    def __len__(self) -> int:
        return self.num_samples
