"""Cross-modal retrieval: paired embeddings of two modalities find each other."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from evaluation.protocols.similarity import normalised, resolve_device, similarity_blocks


def _ranks(query: torch.Tensor, gallery: torch.Tensor, batch_size: int | None) -> np.ndarray:
    """1-based rank of gallery row ``i`` among query ``i``'s cosine similarities.

    Ties count against the match (rank = how many gallery rows score at least as high), so a
    collapsed encoder whose embeddings are all equal ranks every match last, not first.
    """
    ranks = torch.empty(query.shape[0], dtype=torch.int64)
    for start, sims in similarity_blocks(query, gallery, batch_size):
        rows = torch.arange(sims.shape[0], device=sims.device)
        positive = sims[rows, rows + start]
        ranks[start : start + sims.shape[0]] = (sims >= positive[:, None]).sum(dim=1).cpu()
    return ranks.numpy()


@torch.no_grad()
def cross_modal_recall_at_k(
    query: np.ndarray,
    gallery: np.ndarray,
    ks: Sequence[int] = (1, 5, 10),
    batch_size: int | None = None,
    device: str | torch.device | None = None,
) -> dict[str, float]:
    """Recall@k and median rank in both directions; query ``i``'s match is gallery ``i``.

    Similarity is cosine. A match's rank is the number of candidates scoring at least as high
    as it (itself included), so ties count against the match and collapsed embeddings score
    recall 0, not 1. Similarities are computed one block of rows at a time.

    Args:
        query: ``[N, D]`` embeddings of one modality (e.g. images).
        gallery: ``[N, D]`` embeddings of the paired modality (e.g. spectra), row-aligned.
        ks: Cut-offs of recall.
        batch_size: Rows per similarity block; by default a 128 MiB block.
        device: Where to compute; defaults to CUDA when available.

    Returns:
        ``q2g_recall@k`` and ``g2q_recall@k`` for each ``k``, ``q2g_median_rank`` and
        ``g2q_median_rank`` (1 is perfect, about ``N / 2`` is chance).

    Raises:
        ValueError: When the two sets are not row-aligned ``[N, D]`` arrays or a ``k < 1``.
    """
    target = resolve_device(device)
    q, g = normalised(query, target), normalised(gallery, target)
    if q.shape != g.shape:
        raise ValueError(f"query {list(q.shape)} and gallery {list(g.shape)} must be aligned")
    if any(k < 1 for k in ks):
        raise ValueError(f"recall cut-offs must be positive, got {tuple(ks)}")
    result: dict[str, float] = {}
    for name, ranks in (("q2g", _ranks(q, g, batch_size)), ("g2q", _ranks(g, q, batch_size))):
        for k in ks:
            result[f"{name}_recall@{k}"] = float(np.mean(ranks <= k))
        result[f"{name}_median_rank"] = float(np.median(ranks))
    return result
