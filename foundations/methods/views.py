"""Applying a domain's view policy (augmentation) to one modality of a batch."""

from __future__ import annotations

from typing import Any

from torch import nn


def make_view(augment: nn.Module | None, inputs: Any) -> Any:
    """One random view of ``inputs``; the identity when the method has no augmentation."""
    return inputs if augment is None else augment(inputs)


def batch_size_of(inputs: Any) -> int:
    """Number of samples in a modality value (a tensor, a dict of tensors, or a list such as
    reports)."""
    if isinstance(inputs, dict):
        return batch_size_of(next(iter(inputs.values())))
    if isinstance(inputs, list | tuple):
        return len(inputs)
    return int(inputs.shape[0])
