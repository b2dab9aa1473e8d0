"""WavelengthPatchTokenizer: one set of weights for any band set, nodata-aware, MAE-ready."""

from __future__ import annotations

import pytest
import torch

from domains.remote_sensing.tokenizer import WavelengthPatchTokenizer
from foundations.encoders import Encoder
from foundations.methods import MAE

SENTINEL2 = [0.443, 0.49, 0.56, 0.665, 0.705, 0.74, 0.783, 0.842, 0.865, 0.945, 1.375, 1.61, 2.19]
LANDSAT = [0.48, 0.56, 0.655, 0.865, 1.61, 2.2]
HYPERSPECTRAL = torch.linspace(0.4, 2.5, 48).tolist()


def make_batch(wavelengths: list[float], batch: int = 2, size: int = 32) -> dict[str, torch.Tensor]:
    c = len(wavelengths)
    return {
        "values": torch.rand(batch, c, size, size),
        "valid": torch.ones(batch, c, size, size, dtype=torch.bool),
        "wavelengths": torch.tensor(wavelengths).expand(batch, c),
    }


@pytest.fixture
def tokenizer() -> WavelengthPatchTokenizer:
    torch.manual_seed(0)
    return WavelengthPatchTokenizer(image_size=32, patch_size=8, embed_dim=32)


@pytest.mark.parametrize("wavelengths", [SENTINEL2, LANDSAT, HYPERSPECTRAL])
def test_one_set_of_weights_embeds_any_band_count(tokenizer, wavelengths) -> None:
    encoder = Encoder(tokenizer, modality="image", depth=1, num_heads=4)
    batch = make_batch(wavelengths)
    out = tokenizer(batch)
    c = len(wavelengths)
    assert out.tokens.shape == (2, 16, 32)
    assert out.pos is not None and out.pos.shape[1:] == (16, 32)
    assert out.target is not None and out.target.shape == (2, 16, 64 * c)
    assert torch.isfinite(out.tokens).all()
    assert encoder(batch).shape == (2, 32)


def test_band_order_does_not_matter(tokenizer) -> None:
    batch = make_batch(SENTINEL2)
    perm = torch.randperm(len(SENTINEL2))
    permuted = {
        "values": batch["values"][:, perm],
        "valid": batch["valid"][:, perm],
        "wavelengths": batch["wavelengths"][:, perm],
    }
    torch.testing.assert_close(
        tokenizer(permuted).tokens, tokenizer(batch).tokens, atol=1e-5, rtol=0
    )


def test_fully_invalid_band_equals_dropping_it(tokenizer) -> None:
    batch = make_batch(LANDSAT)
    extra = make_batch([*LANDSAT, 10.9])  # a thermal band with no valid pixel
    extra["values"][:, :6] = batch["values"]
    extra["valid"][:, 6] = False
    with_band, without = tokenizer(extra), tokenizer(batch)
    torch.testing.assert_close(with_band.tokens, without.tokens, atol=1e-5, rtol=0)
    assert torch.equal(with_band.padding_mask, without.padding_mask)


def test_partially_invalid_pixels_are_zeroed_before_projection(tokenizer) -> None:
    batch = make_batch(LANDSAT)
    batch["valid"][:, 2, :5, :7] = False
    noisy = {**batch, "values": batch["values"].clone()}
    noisy["values"][:, 2, :5, :7] = float("nan")
    torch.testing.assert_close(tokenizer(noisy).tokens, tokenizer(batch).tokens)


def test_fully_invalid_patches_are_padding(tokenizer) -> None:
    batch = make_batch(LANDSAT)
    batch["valid"][0, :, :8, :8] = False  # patch 0 of sample 0, every band
    batch["valid"][1, :3, 8:16, :8] = False  # patch 4 of sample 1, only half the bands
    out = tokenizer(batch)
    expected = torch.zeros(2, 16, dtype=torch.bool)
    expected[0, 0] = True
    assert torch.equal(out.padding_mask, expected)
    assert out.target_mask is not None
    assert not out.target_mask[0, 0].any()
    assert out.target_mask[1, 4].sum() == 8 * 8 * 3


def test_target_is_patchified_values_and_valid() -> None:
    tokenizer = WavelengthPatchTokenizer(image_size=4, patch_size=2, embed_dim=8, num_bands=3)
    values = torch.randn(1, 3, 4, 4)
    valid = torch.rand(1, 3, 4, 4) > 0.3
    out = tokenizer({"values": values, "valid": valid, "wavelengths": torch.tensor(LANDSAT[:3])})
    assert tokenizer.target_dim == 12
    assert out.target is not None and out.target_mask is not None
    assert out.target.shape == out.target_mask.shape == (1, 4, 12)
    for row in range(2):
        for col in range(2):
            n = row * 2 + col
            for i in range(2):
                for j in range(2):
                    for c in range(3):
                        k = (i * 2 + j) * 3 + c
                        y, x = row * 2 + i, col * 2 + j
                        ok = bool(valid[0, c, y, x])
                        assert bool(out.target_mask[0, n, k]) == ok
                        assert out.target[0, n, k] == (values[0, c, y, x] if ok else 0.0)


def test_grouped_mode_gives_tokens_per_nonempty_group() -> None:
    tokenizer = WavelengthPatchTokenizer(
        image_size=32, patch_size=8, embed_dim=32, grouping="grouped"
    )
    s2 = tokenizer(make_batch(SENTINEL2))  # visible, red-edge/NIR, SWIR
    assert s2.tokens.shape == (2, 3 * 16, 32)
    with_thermal = tokenizer(make_batch([*SENTINEL2, 10.9]))  # + "other"
    assert with_thermal.tokens.shape == (2, 4 * 16, 32)
    assert s2.target_mask is not None and s2.pos is not None
    # Each group's tokens reconstruct only that group's bands: 4 visible bands here.
    assert s2.target_mask[0, 0].sum() == 8 * 8 * 4
    assert s2.target_mask[0, :16].sum() + s2.target_mask[0, 16:].sum() == 16 * 64 * 13
    assert not torch.allclose(s2.pos[0, :16], s2.pos[0, 16:32])
    encoder = Encoder(tokenizer, modality="image", depth=1, num_heads=4)
    assert encoder(make_batch(LANDSAT)).shape == (2, 32)


def test_custom_groups() -> None:
    tokenizer = WavelengthPatchTokenizer(
        image_size=32, patch_size=8, embed_dim=32, grouping="grouped", groups=[[0.4, 1.0]]
    )
    assert tokenizer(make_batch(SENTINEL2)).tokens.shape == (2, 2 * 16, 32)


def test_time_series_tokens_and_date_positions() -> None:
    tokenizer = WavelengthPatchTokenizer(image_size=32, patch_size=8, embed_dim=32, max_timesteps=4)
    values = torch.rand(2, 3, 6, 32, 32)
    batch = {
        "values": values,
        "valid": torch.ones_like(values, dtype=torch.bool),
        "wavelengths": torch.tensor(LANDSAT),
        "dates": torch.tensor([[18000.0, 18005.0, 18021.0], [18000.0, 18016.0, 18090.0]]),
    }
    out = tokenizer(batch)
    assert out.tokens.shape == (2, 3 * 16, 32)
    assert out.pos is not None and out.pos.shape == (2, 3 * 16, 32)
    # Same first date, same positions; different later dates, different positions.
    torch.testing.assert_close(out.pos[0, :16], out.pos[1, :16])
    assert not torch.allclose(out.pos[0, 16:], out.pos[1, 16:])
    # Each step is tokenized like a one-step series of that date.
    first = {k: batch[k][:, :1] for k in ("values", "valid", "dates")}
    single = tokenizer({**batch, **first})
    torch.testing.assert_close(out.tokens[:, :16], single.tokens)
    torch.testing.assert_close(out.pos[:, :16], single.pos)
    encoder = Encoder(tokenizer, modality="image", depth=1, num_heads=4)
    assert encoder(batch).shape == (2, 32)
    with pytest.raises(ValueError, match="max_timesteps"):
        tokenizer(
            {
                **batch,
                "values": torch.rand(2, 5, 6, 32, 32),
                "valid": torch.ones(2, 5, 6, 32, 32, dtype=torch.bool),
            }
        )


def test_shape_errors_name_expected_and_got() -> None:
    tokenizer = WavelengthPatchTokenizer(image_size=32, patch_size=8, embed_dim=32, num_bands=6)
    with pytest.raises(ValueError, match="expected 6 bands"):
        tokenizer(make_batch(SENTINEL2))
    batch = make_batch(LANDSAT)
    with pytest.raises(ValueError, match="valid must match"):
        tokenizer({**batch, "valid": batch["valid"][:, :3]})
    with pytest.raises(ValueError, match=r"wavelengths must be \[6\]"):
        tokenizer({**batch, "wavelengths": torch.tensor(LANDSAT[:4])})
    with pytest.raises(ValueError, match="multiples of patch_size"):
        tokenizer(make_batch(LANDSAT, size=30))
    with pytest.raises(ValueError, match="max_timesteps"):
        tokenizer({**batch, "values": batch["values"][:, None], "valid": batch["valid"][:, None]})


def test_mae_trains_on_six_band_data_with_nodata() -> None:
    torch.manual_seed(0)
    tokenizer = WavelengthPatchTokenizer(image_size=32, patch_size=8, embed_dim=32, num_bands=6)
    encoder = Encoder(tokenizer, modality="image", depth=1, num_heads=4)
    model = MAE(encoder, mask_ratio=0.75, decoder_dim=32, decoder_depth=1, decoder_heads=4)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    for step in range(3):
        batch = make_batch(LANDSAT, batch=4)
        if step > 0:  # scattered nodata, one missing band and one empty patch
            batch["valid"] &= torch.rand_like(batch["values"]) > 0.2
            batch["valid"][0, 3] = False
            batch["valid"][1, :, :8, :8] = False
            batch["values"][~batch["valid"]] = float("nan")
        loss = model.reconstruction_loss(batch)
        assert torch.isfinite(loss)
        optimizer.zero_grad()
        loss.backward()
        grad = tokenizer.weight_generator[-1].weight.grad
        assert grad is not None and torch.isfinite(grad).all() and grad.abs().sum() > 0
        optimizer.step()
