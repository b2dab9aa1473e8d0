"""Import timm ``VisionTransformer`` checkpoints (``vit_*``, ``deit_*``) into an :class:`Encoder`.

For the timm ViTs with a class token, ``global_pool="token"``, no register tokens and plain
pre-norm blocks, e.g. ``vit_tiny/small/base/large_patch16_224.augreg_in21k_ft_in1k``,
``vit_base_patch16_224.mae``, ``vit_small_patch16_224.dino``, ``deit_small_patch16_224`` and
``vit_small_patch14_dinov2.lvd142m`` (LayerScale), as well as torchgeo's ViT weights (see
:mod:`foundations.hub.importers.torchgeo_ssl4eo`). Our trunk *is* timm's ``Block``, so blocks
map key for key; what differs is handled exactly:

- timm adds ``pos_embed[:, 0]`` to the class token; our encoder adds positions to patch tokens
  only, so the class token is stored as ``cls_token + pos_embed[:, 0]`` (same sum, same
  output). With ``no_embed_class`` the class token is taken as is.
- timm's LayerNorm eps is 1e-6: the encoder is built with ``norm_eps`` from the model.
- a ViT without qkv bias gets a zero bias.

Refused with the reason: average/max pooling with ``fc_norm`` (timm normalises the pooled
vector, our trunk normalises every token before pooling), register tokens, ``pre_norm``
(CLIP-style), QK-norm, non-GELU MLPs, and ``dynamic_img_size`` (our learned positions are
fixed-size). The classifier head is dropped: the embedding is the class token.
"""

from __future__ import annotations

from typing import Any

import torch
from timm.layers import LayerScale
from timm.models.vision_transformer import Block, VisionTransformer
from torch import Tensor, nn

from foundations.hub.importers.common import (
    Imported,
    build_imported,
    vit_architecture,
    zeros_like_bias,
)


def _require(condition: bool, model_name: str, reason: str) -> None:
    if not condition:
        raise ValueError(f"{model_name}: cannot import into a foundations Encoder: {reason}")


def convert_timm_vit(
    model: VisionTransformer, name: str = "timm ViT"
) -> tuple[dict[str, Any], dict[str, Tensor]]:
    """``(architecture, state_dict)`` of our encoder for a timm ViT.

    Raises:
        ValueError: Naming the model and the feature our encoder lacks.
    """
    _require(isinstance(model, VisionTransformer), name, "not a timm VisionTransformer")
    _require(model.cls_token is not None, name, "no class token")
    _require(model.global_pool == "token", name, f"global_pool={model.global_pool!r}, not 'token'")
    _require(model.reg_token is None, name, "register tokens are not supported")
    _require(isinstance(model.norm_pre, nn.Identity), name, "pre_norm is not supported")
    _require(isinstance(model.fc_norm, nn.Identity), name, "fc_norm is not supported")
    _require(not model.dynamic_img_size, name, "dynamic_img_size is not supported")
    _require(isinstance(model.norm, nn.LayerNorm), name, "final norm is not a LayerNorm")
    blocks = list(model.blocks)
    _require(all(type(b) is Block for b in blocks), name, "blocks are not plain timm Blocks")
    first: Any = blocks[0]
    _require(isinstance(first.attn.q_norm, nn.Identity), name, "QK-norm is not supported")
    _require(
        isinstance(first.mlp.act, nn.GELU) and first.mlp.act.approximate == "none",
        name,
        "the MLP activation is not exact GELU",
    )
    proj: Any = model.patch_embed.proj
    embed_dim = int(model.embed_dim)
    layer_scale = isinstance(first.ls1, LayerScale)
    architecture = vit_architecture(
        in_channels=int(proj.in_channels),
        input_size=list(model.patch_embed.img_size),
        patch_size=list(model.patch_embed.patch_size),
        embed_dim=embed_dim,
        depth=len(blocks),
        num_heads=int(first.attn.num_heads),
        mlp_ratio=first.mlp.fc1.out_features / embed_dim,
        pool="cls",
        norm_eps=float(model.norm.eps),  # type: ignore[arg-type]
        layer_scale=layer_scale,
        modality="image",
    )
    source = {k: v.detach().clone() for k, v in model.state_dict().items()}
    pos = source["pos_embed"]
    cls = source["cls_token"]
    state: dict[str, Tensor] = {
        "tokenizer.proj.weight": source["patch_embed.proj.weight"],
        "tokenizer.proj.bias": source["patch_embed.proj.bias"],
    }
    if model.no_embed_class:
        state["tokenizer.pos_embed"] = pos
        state["cls_token"] = cls
    else:
        state["tokenizer.pos_embed"] = pos[:, model.num_prefix_tokens :]
        state["cls_token"] = cls + pos[:, :1]
    for i in range(len(blocks)):
        prefix = f"blocks.{i}."
        for key, value in source.items():
            if key.startswith(prefix):
                state[f"trunk.{key}"] = value
        if f"{prefix}attn.qkv.bias" not in source:
            state[f"trunk.{prefix}attn.qkv.bias"] = zeros_like_bias(
                source[f"{prefix}attn.qkv.weight"]
            )
    state["trunk.norm.weight"] = source["norm.weight"]
    state["trunk.norm.bias"] = source["norm.bias"]
    return architecture, state


def from_timm_vit(model: VisionTransformer, name: str | None = None) -> Imported:
    """Convert a timm ViT (built or loaded by the caller) into an :class:`Imported` encoder.

    Example::

        model = timm.create_model("vit_small_patch16_224.augreg_in21k", pretrained=True)
        imported = from_timm_vit(model)
        imported.encoder(images)  # == model(images) with num_classes=0: the class token
        imported.push("vit-s16-in21k", hub="/srv/hub", licence="Apache-2.0")

    Args:
        model: The source model (any weights; the caller downloads pretrained ones).
        name: Model name for the card's parent (default: timm's ``default_cfg`` architecture).
    """
    cfg = getattr(model, "pretrained_cfg", None) or {}
    name = name or str(cfg.get("architecture", "timm ViT"))
    architecture, state = convert_timm_vit(model, name)
    encoder = build_imported(architecture, state, name)
    normalisation: dict[str, Any] = {
        key: list(cfg[key]) for key in ("mean", "std") if key in cfg and cfg[key] is not None
    }
    if normalisation:
        normalisation["scale"] = "pixel values in [0, 1], then (x - mean) / std per channel"
    tag = cfg.get("tag")
    parent: dict[str, Any] = {
        "kind": "import",
        "format": "timm",
        "model": name,
        "tag": tag,
        "hf_hub_id": cfg.get("hf_hub_id"),
    }
    modality = {
        "name": "image",
        "tokenizer": architecture["init_args"]["tokenizer"]["class_path"],
        "channels": int(model.patch_embed.proj.in_channels),
        "input_size": list(model.patch_embed.img_size),
        "patch_size": list(model.patch_embed.patch_size),
    }
    return Imported(encoder, architecture, modality, normalisation, parent)


@torch.no_grad()
def reference_embedding(model: VisionTransformer, images: Tensor) -> Tensor:
    """What the imported encoder reproduces: timm's class token after the final norm."""
    return model.forward_features(images)[:, 0]
