"""Import DINOv2 from Hugging Face ``transformers`` (``Dinov2Model``) into an :class:`Encoder`.

For ``Dinov2Model`` checkpoints: ``microsoft/rad-dino`` (RAD-DINO, ViT-B/14 on chest X-rays,
518 px), ``facebook/dinov2-small``, ``-base`` and ``-large``. ``facebook/dinov2-giant`` uses a
SwiGLU MLP, and ``Dinov2WithRegistersModel`` register tokens; both are refused with the reason
(our trunk has neither). The mapping is exact:

- query/key/value projections are concatenated into timm's fused ``qkv`` (same head layout);
- LayerScale ``lambda1`` -> ``ls1/ls2.gamma``; LayerNorm eps is taken from the config (1e-6);
- ``position_embeddings[:, 0]`` is folded into the class token (our encoder adds positions to
  patch tokens only); the mask token is dropped (used only in masked pretraining).

``pooler_output`` (the normalised class token) is the embedding; ``last_hidden_state[:, 1:]``
are the output tokens. Positions are not interpolated: the encoder takes exactly the config's
``image_size`` (Hugging Face resamples the table for other sizes).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from foundations.hub.importers.common import Imported, build_imported, vit_architecture


def _attention(source: dict[str, Tensor], prefix: str) -> dict[str, Tensor]:
    """q/k/v/o of one layer under the names of transformers 5 or of earlier versions."""
    names = {
        "q": ("attention.q_proj", "attention.attention.query"),
        "k": ("attention.k_proj", "attention.attention.key"),
        "v": ("attention.v_proj", "attention.attention.value"),
        "o": ("attention.o_proj", "attention.output.dense"),
    }
    found = {}
    for short, options in names.items():
        for option in options:
            if f"{prefix}{option}.weight" in source:
                found[short] = f"{prefix}{option}"
                break
        else:
            raise ValueError(f"DINOv2: no {short} projection under {prefix}attention")
    qkv_w = torch.cat([source[f"{found[s]}.weight"] for s in "qkv"])
    qkv_b = torch.cat([source[f"{found[s]}.bias"] for s in "qkv"])
    return {
        "attn.qkv.weight": qkv_w,
        "attn.qkv.bias": qkv_b,
        "attn.proj.weight": source[f"{found['o']}.weight"],
        "attn.proj.bias": source[f"{found['o']}.bias"],
    }


def convert_dinov2(model: Any) -> tuple[dict[str, Any], dict[str, Tensor]]:
    """``(architecture, state_dict)`` of our encoder for a ``transformers`` ``Dinov2Model``.

    Raises:
        ValueError: On SwiGLU MLPs, register tokens, a non-GELU activation or no qkv bias.
    """
    config = model.config
    name = getattr(config, "_name_or_path", "") or "Dinov2Model"
    if getattr(config, "use_swiglu_ffn", False):
        raise ValueError(f"{name}: SwiGLU MLPs (dinov2-giant) are not in our trunk")
    if getattr(config, "num_register_tokens", 0):
        raise ValueError(f"{name}: register tokens are not supported")
    if config.hidden_act != "gelu" or not config.qkv_bias:
        raise ValueError(f"{name}: needs exact GELU and qkv bias, got {config.hidden_act}")
    image = config.image_size
    patch = config.patch_size
    image_size = [image, image] if isinstance(image, int) else list(image)
    patch_size = [patch, patch] if isinstance(patch, int) else list(patch)
    architecture = vit_architecture(
        in_channels=int(config.num_channels),
        input_size=image_size,
        patch_size=patch_size,
        embed_dim=int(config.hidden_size),
        depth=int(config.num_hidden_layers),
        num_heads=int(config.num_attention_heads),
        mlp_ratio=float(config.mlp_ratio),
        pool="cls",
        norm_eps=float(config.layer_norm_eps),
        layer_scale=True,
        modality="image",
    )
    source = {k.removeprefix("dinov2."): v.detach().clone() for k, v in model.state_dict().items()}
    pos = source["embeddings.position_embeddings"]
    state: dict[str, Tensor] = {
        "tokenizer.proj.weight": source["embeddings.patch_embeddings.projection.weight"],
        "tokenizer.proj.bias": source["embeddings.patch_embeddings.projection.bias"],
        "tokenizer.pos_embed": pos[:, 1:],
        "cls_token": source["embeddings.cls_token"] + pos[:, :1],
        "trunk.norm.weight": source["layernorm.weight"],
        "trunk.norm.bias": source["layernorm.bias"],
    }
    for i in range(config.num_hidden_layers):
        src, dst = f"encoder.layer.{i}.", f"trunk.blocks.{i}."
        for part in ("norm1", "norm2", "mlp.fc1", "mlp.fc2"):
            state[f"{dst}{part}.weight"] = source[f"{src}{part}.weight"]
            state[f"{dst}{part}.bias"] = source[f"{src}{part}.bias"]
        state[f"{dst}ls1.gamma"] = source[f"{src}layer_scale1.lambda1"]
        state[f"{dst}ls2.gamma"] = source[f"{src}layer_scale2.lambda1"]
        state.update({f"{dst}{k}": v for k, v in _attention(source, src).items()})
    return architecture, state


def from_dinov2(
    model: Any, name: str | None = None, normalisation: dict[str, Any] | None = None
) -> Imported:
    """Convert a ``transformers`` ``Dinov2Model`` into an :class:`Imported` encoder.

    Example (RAD-DINO)::

        model = transformers.AutoModel.from_pretrained("microsoft/rad-dino")
        imported = from_dinov2(model)
        imported.push("rad-dino", hub="/srv/hub", licence="MSRLA")

    Args:
        model: The source model (any weights; the caller downloads pretrained ones).
        name: Model name for the card (default: the config's ``_name_or_path``).
        normalisation: ``image_mean``/``image_std`` of the checkpoint's
            ``preprocessor_config.json`` as ``{"mean", "std"}``; default the ImageNet values
            of the ``facebook/dinov2-*`` processors. RAD-DINO's processor has its own values:
            pass them.
    """
    architecture, state = convert_dinov2(model)
    name = name or getattr(model.config, "_name_or_path", "") or "Dinov2Model"
    encoder = build_imported(architecture, state, name)
    tokenizer = architecture["init_args"]["tokenizer"]["init_args"]
    modality = {
        "name": "image",
        "tokenizer": architecture["init_args"]["tokenizer"]["class_path"],
        "channels": tokenizer["in_channels"],
        "input_size": tokenizer["input_size"],
        "patch_size": tokenizer["patch_size"],
    }
    normalisation = dict(
        normalisation
        or {
            "mean": [0.485, 0.456, 0.406],
            "std": [0.229, 0.224, 0.225],
            "scale": "pixel values in [0, 1], then (x - mean) / std per channel",
        }
    )
    parent = {"kind": "import", "format": "transformers.Dinov2Model", "model": name}
    return Imported(encoder, architecture, modality, normalisation, parent)
