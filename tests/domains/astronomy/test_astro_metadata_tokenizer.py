"""The catalogue-feature tokenizer: one token per feature, missing values masked."""

from __future__ import annotations

import pytest
import torch

from domains.astronomy.metadata_tokenizer import MetadataTokenizer
from foundations.encoders.encoder import Encoder


def test_nan_values_become_masked_tokens_without_nan() -> None:
    tokenizer = MetadataTokenizer(num_features=4, embed_dim=8)
    values = torch.tensor([[0.5, float("nan"), -1.0, 2.0], [float("nan")] * 4])
    out = tokenizer(values)
    assert out.tokens.shape == (2, 4, 8) and out.pos is None
    assert out.padding_mask is not None
    assert out.padding_mask.tolist() == [[False, True, False, False], [True] * 4]
    assert out.target is not None and out.target_mask is not None
    assert out.target.shape == (2, 4, 1) and torch.isfinite(out.target).all()
    assert torch.isfinite(out.tokens).all()
    # a missing token is the missing embedding plus the feature's identity
    expected = tokenizer.missing_embed + tokenizer.feature_embed[1]
    torch.testing.assert_close(out.tokens[0, 1], expected)


def test_dict_inputs_with_mask_match_nan_inputs_and_values_matter() -> None:
    tokenizer = MetadataTokenizer(num_features=3, embed_dim=8)
    values = torch.tensor([[1.0, 2.0, 3.0]])
    mask = torch.tensor([[True, False, True]])
    from_dict = tokenizer({"values": values, "mask": mask})
    from_nan = tokenizer(torch.tensor([[1.0, float("nan"), 3.0]]))
    torch.testing.assert_close(from_dict.tokens, from_nan.tokens)
    other = tokenizer({"values": values + 1.0, "mask": mask})
    assert not torch.allclose(other.tokens[0, 0], from_dict.tokens[0, 0])
    torch.testing.assert_close(other.tokens[0, 1], from_dict.tokens[0, 1])


def test_all_missing_row_gives_a_finite_embedding_and_bad_shapes_raise() -> None:
    tokenizer = MetadataTokenizer(num_features=3, embed_dim=8)
    encoder = Encoder(tokenizer, modality="metadata", depth=1, num_heads=2, pool="cls")
    values = torch.tensor([[float("nan")] * 3, [0.1, 0.2, 1e9]])
    assert torch.isfinite(encoder(values)).all()
    with pytest.raises(ValueError, match=r"\[B, 3\]"):
        tokenizer(torch.zeros(2, 4))
    with pytest.raises(ValueError, match="values"):
        tokenizer({"mask": torch.ones(1, 3, dtype=torch.bool)})
    with pytest.raises(ValueError, match="positive"):
        MetadataTokenizer(num_features=0)
