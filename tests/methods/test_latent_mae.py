"""MaskedLatentPrediction: regresses an EMA teacher's tokens at the hidden positions."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from conftest import tiny_encoder
from test_methods import check_loss_decreases, fixed_batch

from foundations.encoders.masking import hidden_index, random_keep_index
from foundations.encoders.tokens import gather_tokens
from foundations.methods import MaskedLatentPrediction


def test_latent_prediction_loss_decreases_with_and_without_values() -> None:
    for weight in (0.0, 1.0):
        torch.manual_seed(0)
        model = MaskedLatentPrediction(
            tiny_encoder(), mask_ratio=0.75, predictor_dim=32, reconstruction_weight=weight
        )
        check_loss_decreases(model, steps=40)


def test_loss_is_the_error_against_the_layer_normalised_teacher_tokens() -> None:
    torch.manual_seed(0)
    model = MaskedLatentPrediction(
        tiny_encoder(), mask_ratio=0.75, predictor_dim=16, reconstruction_weight=0.5
    )
    with torch.no_grad():  # a teacher that differs from the student
        for param in model.teacher.parameters():
            param.add_(0.1 * torch.randn_like(param))
    model.log = lambda *args, **kwargs: None  # type: ignore[method-assign]
    batch = fixed_batch()
    state = torch.get_rng_state()
    loss = model.shared_step(batch, "train")

    torch.set_rng_state(state)
    images = batch["image"]
    tokens = model.encoder.tokenize(images)
    teacher = model.teacher.encode_tokens(model.teacher.tokenize(images)).tokens
    keep, _ = random_keep_index(tokens.batch_size, tokens.num_tokens, 0.75)
    hidden = hidden_index(keep, tokens.num_tokens)
    visible = model.encoder.encode_tokens(tokens, keep).tokens
    every = model.predictor(visible, keep, tokens)  # all N positions, then the hidden ones
    dim = model.encoder.out_dim
    predicted = gather_tokens(every, hidden)
    target = gather_tokens(F.layer_norm(teacher, (dim,)), hidden)
    latent = ((predicted[..., :dim] - target) ** 2).mean()
    values = ((predicted[..., dim:] - gather_tokens(tokens.target, hidden)) ** 2).mean()
    torch.testing.assert_close(loss, latent + 0.5 * values, rtol=1e-4, atol=1e-5)


def test_teacher_is_a_frozen_ema_of_the_student() -> None:
    torch.manual_seed(0)
    model = MaskedLatentPrediction(tiny_encoder(), momentum_start=0.25, momentum_end=0.25)
    assert not any(param.requires_grad for param in model.teacher.parameters())
    with torch.no_grad():
        for param in model.encoder.parameters():
            param.add_(1.0)
    student = torch.nn.utils.parameters_to_vector(model.encoder.parameters())
    teacher = torch.nn.utils.parameters_to_vector(model.teacher.parameters())
    model.on_train_batch_end(None, None, 0)
    updated = torch.nn.utils.parameters_to_vector(model.teacher.parameters())
    torch.testing.assert_close(updated, 0.25 * teacher + 0.75 * student)


def test_value_reconstruction_needs_a_tokenizer_with_targets() -> None:
    encoder = tiny_encoder()
    del encoder.tokenizer.target_dim
    with pytest.raises(ValueError, match="target_dim"):
        MaskedLatentPrediction(encoder, reconstruction_weight=1.0)
    with pytest.raises(ValueError, match="reconstruction_weight"):
        MaskedLatentPrediction(tiny_encoder(), reconstruction_weight=-1.0)
