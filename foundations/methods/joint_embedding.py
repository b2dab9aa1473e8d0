"""One embedding of a whole multimodal sample: every modality's embedding side by side."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor, nn

PRESENT_KEY = "present"
"""Sample key of the per-modality presence flags (``{modality: [B] bool}``)."""


class JointEmbedding(nn.Module):
    """Concatenated embeddings of every modality of a sample, for probes of a multimodal model.

    A probe of one modality's encoder asks whether alignment made that encoder better; this
    asks what the model knows about a sample from everything it has. For ``M`` encoders the
    output is ``[e_1 * p_1, ..., e_M * p_M, p_1, ..., p_M]``: each encoder's pooled (not
    projected) embedding, zeroed where the sample lacks that modality, followed by the ``M``
    presence flags, so that a linear probe can tell "missing" from "embedding near zero".

    Args:
        encoders: Encoders by name, each with a ``modality`` (the sample key it reads) and an
            ``out_dim``. They are shared, not copied.

    Attributes:
        whole_sample: ``True``: :func:`evaluation.embeddings.extract_embeddings` passes the
            whole sample dict rather than one modality.
        modality: The encoders' sample keys joined by ``+`` (for display).

    Raises:
        ValueError: When ``encoders`` is empty.
    """

    whole_sample = True

    def __init__(self, encoders: Mapping[str, nn.Module] | nn.ModuleDict) -> None:
        super().__init__()
        if not encoders:
            raise ValueError("JointEmbedding needs at least one encoder")
        self.encoders = nn.ModuleDict(dict(encoders))
        self.modality = "+".join(str(encoder.modality) for encoder in self.encoders.values())

    @property
    def out_dim(self) -> int:
        widths = (int(getattr(encoder, "out_dim", 0)) for encoder in self.encoders.values())
        return sum(widths) + len(self.encoders)

    def forward(self, sample: Mapping[str, Any]) -> Tensor:
        """Embed a batch of whole samples.

        Args:
            sample: A batch dict holding every encoder's modality, and optionally
                ``sample["present"][modality]`` (``[B]`` bool; absent means all present).

        Returns:
            ``[B, out_dim]``.

        Raises:
            KeyError: Naming a modality the batch lacks.
        """
        flags = sample.get(PRESENT_KEY, {})
        parts, presence = [], []
        for encoder in self.encoders.values():
            key = str(encoder.modality)
            if key not in sample:
                raise KeyError(f"batch has no {key!r} modality; keys are {sorted(sample)}")
            embedding = encoder(sample[key])
            present = flags.get(key)
            if present is None:
                present = torch.ones(embedding.shape[0], dtype=torch.bool, device=embedding.device)
            weight = present.to(embedding.device, embedding.dtype)[:, None]
            parts.append(embedding * weight)
            presence.append(weight)
        return torch.cat(parts + presence, dim=1)
