"""``foundations.hub.load``: a hub model as an encoder in eval mode, ready to embed."""

from __future__ import annotations

import os
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file
from torch import nn

from foundations.hub.architecture import build_module
from foundations.hub.card import WEIGHTS_FILE, Card
from foundations.hub.errors import HubError, UnsafeFileError
from foundations.hub.fetch import pull


def read_weights(path: Path) -> dict[str, torch.Tensor]:
    """Tensors of a safetensors file (never unpickled).

    Raises:
        UnsafeFileError: Naming the file when it is not safetensors (a pickle, say).
    """
    try:
        return load_file(str(path), device="cpu")
    except (SafetensorError, OSError, ValueError) as error:
        raise UnsafeFileError(
            f"{path}: not a safetensors file ({error}); hubs hold safetensors only"
        ) from error


def build_encoder(card: Card, weights: Path, device: str | torch.device = "cpu") -> nn.Module:
    """Rebuild the card's architecture, load ``weights`` strictly, and switch to eval mode.

    The card is attached as ``encoder.hub_card`` (its ``normalisation`` and ``modality`` say
    how to prepare inputs).

    Raises:
        HubError: Naming the file when the weights do not fit the architecture.
    """
    encoder = build_module(card.architecture, f"{card.name}@{card.version}/card.json")
    state = read_weights(weights)
    try:
        encoder.load_state_dict(state, strict=True)
    except RuntimeError as error:
        raise HubError(
            f"{weights}: weights do not fit {card.architecture['class_path']}: {error}"
        ) from error
    encoder.hub_card = card  # type: ignore[assignment]
    return encoder.to(device).eval()


def load(
    ref: str,
    hub: str | os.PathLike[str] | None = None,
    cache: str | os.PathLike[str] | None = None,
    device: str | torch.device = "cpu",
) -> nn.Module:
    """Pull ``NAME[@VERSION]`` (verified, cached) and return its encoder in eval mode.

    Example::

        encoder = foundations.hub.load("toy-simclr@1", hub="https://models.example.org/hub")
        card = encoder.hub_card            # modality, normalisation, training, evaluation
        embeddings = encoder(images)       # [B, D]

    Args:
        ref: ``"name"`` (latest) or ``"name@version"``.
        hub: Folder, URL or ``hf://owner/repo``; default ``$FOUNDATIONS_HUB``. When it is
            unreachable, the cached copy is used.
        cache: Cache root; default ``$FOUNDATIONS_CACHE`` or ``~/.cache/foundations``.
        device: Where to put the encoder.

    Returns:
        The encoder (usually :class:`~foundations.encoders.Encoder`), ``hub_card`` attached.
    """
    pulled = pull(ref, hub, cache)
    return build_encoder(pulled.card, pulled.folder / WEIGHTS_FILE, device)
