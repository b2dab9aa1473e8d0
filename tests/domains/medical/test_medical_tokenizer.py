"""Medical tokenizers: anisotropic 3D patches, positions in millimetres, slice adapter."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from domains.medical.augment import VolumeViews
from domains.medical.tokenizer import (
    PatchTokenizer3d,
    RadiographTokenizer,
    SliceAdapter,
    physical_sincos_embedding,
)
from foundations.encoders import Encoder
from foundations.encoders.patch2d import PatchTokenizer2d
from foundations.methods import MAE, SimCLR

SIZE = (16, 16, 8)
PATCH = (4, 4, 2)


def volumes(batch: int = 2, size: tuple[int, int, int] = SIZE, seed: int = 0) -> dict[str, Any]:
    generator = torch.Generator().manual_seed(seed)
    return {
        "values": torch.randn(batch, 1, *size, generator=generator),
        "spacing": torch.tensor([0.8, 0.8, 2.5]).expand(batch, 3),
    }


def tiny_volume_encoder(embed_dim: int = 48) -> Encoder:
    tokenizer = PatchTokenizer3d(volume_size=SIZE, patch_size=PATCH, embed_dim=embed_dim)
    return Encoder(tokenizer, modality="volume", depth=1, num_heads=4, pool="mean")


def tiny_slice_adapter(pool: str = "attention", stride: int = 1) -> SliceAdapter:
    tokenizer = RadiographTokenizer(image_size=16, patch_size=4, embed_dim=32)
    encoder = Encoder(tokenizer, modality="image", depth=1, num_heads=4, pool="mean")
    return SliceAdapter(encoder, slice_stride=stride, pool=pool)  # type: ignore[arg-type]


def test_patch_tokenizer_3d_shapes_and_attributes() -> None:
    tokenizer = PatchTokenizer3d(volume_size=SIZE, patch_size=PATCH, embed_dim=48)
    assert tokenizer.num_patches == 4 * 4 * 4
    assert tokenizer.target_dim == 4 * 4 * 2
    out = tokenizer(volumes(batch=3))
    assert out.tokens.shape == (3, 64, 48)
    assert out.pos is not None and out.pos.shape == (3, 64, 48)
    assert out.target is not None and out.target.shape == (3, 64, 32)
    assert out.padding_mask is None and out.target_mask is None


def test_target_and_tokens_follow_a_manual_walk_over_anisotropic_patches() -> None:
    tokenizer = PatchTokenizer3d(in_channels=2, volume_size=SIZE, patch_size=PATCH, embed_dim=12)
    batch = {"values": torch.randn(2, 2, *SIZE), "spacing": torch.tensor([1.0, 1.0, 3.0])}
    out = tokenizer(batch)
    conv = tokenizer.patch_embed.proj
    px, py, pz = PATCH
    n = 0
    for i in range(SIZE[0] // px):
        for j in range(SIZE[1] // py):
            for k in range(SIZE[2] // pz):
                patch = batch["values"][
                    :, :, i * px : (i + 1) * px, j * py : (j + 1) * py, k * pz : (k + 1) * pz
                ]
                expected_target = patch.permute(0, 2, 3, 4, 1).reshape(2, -1)
                torch.testing.assert_close(out.target[:, n], expected_target)
                expected_token = torch.einsum("bcxyz,dcxyz->bd", patch, conv.weight) + conv.bias
                torch.testing.assert_close(out.tokens[:, n], expected_token)
                n += 1
    assert n == out.num_tokens


def test_positions_depend_on_millimetres_not_voxels() -> None:
    fine = PatchTokenizer3d(volume_size=(16, 16, 16), patch_size=(4, 4, 4), embed_dim=48)
    coarse = PatchTokenizer3d(volume_size=(8, 8, 8), patch_size=(2, 2, 2), embed_dim=48)
    # 16 voxels of 1 mm and 8 voxels of 2 mm cover the same 16 mm: same patch centres.
    a = fine({"values": torch.zeros(1, 1, 16, 16, 16), "spacing": torch.ones(1, 3)})
    b = coarse({"values": torch.zeros(1, 1, 8, 8, 8), "spacing": torch.full((1, 3), 2.0)})
    torch.testing.assert_close(a.pos, b.pos)
    # The same voxel grid at another spacing sits elsewhere, sample by sample.
    batch = {"values": torch.zeros(2, 1, 8, 8, 8), "spacing": torch.tensor([[2.0] * 3, [3.0] * 3])}
    c = coarse(batch)
    assert c.pos is not None
    torch.testing.assert_close(c.pos[:1], b.pos)
    assert not torch.allclose(c.pos[0], c.pos[1], atol=1e-3)


def test_physical_embedding_is_bounded_and_padded() -> None:
    coords = torch.tensor([[0.0, 0.0, 0.0], [120.0, -45.5, 300.0]])
    embedded = physical_sincos_embedding(coords, 64)  # 10 frequencies per axis, 4 zero
    assert embedded.shape == (2, 64)
    assert (embedded[:, 60:] == 0).all() and embedded.abs().max() <= 1
    assert not torch.allclose(embedded[0], embedded[1])
    with pytest.raises(ValueError, match="embed_dim"):
        physical_sincos_embedding(coords, 4)


def test_patch_tokenizer_3d_rejects_bad_configs_and_inputs() -> None:
    with pytest.raises(ValueError, match="divide"):
        PatchTokenizer3d(volume_size=(16, 16, 9), patch_size=(4, 4, 2))
    tokenizer = PatchTokenizer3d(volume_size=SIZE, patch_size=PATCH, embed_dim=48)
    with pytest.raises(ValueError, match=r"\[B, 1, X, Y, Z\].*got values \(2, 1, 16, 16, 7\)"):
        tokenizer({"values": torch.zeros(2, 1, 16, 16, 7), "spacing": torch.ones(2, 3)})
    with pytest.raises(ValueError, match="got values"):
        tokenizer({"values": torch.zeros(2, 3, *SIZE), "spacing": torch.ones(2, 3)})
    with pytest.raises(ValueError, match="no 'spacing'"):
        tokenizer({"values": torch.zeros(2, 1, *SIZE)})
    with pytest.raises(ValueError, match="got spacing"):
        tokenizer({"values": torch.zeros(2, 1, *SIZE), "spacing": torch.ones(2, 2)})
    with pytest.raises(ValueError, match="positive"):
        tokenizer({"values": torch.zeros(2, 1, *SIZE), "spacing": torch.zeros(2, 3)})
    with pytest.raises(ValueError, match="expects"):
        tokenizer(torch.zeros(2, 1, *SIZE))


def test_patch_tokenizer_3d_accepts_smaller_crops() -> None:
    tokenizer = PatchTokenizer3d(volume_size=SIZE, patch_size=PATCH, embed_dim=48)
    out = tokenizer(volumes(size=(8, 8, 4)))
    assert out.tokens.shape == (2, 8, 48)


def test_radiograph_tokenizer_matches_patch_tokenizer_2d_content() -> None:
    torch.manual_seed(0)
    physical = RadiographTokenizer(image_size=16, patch_size=4, embed_dim=32)
    grid = RadiographTokenizer(image_size=16, patch_size=4, embed_dim=32, physical_positions=False)
    reference = PatchTokenizer2d(in_channels=1, image_size=16, patch_size=4, embed_dim=32)
    reference.load_state_dict(physical.state_dict())
    images = torch.randn(2, 1, 16, 16)
    expected = reference(images)
    out = physical({"values": images, "spacing": torch.tensor([[0.2, 0.2], [0.1, 0.3]])})
    torch.testing.assert_close(out.tokens, expected.tokens)
    torch.testing.assert_close(out.target, expected.target)
    assert out.pos is not None and out.pos.shape == (2, 16, 32)
    assert not torch.allclose(out.pos[0], out.pos[1])
    table = grid({"values": images})
    torch.testing.assert_close(table.pos, expected.pos)
    non_square = physical({"values": torch.randn(2, 1, 8, 12), "spacing": torch.ones(2)})
    assert non_square.tokens.shape == (2, 6, 32)
    with pytest.raises(ValueError, match="no 'spacing'"):
        physical({"values": images})
    with pytest.raises(ValueError, match="multiples of patch_size"):
        physical({"values": torch.randn(2, 1, 10, 16), "spacing": torch.ones(2)})


def test_volume_encoder_forward_and_mae_loss_decreases() -> None:
    torch.manual_seed(0)
    encoder = tiny_volume_encoder()
    assert encoder(volumes())[0].shape == (48,)
    model = MAE(encoder, mask_ratio=0.75, decoder_dim=32, decoder_depth=1, norm_target=False)
    model.log = lambda *args, **kwargs: None  # type: ignore[method-assign]
    batch = {"volume": volumes(batch=4)}

    def loss_at_fixed_mask() -> float:
        torch.manual_seed(123)
        with torch.no_grad():
            return float(model.shared_step(batch, "val"))

    before = loss_at_fixed_mask()
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    for _ in range(12):
        loss = model.shared_step(batch, "train")
        assert torch.isfinite(loss)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    after = loss_at_fixed_mask()
    assert after < 0.9 * before, f"MAE loss went from {before:.4f} to {after:.4f}"


def test_simclr_step_on_volumes_with_volume_views() -> None:
    torch.manual_seed(0)
    views = VolumeViews(size=SIZE, scale=(0.6, 1.0))
    model = SimCLR(tiny_volume_encoder(), views, hidden_dim=32, projection_dim=16)
    model.log = lambda *args, **kwargs: None  # type: ignore[method-assign]
    loss = model.shared_step({"volume": volumes(batch=4)}, "train")
    assert torch.isfinite(loss)
    loss.backward()
    grads = [p.grad for p in model.encoder.parameters() if p.grad is not None]
    assert grads and all(torch.isfinite(g).all() for g in grads)


@pytest.mark.parametrize("pool", ["attention", "mean"])
def test_slice_adapter_shape_and_gradients(pool: str) -> None:
    torch.manual_seed(0)
    adapter = tiny_slice_adapter(pool=pool, stride=2)
    assert adapter.modality == "volume" and adapter.out_dim == 32
    batch = volumes(batch=3)
    seen: list[tuple[int, ...]] = []
    adapter.slice_encoder.register_forward_pre_hook(
        lambda module, args: seen.append(tuple(args[0]["values"].shape))
    )
    out = adapter(batch)
    assert out.shape == (3, 32)
    assert seen == [(3 * 4, 1, 16, 16)]  # 8 slices at stride 2, shown as [Y, X]
    out.square().sum().backward()
    for name, param in adapter.named_parameters():
        assert param.grad is not None, f"no gradient reached {name}"


def test_slice_adapter_orientation_chunks_and_methods() -> None:
    torch.manual_seed(0)
    adapter = tiny_slice_adapter()
    values = torch.zeros(1, 1, 16, 8, 4)
    values[0, 0, 0, 0, :] = 1.0  # the patient's left (RAS+ X = 0), posterior corner
    slices, spacing = adapter.slices({"values": values, "spacing": torch.tensor([0.5, 0.7, 2.0])})
    assert slices.shape == (1, 4, 1, 8, 16)
    assert (slices[0, :, 0, -1, -1] == 1).all()  # bottom-right in radiological display
    torch.testing.assert_close(spacing[0, 0], torch.tensor([0.7, 0.5]))
    batch = volumes(batch=2)
    chunked = SliceAdapter(adapter.slice_encoder, slices_per_pass=3)
    chunked.load_state_dict(adapter.state_dict())
    torch.testing.assert_close(chunked(batch), adapter(batch))
    model = SimCLR(adapter, hidden_dim=32, projection_dim=16)  # type: ignore[arg-type]
    model.log = lambda *args, **kwargs: None  # type: ignore[method-assign]
    assert torch.isfinite(model.shared_step({"volume": batch}, "train"))
    assert model.predict_step({"volume": batch}, 0)["embedding"].shape == (2, 32)
