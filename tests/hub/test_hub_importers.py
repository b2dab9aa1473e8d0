"""Importers: public formats built locally with random weights give the same outputs as ours."""

from __future__ import annotations

from pathlib import Path

import pytest
import timm
import torch
from timm.models.vision_transformer import VisionTransformer

import foundations.hub as hub
from foundations.encoders import Encoder
from foundations.hub.importers import from_dinov2, from_monai_vit, from_timm_vit, from_torchgeo_vit


def _randomise(model: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """Random values everywhere (LayerNorm, LayerScale and tokens included), eval mode."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for param in model.parameters():
            param.copy_(torch.randn(param.shape, generator=generator) * 0.1)
    return model.eval()


def _close(a: torch.Tensor, b: torch.Tensor) -> None:
    torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)


@torch.no_grad()
def test_timm_vit_tiny_matches() -> None:
    model = _randomise(timm.create_model("vit_tiny_patch16_224", pretrained=False, num_classes=0))
    imported = from_timm_vit(model)
    images = torch.randn(2, 3, 224, 224)
    assert torch.equal(imported.encoder(images), model(images))  # same blocks: bitwise equal
    tokens = imported.encoder.encode_tokens(imported.encoder.tokenize(images)).tokens
    _close(tokens, model.forward_features(images)[:, 1:])
    assert imported.normalisation["mean"] == [0.5, 0.5, 0.5]
    assert imported.parent["model"] == "vit_tiny_patch16_224"


@torch.no_grad()
def test_timm_vit_layer_scale_no_embed_class_no_qkv_bias() -> None:
    model = _randomise(
        VisionTransformer(
            img_size=32,
            patch_size=8,
            embed_dim=48,
            depth=2,
            num_heads=4,
            num_classes=0,
            init_values=1e-5,
            no_embed_class=True,
            qkv_bias=False,
        )
    )
    imported = from_timm_vit(model, name="custom")
    assert imported.architecture["init_args"]["init_values"] == 1.0
    images = torch.randn(2, 3, 32, 32)
    _close(imported.encoder(images), model(images))


def test_timm_features_our_encoder_lacks_are_refused() -> None:
    avg = VisionTransformer(
        img_size=32, patch_size=8, embed_dim=48, depth=1, num_heads=4, global_pool="avg"
    )
    with pytest.raises(ValueError, match="global_pool='avg'"):
        from_timm_vit(avg, name="avg-vit")
    registers = VisionTransformer(
        img_size=32, patch_size=8, embed_dim=48, depth=1, num_heads=4, reg_tokens=4
    )
    with pytest.raises(ValueError, match="register tokens"):
        from_timm_vit(registers, name="reg-vit")


@torch.no_grad()
def test_dinov2_rad_dino_format_matches() -> None:
    from transformers import Dinov2Config, Dinov2Model

    config = Dinov2Config(
        hidden_size=48,
        num_hidden_layers=2,
        num_attention_heads=4,
        image_size=32,
        patch_size=8,
        layerscale_value=0.5,
    )
    model = _randomise(Dinov2Model(config))
    imported = from_dinov2(model, name="tiny-dinov2")
    images = torch.randn(2, 3, 32, 32)
    out = model(pixel_values=images)
    _close(imported.encoder(images), out.pooler_output)
    tokens = imported.encoder.encode_tokens(imported.encoder.tokenize(images)).tokens
    _close(tokens, out.last_hidden_state[:, 1:])
    with pytest.raises(ValueError, match="SwiGLU"):
        from_dinov2(
            Dinov2Model(
                Dinov2Config(
                    hidden_size=48,
                    num_hidden_layers=1,
                    num_attention_heads=4,
                    image_size=32,
                    patch_size=8,
                    use_swiglu_ffn=True,
                )
            )
        )


@torch.no_grad()
def test_torchgeo_ssl4eo_vit_matches_and_describes_its_bands() -> None:
    from torchgeo.models import vit_small_patch16_224

    model = _randomise(vit_small_patch16_224(weights=None, in_chans=13, num_classes=0, img_size=64))
    imported = from_torchgeo_vit(model)
    images = torch.rand(2, 13, 64, 64) * 3000
    _close(imported.encoder(images / 10000), model(images / 10000))
    assert imported.modality["bands"][8] == "B8A" and len(imported.modality["bands"]) == 13
    assert imported.modality["wavelengths_um"][3] == pytest.approx(0.665)
    assert imported.normalisation["std"] == [10000.0]
    with pytest.raises(ValueError, match="pass `weights=`"):
        from_torchgeo_vit(vit_small_patch16_224(weights=None, in_chans=4, img_size=32))


@torch.no_grad()
@pytest.mark.parametrize("classification", [False, True])
def test_monai_vit_matches(classification: bool) -> None:
    from monai.networks.nets import ViT

    model = _randomise(
        ViT(
            in_channels=1,
            img_size=(16, 16, 16),
            patch_size=(8, 8, 8),
            hidden_size=48,
            mlp_dim=96,
            num_layers=2,
            num_heads=4,
            classification=classification,
            num_classes=2,
        )
    )
    imported = from_monai_vit(model)
    volumes = torch.randn(2, 1, 16, 16, 16)
    expected, _ = model(volumes) if not classification else (None, None)
    encoder = imported.encoder
    out = encoder.encode_tokens(encoder.tokenize({"values": volumes, "spacing": torch.ones(3)}))
    if classification:
        # MONAI's ViT returns the head's output; the embedding is the normalised class token.
        x = model.patch_embedding(volumes)
        x = torch.cat([model.cls_token.expand(2, -1, -1), x], dim=1)
        for block in model.blocks:
            x = block(x)
        _close(out.pooled, model.norm(x)[:, 0])
    else:
        _close(out.tokens, expected)
        _close(out.pooled, expected.mean(dim=1))
    assert imported.architecture["init_args"]["modality"] == "volume"


def test_imported_encoder_round_trips_through_a_hub(tmp_path: Path) -> None:
    model = _randomise(
        VisionTransformer(
            img_size=32, patch_size=8, embed_dim=48, depth=1, num_heads=4, num_classes=0
        )
    )
    imported = from_timm_vit(model, name="tiny")
    card = imported.push("tiny-vit", hub=str(tmp_path / "hub"), licence="Apache-2.0")
    assert card.parent is not None and card.parent["format"] == "timm"
    loaded = hub.load("tiny-vit", hub=tmp_path / "hub", cache=tmp_path / "cache")
    assert isinstance(loaded, Encoder)
    images = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(loaded(images), imported.encoder(images))
