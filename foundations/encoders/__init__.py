"""Encoders: the tokenizer contract, a timm-block trunk with SDPA, pooling and token dropping."""

from foundations.encoders.encoder import Encoder, EncoderOutput
from foundations.encoders.masking import random_keep_index
from foundations.encoders.pooling import AttentionPool, masked_max, masked_mean
from foundations.encoders.tokens import TokenBatch, Tokenizer
from foundations.encoders.trunk import TransformerTrunk

__all__ = [
    "AttentionPool",
    "Encoder",
    "EncoderOutput",
    "TokenBatch",
    "Tokenizer",
    "TransformerTrunk",
    "masked_max",
    "masked_mean",
    "random_keep_index",
]
