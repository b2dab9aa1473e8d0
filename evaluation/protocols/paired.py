"""Cross-modal retrieval for multimodal checkpoints: does modality A find its own B?"""

from __future__ import annotations

from itertools import combinations
from typing import Any

import numpy as np
import torch

from evaluation.protocols.retrieval import cross_modal_recall_at_k
from foundations.methods import MultiModalAlignment
from foundations.methods.multimodal import PRESENT_KEY


@torch.no_grad()
def paired_embeddings(
    method: MultiModalAlignment, batches: Any
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Projected embeddings of every modality and presence flags, in dataloader order.

    Args:
        method: A trained alignment model (its shared-space projections are used).
        batches: Sample dicts (one split, fixed order).

    Returns:
        ``(embeddings by encoder name [N, D], present by encoder name [N] bool)``.
    """
    method.eval()
    embeddings: dict[str, list[np.ndarray]] = {}
    present: dict[str, list[np.ndarray]] = {}
    keys = method.modalities()
    for batch in batches:
        out = method.embed(batch)
        flags = batch.get(PRESENT_KEY, {})
        for name, value in out.items():
            embeddings.setdefault(name, []).append(value.float().cpu().numpy())
            key = keys[name]
            mask = flags[key] if key in flags else torch.ones(len(value), dtype=torch.bool)
            present.setdefault(name, []).append(torch.as_tensor(mask).bool().numpy())
    return (
        {name: np.concatenate(parts) for name, parts in embeddings.items()},
        {name: np.concatenate(parts) for name, parts in present.items()},
    )


def pairwise_retrieval(
    embeddings: dict[str, np.ndarray], present: dict[str, np.ndarray], ks: tuple[int, ...] = (1, 5)
) -> dict[str, dict[str, float]]:
    """Recall@k for every pair of modalities over the samples that have both.

    Returns:
        ``{"a__b": {"q2g_recall@1": ..., ..., "num_pairs": n}}``; a pair with fewer than two
        common samples is left out.
    """
    results = {}
    for a, b in combinations(sorted(embeddings), 2):
        both = present[a] & present[b]
        if both.sum() < 2:
            continue
        scores = cross_modal_recall_at_k(embeddings[a][both], embeddings[b][both], ks=ks)
        results[f"{a}__{b}"] = {**scores, "num_pairs": float(both.sum())}
    return results
