"""Import MONAI's ``monai.networks.nets.ViT`` (2D or 3D) into an :class:`Encoder`.

For MONAI ViT state dicts: the encoder of ``UNETR`` (``unetr.vit``; e.g. the BTCV
multi-organ segmentation weights of the MONAI UNETR tutorial), the encoder half of
``ViTAutoEnc`` (MONAI's self-supervised pretraining tutorial) and any ``ViT`` trained with
MONAI. Supported: ``proj_type="conv"`` patch embedding with learnable (or fixed sin-cos)
positions, fused ``qkv`` with or without bias (none becomes a zero bias), exact-GELU MLPs, with
or without a class token. The mapping is exact: MONAI's ``qkv`` rearrange
``"b h (qkv l d) -> qkv b l h d"`` is timm's layout, and MONAI adds no position to its class
token, as our encoder does.

Outputs: MONAI's ``ViT`` returns the normalised token sequence ``x``; without a class token
(``classification=False``, UNETR's setting) our encoder's ``tokens`` equal it and its pooled
embedding is their mean; with one, ``pooled`` equals ``x[:, 0]`` (the classification head is
dropped). Refused: ``proj_type="perceptron"``, relative position embeddings, causal or
cross-attention blocks.
"""

from __future__ import annotations

from typing import Any

from torch import Tensor, nn

from foundations.hub.importers.common import (
    Imported,
    build_imported,
    vit_architecture,
    zeros_like_bias,
)


def convert_monai_vit(
    model: Any, input_size: list[int] | None = None
) -> tuple[dict[str, Any], dict[str, Tensor]]:
    """``(architecture, state_dict)`` of our encoder for a MONAI ``ViT`` (or a ``UNETR``).

    Args:
        model: The source model.
        input_size: Spatial input size; needed only when the patch grid is not a cube.

    Raises:
        ValueError: Naming the unsupported feature.
    """
    from monai.networks.nets import ViT

    model = getattr(model, "vit", model)  # UNETR holds its encoder as .vit
    if not isinstance(model, ViT):
        raise ValueError(f"{type(model).__name__} is not a monai.networks.nets.ViT")
    embedding: Any = model.patch_embedding
    if embedding.proj_type != "conv":
        raise ValueError(f"MONAI ViT: proj_type={embedding.proj_type!r} is not supported")
    first: Any = model.blocks[0]
    attn = first.attn
    if not getattr(attn, "use_combined_linear", True) or attn.rel_positional_embedding is not None:
        raise ValueError("MONAI ViT: separate q/k/v or relative positions are not supported")
    if attn.causal or getattr(first, "with_cross_attention", False):
        raise ValueError("MONAI ViT: causal or cross-attention blocks are not supported")
    act = first.mlp.fn
    if not (isinstance(act, nn.GELU) and act.approximate == "none"):
        raise ValueError(f"MONAI ViT: MLP activation {act} is not exact GELU")
    conv: Any = embedding.patch_embeddings
    hidden = int(conv.out_channels)
    grid_input = [
        int(k) * int(g) for k, g in zip(conv.kernel_size, _grid(embedding, input_size), strict=True)
    ]
    classification = hasattr(model, "cls_token")
    architecture = vit_architecture(
        in_channels=int(conv.in_channels),
        input_size=grid_input,
        patch_size=[int(k) for k in conv.kernel_size],
        embed_dim=hidden,
        depth=len(model.blocks),
        num_heads=int(attn.num_heads),
        mlp_ratio=first.mlp.linear1.out_features / hidden,
        pool="cls" if classification else "mean",
        norm_eps=float(model.norm.eps),
        layer_scale=False,
        modality="volume" if len(conv.kernel_size) == 3 else "image",
    )
    source = {k: v.detach().clone() for k, v in model.state_dict().items()}
    state: dict[str, Tensor] = {
        "tokenizer.proj.weight": source["patch_embedding.patch_embeddings.weight"],
        "tokenizer.proj.bias": source["patch_embedding.patch_embeddings.bias"],
        "tokenizer.pos_embed": source["patch_embedding.position_embeddings"],
        "trunk.norm.weight": source["norm.weight"],
        "trunk.norm.bias": source["norm.bias"],
    }
    if classification:
        state["cls_token"] = source["cls_token"]
    for i in range(len(model.blocks)):
        src, dst = f"blocks.{i}.", f"trunk.blocks.{i}."
        pairs = {
            "norm1": "norm1",
            "norm2": "norm2",
            "mlp.linear1": "mlp.fc1",
            "mlp.linear2": "mlp.fc2",
            "attn.out_proj": "attn.proj",
        }
        for old, new in pairs.items():
            state[f"{dst}{new}.weight"] = source[f"{src}{old}.weight"]
            state[f"{dst}{new}.bias"] = source[f"{src}{old}.bias"]
        qkv = source[f"{src}attn.qkv.weight"]
        state[f"{dst}attn.qkv.weight"] = qkv
        state[f"{dst}attn.qkv.bias"] = source.get(f"{src}attn.qkv.bias", zeros_like_bias(qkv))
    return architecture, state


def _grid(embedding: Any, input_size: list[int] | None) -> list[int]:
    """Patches per axis: from ``input_size``, or for a cubic grid from the patch count alone.

    MONAI's ``PatchEmbeddingBlock`` stores only the number of patches.
    """
    kernel = [int(k) for k in embedding.patch_embeddings.kernel_size]
    if input_size is not None:
        return [int(s) // k for s, k in zip(input_size, kernel, strict=True)]
    count = int(embedding.n_patches)
    side = round(count ** (1 / len(kernel)))
    if side ** len(kernel) != count:
        raise ValueError(f"MONAI ViT: {count} patches is not a cubic grid; pass input_size")
    return [side] * len(kernel)


def from_monai_vit(
    model: nn.Module, input_size: list[int] | None = None, name: str = "monai ViT"
) -> Imported:
    """Convert a MONAI ``ViT`` (or a ``UNETR``'s) into an :class:`Imported` encoder.

    Example::

        unetr = monai.networks.nets.UNETR(1, 14, img_size=(96, 96, 96))
        unetr.load_state_dict(safetensors.torch.load_file("unetr_btcv.safetensors"))
        imported = from_monai_vit(unetr, input_size=[96, 96, 96])

    Args:
        model: The source model.
        input_size: Spatial input size; needed only when the patch grid is not a cube.
        name: Name for the card's parent.
    """
    architecture, state = convert_monai_vit(model, input_size)
    encoder = build_imported(architecture, state, name)
    tokenizer = architecture["init_args"]["tokenizer"]["init_args"]
    modality = {
        "name": architecture["init_args"]["modality"],
        "tokenizer": architecture["init_args"]["tokenizer"]["class_path"],
        "channels": tokenizer["in_channels"],
        "input_size": tokenizer["input_size"],
        "patch_size": tokenizer["patch_size"],
        "spacing_mm": None,
    }
    parent = {"kind": "import", "format": "monai.networks.nets.ViT", "model": name}
    return Imported(encoder, architecture, modality, {}, parent)
