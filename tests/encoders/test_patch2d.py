"""Tests of the generic 2D patch tokenizer."""

from __future__ import annotations

import pytest
import torch

from foundations.encoders.patch2d import PatchTokenizer2d, sincos_pos_embed_2d
from foundations.encoders.tokens import TokenBatch


def manual_patchify(images: torch.Tensor, p: int) -> torch.Tensor:
    """Row-major patches, each flattened as (row in patch, column in patch, channel)."""
    b, c, h, w = images.shape
    out = torch.empty(b, (h // p) * (w // p), p * p * c)
    for i in range(h // p):
        for j in range(w // p):
            patch = images[:, :, i * p : (i + 1) * p, j * p : (j + 1) * p]  # [B, C, p, p]
            out[:, i * (w // p) + j] = patch.permute(0, 2, 3, 1).reshape(b, -1)
    return out


def test_shapes_and_fields() -> None:
    tokenizer = PatchTokenizer2d(in_channels=3, image_size=16, patch_size=4, embed_dim=32)
    batch = tokenizer(torch.rand(2, 3, 16, 16))
    assert isinstance(batch, TokenBatch)
    assert tokenizer.embed_dim == 32
    assert batch.tokens.shape == (2, 16, 32)
    assert batch.pos is not None and batch.pos.shape == (1, 16, 32)
    assert batch.padding_mask is None
    assert batch.target is not None and batch.target.shape == (2, 16, 48)


def test_target_matches_manual_patchify() -> None:
    images = torch.rand(2, 3, 12, 12)
    tokenizer = PatchTokenizer2d(in_channels=3, image_size=12, patch_size=3, embed_dim=16)
    target = tokenizer(images).target
    assert target is not None
    torch.testing.assert_close(target, manual_patchify(images, 3))


def test_token_order_matches_target_order() -> None:
    """Token k is the embedding of exactly the pixels in target k."""
    torch.manual_seed(0)
    tokenizer = PatchTokenizer2d(in_channels=2, image_size=8, patch_size=2, embed_dim=8)
    images = torch.zeros(1, 2, 8, 8)
    images[0, :, 2:4, 6:8] = 1.0  # patch at row 1, column 3 -> token 1 * 4 + 3 = 7
    batch = tokenizer(images)
    assert batch.target is not None
    changed = (batch.tokens[0] - tokenizer(torch.zeros(1, 2, 8, 8)).tokens[0]).abs().sum(-1)
    assert changed.nonzero().flatten().tolist() == [7]
    assert batch.target[0].sum(-1).nonzero().flatten().tolist() == [7]


def test_positional_table_is_mae_sincos() -> None:
    table = sincos_pos_embed_2d(8, 2, 3)
    assert table.shape == (6, 8)
    # Token (row 1, column 2) is index 5: first half encodes the column, second the row.
    omega = torch.tensor([1.0, 0.01])
    expected = torch.cat([(2 * omega).sin(), (2 * omega).cos(), omega.sin(), omega.cos()])
    torch.testing.assert_close(table[5], expected)
    assert len({tuple(row.tolist()) for row in table}) == 6  # every position distinct
    tokenizer = PatchTokenizer2d(image_size=8, patch_size=4, embed_dim=8)
    assert "pos_embed" not in tokenizer.state_dict()  # fixed, recomputed, not a weight
    torch.testing.assert_close(tokenizer.pos_embed[0], sincos_pos_embed_2d(8, 2, 2))


@pytest.mark.parametrize(
    "shape",
    [(2, 1, 16, 16), (2, 3, 12, 12), (2, 3, 16, 20), (3, 16, 16)],
)
def test_wrong_input_shape_names_expected_and_got(shape: tuple[int, ...]) -> None:
    tokenizer = PatchTokenizer2d(in_channels=3, image_size=16, patch_size=4, embed_dim=16)
    with pytest.raises(ValueError, match=r"\[B, 3, 16, 16\].*got") as error:
        tokenizer(torch.rand(*shape))
    assert str(shape) in str(error.value)


def test_invalid_configuration() -> None:
    with pytest.raises(ValueError, match="divide"):
        PatchTokenizer2d(image_size=30, patch_size=4)
    with pytest.raises(ValueError, match="multiple of 4"):
        PatchTokenizer2d(embed_dim=30)


def test_works_inside_the_encoder() -> None:
    from foundations.encoders.encoder import Encoder

    encoder = Encoder(PatchTokenizer2d(image_size=16, patch_size=4, embed_dim=32), depth=1)
    assert encoder(torch.rand(3, 3, 16, 16)).shape == (3, 32)
