"""Embeddings averaged over random views of each input (test-time augmentation)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor, nn


def _cuda_devices(inputs: Any) -> list[torch.device]:
    values = inputs.values() if isinstance(inputs, Mapping) else [inputs]
    found = {v.device for v in values if isinstance(v, Tensor) and v.device.type == "cuda"}
    return sorted(found, key=str)


class ViewAveragedEncoder(nn.Module):
    """The mean of an encoder's embeddings of an input and of random views of it.

    A model pretrained on random views (for light curves: cadence subsampling, time shifts)
    embeds each view of an object a little differently. Averaging the embeddings of several
    views of the same input removes part of that noise, as multi-crop testing does for image
    classifiers. The views are drawn from the input itself, so no information is added.

    Every call draws its views from the same seeded random stream, inside
    ``torch.random.fork_rng``. So a batch always gets the same embedding, and the caller's
    random state is left untouched. An object's draws depend on its place in its batch;
    evaluation's loaders are unshuffled with a fixed batch size, so every run (and the
    embedding cache) sees the same embeddings.

    Args:
        encoder: Maps a modality value to ``[B, D]``; its ``modality`` attribute, if any, is
            kept, so that embedding extraction reads the same sample key.
        views: The view policy, such as the pretraining method's ``augment``; run in training
            mode while drawing.
        count: Random views per input, on top of the input itself.
        seed: Seed of the draws.

    Raises:
        ValueError: When ``count < 1``.
    """

    def __init__(self, encoder: nn.Module, views: nn.Module, count: int = 8, seed: int = 0) -> None:
        super().__init__()
        if count < 1:
            raise ValueError(f"count must be >= 1 random views, got {count}")
        self.encoder = encoder
        self.views = views
        self.count = count
        self.seed = seed
        modality = getattr(encoder, "modality", None)
        if isinstance(modality, str):
            self.modality = modality

    def forward(self, inputs: Any) -> Tensor:
        """``[B, D]``: the mean over the input and ``count`` views of it."""
        total = self.encoder(inputs)
        was_training = self.views.training
        with torch.random.fork_rng(devices=_cuda_devices(inputs)):
            torch.manual_seed(self.seed)
            self.views.train()
            try:
                for _ in range(self.count):
                    total = total + self.encoder(self.views(inputs))
            finally:
                self.views.train(was_training)
        return total / (self.count + 1)
