"""Each method trains: its objective decreases on data it can fit, its EMA parts behave."""

from __future__ import annotations

import pytest
import torch
from conftest import RandomImages, fit, tiny_encoder
from torch import nn

from foundations.methods import DINO, MAE, MoCoV3, MultiModalAlignment, SimCLR


class Jitter(nn.Module):
    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return images + 0.05 * torch.randn_like(images)


def loss_on(model, batch) -> float:  # type: ignore[no-untyped-def]
    torch.manual_seed(123)  # same views / masks before and after training
    model.eval()
    with torch.no_grad():
        loss = float(model.shared_step(batch, "val"))
    model.train()
    return loss


def fixed_batch() -> dict[str, torch.Tensor]:
    data = RandomImages()
    return {"image": data.images[:16], "label": data.labels[:16]}


def check_loss_decreases(model, steps: int = 30, factor: float = 0.9) -> None:  # type: ignore[no-untyped-def]
    batch = fixed_batch()
    model.log = lambda *args, **kwargs: None  # shared_step outside a Trainer
    before = loss_on(model, batch)
    del model.log
    fit(model, steps)
    model.log = lambda *args, **kwargs: None
    after = loss_on(model, batch)
    assert after < factor * before, f"loss went from {before:.4f} to {after:.4f}"


def test_simclr_loss_decreases() -> None:
    torch.manual_seed(0)
    check_loss_decreases(SimCLR(tiny_encoder(), Jitter(), hidden_dim=64, projection_dim=16))


def test_moco_loss_decreases_and_momentum_encoder_follows() -> None:
    torch.manual_seed(0)
    model = MoCoV3(
        tiny_encoder(), Jitter(), hidden_dim=64, projection_dim=16, momentum_start=0.9, lr=1e-3
    )
    initial = [p.clone() for p in model.momentum_encoder.parameters()]
    # The loss is 2 * temperature * cross-entropy, summed over both directions: ~2.2 at chance.
    check_loss_decreases(model, steps=60)
    moved = [
        not torch.equal(a, b)
        for a, b in zip(initial, model.momentum_encoder.parameters(), strict=True)
    ]
    assert any(moved), "the momentum encoder never moved"
    assert not any(p.requires_grad for p in model.momentum_encoder.parameters())
    student = torch.nn.utils.parameters_to_vector(model.encoder.parameters())
    teacher = torch.nn.utils.parameters_to_vector(model.momentum_encoder.parameters())
    assert not torch.allclose(student, teacher), "the momentum encoder must lag the encoder"


def test_dino_student_learns_to_match_a_frozen_teacher() -> None:
    # Teacher and centre frozen (momentum 1.0), so the distillation target is fixed.
    torch.manual_seed(0)
    model = DINO(
        tiny_encoder(),
        Jitter(),
        num_local_views=2,
        hidden_dim=64,
        bottleneck_dim=16,
        output_dim=64,
        momentum_start=1.0,
        center_momentum=1.0,
        freeze_last_layer_epochs=0,
        lr=3e-3,
    )
    teacher_before = torch.nn.utils.parameters_to_vector(model.teacher.parameters()).clone()
    check_loss_decreases(model, steps=40)
    teacher_after = torch.nn.utils.parameters_to_vector(model.teacher.parameters())
    assert torch.equal(teacher_before, teacher_after), "momentum 1.0 freezes the teacher"


def test_dino_teacher_is_an_ema_of_the_student() -> None:
    torch.manual_seed(0)
    model = DINO(
        tiny_encoder(),
        hidden_dim=64,
        bottleneck_dim=16,
        output_dim=64,
        momentum_start=0.25,
        momentum_end=0.25,
    )
    with torch.no_grad():
        for param in model.encoder.parameters():
            param.add_(1.0)
    student = torch.nn.utils.parameters_to_vector(model.encoder.parameters())
    teacher = torch.nn.utils.parameters_to_vector(model.teacher.parameters())
    model.on_train_batch_end(None, None, 0)
    updated = torch.nn.utils.parameters_to_vector(model.teacher.parameters())
    assert torch.allclose(updated, 0.25 * teacher + 0.75 * student, atol=1e-6)


def test_mae_loss_decreases_and_encoder_sees_only_visible_tokens() -> None:
    torch.manual_seed(0)
    encoder = tiny_encoder()
    seen: list[int] = []
    encoder.trunk.register_forward_pre_hook(lambda module, args: seen.append(args[0].shape[1]))
    model = MAE(encoder, mask_ratio=0.75, decoder_dim=32, decoder_depth=1, norm_target=False)
    check_loss_decreases(model, steps=40)
    assert set(seen) == {4}, f"16 patches at mask ratio 0.75 leave 4 tokens, saw {set(seen)}"


def test_multimodal_alignment_trains_with_missing_modalities() -> None:
    torch.manual_seed(0)
    images = RandomImages().images[:16]
    channels = {"optical": 3, "infrared": 1, "radio": 2}
    encoders = {name: tiny_encoder(modality=name, channels=c) for name, c in channels.items()}
    model = MultiModalAlignment(encoders, embed_dim=16, loss="siglip", chunk_size=4)
    model.log = lambda *args, **kwargs: None
    present = torch.ones(16, dtype=torch.bool)
    present[::3] = False
    batch = {
        "optical": images,
        "infrared": images.mean(dim=1, keepdim=True),
        "radio": images[:, :2].flip(-1),
        "present": {"radio": present},
    }
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(30):
        loss = model.shared_step(batch, "train")
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
    assert losses[-1] < 0.7 * losses[0]
    # A missing sample's radio input must not matter.
    poisoned = dict(batch, radio=batch["radio"].clone())
    poisoned["radio"][~present] = 1e4
    model.eval()
    with torch.no_grad():
        assert torch.allclose(model.shared_step(batch, "val"), model.shared_step(poisoned, "val"))


def test_predict_step_returns_embeddings_and_labels() -> None:
    model = SimCLR(tiny_encoder(), hidden_dim=64, projection_dim=16).eval()
    out = model.predict_step(fixed_batch(), 0)
    assert out["embedding"].shape == (16, 32)
    assert torch.equal(out["label"], fixed_batch()["label"])


def test_mae_decoder_under_autocast_with_float32_encoder_output() -> None:
    # On CUDA, autocast keeps LayerNorm outputs in float32 while Linear outputs bfloat16.
    from foundations.encoders.tokens import TokenBatch
    from foundations.methods.mae import MAEDecoder

    decoder = MAEDecoder(encoder_dim=32, target_dim=12, embed_dim=16, depth=1, num_heads=2)
    full = TokenBatch(tokens=torch.randn(2, 8, 32), pos=torch.randn(1, 8, 32))
    keep = torch.tensor([[0, 3], [1, 6]])
    with torch.autocast("cpu", dtype=torch.bfloat16):
        prediction = decoder(torch.randn(2, 2, 32, dtype=torch.float32), keep, full)
    assert prediction.shape == (2, 8, 12)
    assert torch.isfinite(prediction.float()).all()


def test_mae_refuses_per_token_normalisation_of_single_values() -> None:
    with pytest.raises(ValueError, match="norm_target"):
        MAE(tiny_encoder(), target_dim=1, norm_target=True)
    assert MAE(tiny_encoder(), target_dim=1, norm_target=False).decoder is not None


def test_mae_scores_hidden_tokens_only_with_the_same_loss_as_predicting_all() -> None:
    from foundations.encoders.masking import hidden_index, random_keep_index

    torch.manual_seed(0)
    model = MAE(tiny_encoder(), mask_ratio=0.75, decoder_dim=16, decoder_depth=1)
    images = fixed_batch()["image"]
    state = torch.get_rng_state()
    loss = model.reconstruction_loss(images)
    # The reference: predict all N tokens, score the hidden ones through the mask.
    torch.set_rng_state(state)
    tokens = model.encoder.tokenize(images)
    keep, mask = random_keep_index(tokens.batch_size, tokens.num_tokens, 0.75)
    visible = model.encoder.encode_tokens(tokens, keep).tokens
    every = model.decoder(visible, keep, tokens)
    assert every.shape[1] == tokens.num_tokens
    reference = model.criterion(every, tokens.target, mask, tokens.target_mask)
    torch.testing.assert_close(loss, reference, rtol=1e-5, atol=1e-6)
    hidden = hidden_index(keep, tokens.num_tokens)
    assert hidden.shape == (tokens.batch_size, tokens.num_tokens - keep.shape[1])
    assert not (hidden[:, :, None] == keep[:, None, :]).any()  # disjoint from the kept ones
