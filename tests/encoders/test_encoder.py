"""Encoder contract: padding masks, token dropping, pooling and the SDPA trunk."""

from __future__ import annotations

import pytest
import torch
from torch import Tensor, nn

from foundations.encoders import (
    Encoder,
    TokenBatch,
    TransformerTrunk,
    masked_max,
    random_keep_index,
)


class SequenceTokenizer(nn.Module):
    """Minimal tokenizer: one token per row of a ``[B, N, F]`` tensor, learned positions."""

    embed_dim = 32

    def __init__(self, features: int = 5, max_len: int = 16) -> None:
        super().__init__()
        self.proj = nn.Linear(features, self.embed_dim)
        self.pos_table = nn.Parameter(torch.randn(1, max_len, self.embed_dim))

    def forward(self, inputs: dict[str, Tensor]) -> TokenBatch:
        values = inputs["values"]
        return TokenBatch(
            tokens=self.proj(values),
            pos=self.pos_table[:, : values.shape[1]],
            padding_mask=inputs.get("padding_mask"),
            target=values,
        )


def make_encoder(pool: str) -> Encoder:
    torch.manual_seed(0)
    return Encoder(SequenceTokenizer(), depth=2, num_heads=4, pool=pool).eval()  # type: ignore[arg-type]


@pytest.mark.parametrize("pool", ["cls", "mean", "max", "attention"])
def test_padding_does_not_change_embedding(pool: str) -> None:
    encoder = make_encoder(pool)
    values = torch.randn(2, 6, 5)
    short = encoder({"values": values})
    junk = torch.randn(2, 4, 5) * 100.0
    padded = torch.cat([values, junk], dim=1)
    mask = torch.zeros(2, 10, dtype=torch.bool)
    mask[:, 6:] = True
    long = encoder({"values": padded, "padding_mask": mask})
    assert torch.allclose(short, long, atol=1e-5)
    unmasked = encoder({"values": padded})
    assert not torch.allclose(short, unmasked, atol=1e-3)  # the junk matters without the mask


@pytest.mark.parametrize("pool", ["cls", "mean", "max", "attention"])
def test_token_dropping_equals_encoding_the_kept_tokens(pool: str) -> None:
    encoder = make_encoder(pool)
    values = torch.randn(3, 12, 5)
    tokens = encoder.tokenize({"values": values})
    keep, mask = random_keep_index(3, 12, 0.75, generator=torch.Generator().manual_seed(1))
    dropped = encoder.encode_tokens(tokens, keep)
    assert dropped.tokens.shape == (3, 3, 32)
    assert mask.sum(dim=1).tolist() == [9, 9, 9]
    manual = TokenBatch(
        tokens=torch.gather(tokens.tokens, 1, keep[..., None].expand(-1, -1, 32)),
        pos=torch.gather(tokens.pos.expand(3, -1, -1), 1, keep[..., None].expand(-1, -1, 32)),  # type: ignore[union-attr]
    )
    reference = encoder.encode_tokens(manual)
    assert torch.allclose(dropped.pooled, reference.pooled, atol=1e-6)
    assert torch.allclose(dropped.tokens, reference.tokens, atol=1e-6)


def test_keep_index_prefers_real_tokens_and_is_sorted() -> None:
    padding = torch.zeros(4, 10, dtype=torch.bool)
    padding[:, 5:] = True  # only 5 real tokens
    keep, mask = random_keep_index(4, 10, 0.6, padding, generator=torch.Generator().manual_seed(0))
    assert keep.shape == (4, 4)
    assert bool((keep < 5).all()), "a padding token was kept while real tokens remained"
    assert bool((keep[:, 1:] > keep[:, :-1]).all())
    assert not bool((mask & padding).any()), "padding must never be a reconstruction target"
    assert mask.sum(dim=1).tolist() == [1, 1, 1, 1]
    with pytest.raises(ValueError, match="mask_ratio"):
        random_keep_index(1, 4, 1.0)


def test_trunk_fused_and_eager_attention_agree_with_padding() -> None:
    torch.manual_seed(0)
    trunk = TransformerTrunk(32, depth=2, num_heads=4).eval()
    assert all(block.attn.fused_attn for block in trunk.blocks), "SDPA path must be used"
    x = torch.randn(2, 7, 32)
    padding = torch.tensor([[False] * 7, [False] * 4 + [True] * 3])
    fused = trunk(x, padding)
    for block in trunk.blocks:
        block.attn.fused_attn = False
    eager = trunk(x, padding)
    assert torch.allclose(fused, eager, atol=1e-5)


def test_gradient_checkpointing_gives_same_gradients() -> None:
    torch.manual_seed(0)
    trunk = TransformerTrunk(32, depth=2, num_heads=4)
    x = torch.randn(2, 7, 32)
    trunk(x).square().sum().backward()
    plain = [p.grad.clone() for p in trunk.parameters()]  # type: ignore[union-attr]
    trunk.zero_grad()
    trunk.grad_checkpointing = True
    trunk(x).square().sum().backward()
    for reference, param in zip(plain, trunk.parameters(), strict=True):
        assert torch.allclose(reference, param.grad, atol=1e-6)  # type: ignore[arg-type]


def test_encoder_rejects_tokenizer_without_embed_dim() -> None:
    with pytest.raises(ValueError, match="embed_dim"):
        Encoder(nn.Linear(3, 3))


def test_masked_max_ignores_padding_and_empty_samples() -> None:
    tokens = torch.tensor(
        [[[1.0, -5.0], [9.0, 9.0], [3.0, 2.0]], [[7.0, 7.0], [8.0, 8.0], [1.0, 1.0]]]
    )
    padding = torch.tensor([[False, True, False], [True, True, True]])
    pooled = masked_max(tokens, padding)
    assert torch.equal(pooled, torch.tensor([[3.0, 2.0], [0.0, 0.0]]))
    assert torch.equal(masked_max(tokens, None), tokens.amax(dim=1))
