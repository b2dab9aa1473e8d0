"""Embed a dataset with any encoder, batched, without gradients."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import torch
from torch import nn


def _to_device(value: Any, device: torch.device) -> Any:
    if isinstance(value, torch.Tensor):
        return value.to(device, non_blocking=True)
    if isinstance(value, dict):
        return {key: _to_device(item, device) for key, item in value.items()}
    return value


@torch.no_grad()
def extract_embeddings(
    encoder: nn.Module,
    batches: Iterable[dict[str, Any]],
    modality: str | None = None,
    device: str | torch.device | None = None,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Pooled embeddings and labels of every sample in ``batches``.

    Args:
        encoder: Maps a modality value to ``[B, D]``; one with a ``modality`` attribute (an
            :class:`~foundations.encoders.Encoder`, a
            :class:`~evaluation.view_average.ViewAveragedEncoder`) reads that sample key.
            An encoder whose ``whole_sample`` attribute is true (such as
            :class:`~foundations.methods.joint_embedding.JointEmbedding`) gets the whole
            sample dict instead.
        batches: Sample dicts as a DataLoader yields them.
        modality: Sample key to embed; defaults to ``encoder.modality``, else ``"image"``.
        device: Where to run; defaults to CUDA when available.

    Returns:
        ``(embeddings [N, D] float32, labels [N] or None)``.

    Raises:
        KeyError: When a batch lacks the modality.
        FloatingPointError: When the encoder produced NaN or infinite values.
    """
    own = getattr(encoder, "modality", None)
    key = modality or (own if isinstance(own, str) else "image")
    whole_sample = bool(getattr(encoder, "whole_sample", False))
    target = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    was_training = encoder.training
    encoder.eval().to(target)
    features, labels = [], []
    try:
        for batch in batches:
            if not whole_sample and key not in batch:
                raise KeyError(f"batch has no {key!r} modality; keys are {sorted(batch)}")
            inputs = batch if whole_sample else batch[key]
            out = encoder(_to_device(inputs, target)).float().cpu()
            features.append(out)
            if "label" in batch:
                labels.append(torch.as_tensor(batch["label"]).cpu())
    finally:
        encoder.train(was_training)
    embeddings = torch.cat(features).numpy()
    if not np.isfinite(embeddings).all():
        raise FloatingPointError("the encoder produced NaN or infinite embeddings")
    return embeddings, (torch.cat(labels).numpy() if labels else None)
