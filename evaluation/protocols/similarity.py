"""Cosine similarity search, batched so large index x query products never exist at once."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch
import torch.nn.functional as F

#: Elements of one ``[batch, N]`` similarity block (2**25 float32 = 128 MiB).
BLOCK_ELEMENTS = 2**25


def resolve_device(device: str | torch.device | None) -> torch.device:
    """``device``, or CUDA when available."""
    return torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))


def normalised(x: np.ndarray | torch.Tensor, device: torch.device) -> torch.Tensor:
    """Rows of ``x`` as float32 unit vectors on ``device`` (zero rows stay zero).

    Raises:
        ValueError: When ``x`` is not ``[N, D]``.
    """
    tensor = torch.as_tensor(np.asarray(x) if not isinstance(x, torch.Tensor) else x)
    if tensor.ndim != 2:
        raise ValueError(f"embeddings must be [N, D], got shape {list(tensor.shape)}")
    return F.normalize(tensor.to(device=device, dtype=torch.float32), dim=1)


def similarity_blocks(
    queries: torch.Tensor, index: torch.Tensor, batch_size: int | None = None
) -> Iterator[tuple[int, torch.Tensor]]:
    """Yield ``(first_row, queries[rows] @ index.T)`` one block of query rows at a time.

    Args:
        queries: ``[M, D]`` unit rows.
        index: ``[N, D]`` unit rows, same device.
        batch_size: Query rows per block; by default as many as fit :data:`BLOCK_ELEMENTS`.
    """
    rows = batch_size or max(1, BLOCK_ELEMENTS // max(1, index.shape[0]))
    for start in range(0, queries.shape[0], rows):
        yield start, queries[start : start + rows] @ index.T


@torch.no_grad()
def similarity_search(
    index: np.ndarray,
    queries: np.ndarray,
    k: int,
    batch_size: int | None = None,
    device: str | torch.device | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` most cosine-similar index rows of every query, most similar first.

    Args:
        index: ``[N, D]`` embeddings searched.
        queries: ``[M, D]`` embeddings to look up. When ``queries`` is ``index``, each query
            finds itself (see ``exclude_self`` in :func:`precision_at_k`).
        k: Neighbours per query, ``1 <= k <= N``.
        batch_size: Query rows per ``[batch, N]`` block; by default a 128 MiB block.
        device: Where to compute; defaults to CUDA when available.

    Returns:
        ``(indices [M, k] int64, scores [M, k] float32)``.

    Raises:
        ValueError: When ``k`` is out of range or the embedding widths differ.
    """
    target = resolve_device(device)
    bank, query = normalised(index, target), normalised(queries, target)
    if bank.shape[1] != query.shape[1]:
        raise ValueError(f"index has width {bank.shape[1]}, queries {query.shape[1]}")
    if not 1 <= k <= bank.shape[0]:
        raise ValueError(f"k={k} must lie in [1, {bank.shape[0]}] (the index size)")
    indices = torch.empty(query.shape[0], k, dtype=torch.int64)
    scores = torch.empty(query.shape[0], k, dtype=torch.float32)
    for start, sims in similarity_blocks(query, bank, batch_size):
        top = sims.topk(k, dim=1)
        indices[start : start + sims.shape[0]] = top.indices.cpu()
        scores[start : start + sims.shape[0]] = top.values.cpu()
    return indices.numpy(), scores.numpy()


def precision_at_k(
    index_labels: np.ndarray,
    query_labels: np.ndarray,
    neighbours: np.ndarray,
    exclude_self: bool = False,
) -> float:
    """Mean fraction of each query's neighbours that share its label.

    With ``exclude_self`` (the index is the query set), query ``i``'s own row ``i`` is dropped
    from its neighbours wherever it appears; rows where it does not appear (exact duplicates
    can outrank it) drop their last neighbour instead, so every row keeps ``k - 1``. Search
    with ``k + 1`` to get precision at ``k``.

    Args:
        index_labels: ``[N]`` labels of the index rows.
        query_labels: ``[M]`` labels of the queries.
        neighbours: ``[M, k]`` index rows, as :func:`similarity_search` returns them.
        exclude_self: Whether query ``i`` is index row ``i`` and must not count.

    Returns:
        Precision at ``k`` (``k - 1`` with ``exclude_self``) averaged over queries.

    Raises:
        ValueError: On shapes that do not fit, or ``exclude_self`` with ``k < 2`` or with
            queries that cannot be the index.
    """
    index_labels, query_labels = np.asarray(index_labels), np.asarray(query_labels)
    neighbours = np.asarray(neighbours)
    if neighbours.ndim != 2 or neighbours.shape[0] != query_labels.shape[0]:
        raise ValueError(
            f"neighbours {list(neighbours.shape)} do not fit {query_labels.shape[0]} queries"
        )
    if exclude_self:
        if neighbours.shape[1] < 2:
            raise ValueError("exclude_self needs k >= 2 neighbours (search with k + 1)")
        if index_labels.shape[0] != query_labels.shape[0]:
            raise ValueError("exclude_self needs the queries to be the index (same length)")
        own = neighbours == np.arange(neighbours.shape[0])[:, None]
        drop = np.where(own.any(axis=1), own.argmax(axis=1), neighbours.shape[1] - 1)
        keep = np.ones_like(own)
        keep[np.arange(neighbours.shape[0]), drop] = False
        neighbours = neighbours[keep].reshape(neighbours.shape[0], -1)
    hits = index_labels[neighbours] == query_labels[:, None]
    return float(hits.mean())
