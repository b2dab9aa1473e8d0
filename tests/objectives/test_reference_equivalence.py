"""Single-process equivalence of the objectives with lightly, open_clip and written references."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from lightly.loss import DINOLoss as LightlyDINOLoss
from lightly.loss import NTXentLoss as LightlyNTXentLoss
from open_clip.loss import ClipLoss as OpenClipLoss
from open_clip.loss import SigLipLoss as OpenSigLipLoss
from torch import Tensor

from foundations.objectives import (
    CLIPLoss,
    DINOLoss,
    InfoNCELoss,
    MAELoss,
    MultiModalAlignmentLoss,
    NTXentLoss,
    SigLIPLoss,
)

ATOL = 1e-5


def leaves(*shapes: tuple[int, ...], seed: int = 0) -> list[Tensor]:
    generator = torch.Generator().manual_seed(seed)
    return [torch.randn(*s, generator=generator).requires_grad_() for s in shapes]


def grads(loss: Tensor, inputs: list[Tensor]) -> list[Tensor]:
    return list(torch.autograd.grad(loss, inputs, allow_unused=False))


def assert_close(actual: Tensor, expected: Tensor) -> None:
    torch.testing.assert_close(actual, expected, atol=ATOL, rtol=1e-4)


def assert_same_value_and_grads(ours: Tensor, ref: Tensor, inputs: list[Tensor]) -> None:
    assert_close(ours, ref)
    for g_ours, g_ref in zip(grads(ours, inputs), grads(ref, inputs), strict=True):
        assert_close(g_ours, g_ref)


# --- NT-Xent -------------------------------------------------------------------------------


@pytest.mark.parametrize("temperature", [0.1, 0.5])
def test_ntxent_matches_lightly(temperature: float) -> None:
    z0, z1 = leaves((8, 16), (8, 16))
    ours = NTXentLoss(temperature=temperature)(z0, z1)
    ref = LightlyNTXentLoss(temperature=temperature)(z0, z1)
    assert_same_value_and_grads(ours, ref, [z0, z1])


def test_ntxent_rejects_bad_input() -> None:
    with pytest.raises(ValueError):
        NTXentLoss(temperature=0.0)
    with pytest.raises(ValueError):
        NTXentLoss()(torch.randn(4, 8), torch.randn(5, 8))


# --- InfoNCE (MoCo v3) -----------------------------------------------------------------------


def moco_v3_reference(q: Tensor, k: Tensor, temperature: float) -> Tensor:
    """``MoCo.contrastive_loss`` of the official MoCo v3 code, single process."""
    q = F.normalize(q, dim=1)
    k = F.normalize(k, dim=1)
    logits = torch.einsum("nc,mc->nm", q, k) / temperature
    labels = torch.arange(logits.shape[0])
    return F.cross_entropy(logits, labels) * (2 * temperature)


@pytest.mark.parametrize("scale", [True, False])
def test_infonce_matches_moco_v3_reference(scale: bool) -> None:
    q, k = leaves((8, 16), (8, 16), seed=1)
    ours = InfoNCELoss(temperature=0.2, scale_by_temperature=scale)(q, k)
    ref = moco_v3_reference(q, k, 0.2) / (1.0 if scale else 0.4)
    # Keys carrying gradients must be handled too.
    assert_same_value_and_grads(ours, ref, [q, k])


def test_infonce_symmetric_sum_is_callers_job() -> None:
    q1, q2, k1, k2 = leaves((6, 8), (6, 8), (6, 8), (6, 8), seed=2)
    loss_fn = InfoNCELoss()
    symmetric = loss_fn(q1, k2.detach()) + loss_fn(q2, k1.detach())
    ref = moco_v3_reference(q1, k2, 0.2) + moco_v3_reference(q2, k1, 0.2)
    assert_close(symmetric, ref)


# --- CLIP -----------------------------------------------------------------------------------


def test_clip_matches_open_clip_including_logit_scale_grad() -> None:
    a, b = leaves((10, 12), (10, 12), seed=3)
    ours_fn = CLIPLoss(init_temperature=0.07)
    ref_scale = ours_fn.logit_scale.detach().clone().requires_grad_()
    ours = ours_fn(a, b)
    ref = OpenClipLoss()(F.normalize(a, dim=1), F.normalize(b, dim=1), ref_scale.exp())
    assert_close(ours, ref)
    g_ours = grads(ours, [a, b, ours_fn.logit_scale])
    g_ref = grads(ref, [a, b, ref_scale])
    for x, y in zip(g_ours, g_ref, strict=True):
        assert_close(x, y)


def test_clip_logit_scale_is_clamped_and_can_be_frozen() -> None:
    a, b = leaves((6, 8), (6, 8), seed=4)
    clamped = CLIPLoss(init_temperature=0.001, max_logit_scale=50.0)(a, b)
    ref = OpenClipLoss()(F.normalize(a, dim=1), F.normalize(b, dim=1), torch.tensor(50.0))
    assert_close(clamped, ref)
    assert not CLIPLoss(learnable_temperature=False).logit_scale.requires_grad


def test_clip_missing_samples_do_not_change_the_others() -> None:
    a, b = leaves((10, 8), (10, 8), seed=5)
    valid = torch.tensor([1, 0, 1, 1, 0, 1, 1, 1, 0, 1], dtype=torch.bool)
    loss_fn = CLIPLoss()
    masked = loss_fn(a, b, valid)
    subset = loss_fn(a[valid], b[valid])
    assert_close(masked, subset)
    g_a, g_b = grads(masked, [a, b])
    s_a, s_b = grads(subset, [a, b])
    assert_close(g_a, s_a)
    assert_close(g_b, s_b)
    assert torch.all(g_a[~valid] == 0) and torch.all(g_b[~valid] == 0)
    # The embeddings of samples lacking a modality may hold anything, NaN included.
    with torch.no_grad():
        a[~valid] = float("nan")
        b[~valid] = float("inf")
    masked = loss_fn(a, b, valid)
    assert_close(masked, subset.detach())
    assert all(torch.isfinite(g).all() for g in grads(masked, [a, b, loss_fn.logit_scale]))


@pytest.mark.parametrize("loss_cls", [CLIPLoss, SigLIPLoss])
def test_no_valid_pair_gives_graph_connected_zero(loss_cls: type[CLIPLoss | SigLIPLoss]) -> None:
    a, b = leaves((4, 8), (4, 8), seed=6)
    loss_fn = loss_cls()
    loss = loss_fn(a, b, torch.zeros(4, dtype=torch.bool))
    assert loss.item() == 0.0 and loss.requires_grad
    loss.backward()
    for g in (a.grad, b.grad, loss_fn.logit_scale.grad):
        assert g is not None and torch.all(g == 0)


def test_clip_rejects_bad_shapes() -> None:
    with pytest.raises(ValueError):
        CLIPLoss()(torch.randn(4, 8), torch.randn(4, 6))
    with pytest.raises(ValueError):
        CLIPLoss()(torch.randn(4, 8), torch.randn(4, 8), torch.ones(3, dtype=torch.bool))


# --- SigLIP ---------------------------------------------------------------------------------


def test_siglip_matches_open_clip_including_parameter_grads() -> None:
    a, b = leaves((10, 12), (10, 12), seed=7)
    ours_fn = SigLIPLoss()
    assert math.isclose(ours_fn.logit_scale.exp().item(), 10.0, rel_tol=1e-6)
    assert ours_fn.logit_bias.item() == -10.0
    ref_scale = ours_fn.logit_scale.detach().clone().requires_grad_()
    ref_bias = ours_fn.logit_bias.detach().clone().requires_grad_()
    ours = ours_fn(a, b)
    ref = OpenSigLipLoss()(F.normalize(a, dim=1), F.normalize(b, dim=1), ref_scale.exp(), ref_bias)
    assert_close(ours, ref)
    g_ours = grads(ours, [a, b, ours_fn.logit_scale, ours_fn.logit_bias])
    g_ref = grads(ref, [a, b, ref_scale, ref_bias])
    for x, y in zip(g_ours, g_ref, strict=True):
        assert_close(x, y)


@pytest.mark.parametrize("chunk_size", [1, 3, 4, 100])
def test_siglip_chunked_equals_unchunked(chunk_size: int) -> None:
    a, b = leaves((10, 8), (10, 8), seed=8)
    valid = torch.tensor([1, 1, 0, 1, 1, 1, 0, 1, 1, 1], dtype=torch.bool)
    full_fn = SigLIPLoss(init_temperature=3.0, init_bias=-2.0)
    chunked_fn = SigLIPLoss(init_temperature=3.0, init_bias=-2.0, chunk_size=chunk_size)
    full = full_fn(a, b, valid)
    chunked = chunked_fn(a, b, valid)
    assert_close(chunked, full)
    g_full = grads(full, [a, b, full_fn.logit_scale, full_fn.logit_bias])
    g_chunked = grads(chunked, [a, b, chunked_fn.logit_scale, chunked_fn.logit_bias])
    for x, y in zip(g_chunked, g_full, strict=True):
        assert_close(x, y)
    with torch.no_grad():
        assert_close(chunked_fn(a, b, valid), full.detach())


def test_siglip_missing_samples_do_not_change_the_others() -> None:
    a, b = leaves((9, 8), (9, 8), seed=9)
    valid = torch.tensor([1, 0, 1, 1, 0, 1, 1, 1, 1], dtype=torch.bool)
    loss_fn = SigLIPLoss(init_bias=-1.0)
    assert_same_value_and_grads(loss_fn(a, b, valid), loss_fn(a[valid], b[valid]), [a, b])


# --- Multimodal -----------------------------------------------------------------------------


@pytest.mark.parametrize("pair_loss", ["clip", "siglip"])
def test_multimodal_two_modalities_equals_pair_loss(pair_loss: str) -> None:
    a, b = leaves((8, 6), (8, 6), seed=10)
    loss_fn = MultiModalAlignmentLoss(["photometry", "spectrum"], pair_loss=pair_loss)  # type: ignore[arg-type]
    assert list(loss_fn.pairs) == ["photometry__spectrum"]
    pair_fn = CLIPLoss() if pair_loss == "clip" else SigLIPLoss()
    ours = loss_fn({"photometry": a, "spectrum": b})
    assert_same_value_and_grads(ours, pair_fn(a, b), [a, b])


def test_multimodal_missing_modalities() -> None:
    image, phot, spec = leaves((8, 6), (8, 6), (8, 6), seed=11)
    has_phot = torch.tensor([1, 1, 0, 1, 1, 0, 1, 1], dtype=torch.bool)
    has_spec = torch.tensor([1, 0, 0, 1, 0, 1, 1, 0], dtype=torch.bool)
    loss_fn = MultiModalAlignmentLoss(["image", "photometry", "spectrum"], init_temperature=0.1)
    embeddings = {"image": image, "photometry": phot, "spectrum": spec}
    present = {"photometry": has_phot, "spectrum": has_spec}
    pairs = loss_fn.pair_losses(embeddings, present)
    assert set(pairs) == {"image__photometry", "image__spectrum", "photometry__spectrum"}
    clip = CLIPLoss(init_temperature=0.1)
    both = has_phot & has_spec
    expected = {
        "image__photometry": clip(image[has_phot], phot[has_phot]),
        "image__spectrum": clip(image[has_spec], spec[has_spec]),
        "photometry__spectrum": clip(phot[both], spec[both]),
    }
    for key, value in expected.items():
        assert_close(pairs[key], value)
    total = loss_fn(embeddings, present)
    assert_same_value_and_grads(total, torch.stack(list(expected.values())).mean(), [phot, spec])

    # A pair without any valid sample is left out of the mean, not counted as zero.
    none = torch.zeros(8, dtype=torch.bool)
    total = loss_fn(embeddings, {"photometry": has_phot, "spectrum": none})
    assert_close(total, expected["image__photometry"])

    # A modality absent from the embeddings is skipped.
    assert_close(loss_fn({"image": image, "spectrum": spec}, present), expected["image__spectrum"])


def test_multimodal_all_missing_is_graph_connected_zero() -> None:
    x, y, z = leaves((4, 6), (4, 6), (4, 6), seed=12)
    loss_fn = MultiModalAlignmentLoss(["x", "y", "z"], pair_loss="siglip")
    none = torch.zeros(4, dtype=torch.bool)
    loss = loss_fn({"x": x, "y": y, "z": z}, {"x": none})
    assert_close(loss, SigLIPLoss()(y, z))
    loss = loss_fn({"x": x, "y": y, "z": z}, {"x": none, "y": none})
    assert loss.item() == 0.0
    loss.backward()
    assert x.grad is not None and torch.all(x.grad == 0)


def test_multimodal_rejects_bad_configuration() -> None:
    with pytest.raises(ValueError):
        MultiModalAlignmentLoss(["x"])
    with pytest.raises(ValueError):
        MultiModalAlignmentLoss(["x", "x"])
    with pytest.raises(ValueError):
        MultiModalAlignmentLoss(["x", "a__b"])
    with pytest.raises(ValueError):
        MultiModalAlignmentLoss(["x", "y"], pair_loss="triplet")  # type: ignore[arg-type]
    loss_fn = MultiModalAlignmentLoss(["x", "y"])
    with pytest.raises(ValueError):
        loss_fn({"x": torch.randn(2, 3)})
    with pytest.raises(ValueError):
        loss_fn({"x": torch.randn(2, 3), "w": torch.randn(2, 3)})


# --- DINO -----------------------------------------------------------------------------------


def test_dino_matches_lightly_over_two_calls() -> None:
    dim, batch = 32, 6
    kwargs: dict[str, Any] = {
        "warmup_teacher_temp": 0.04,
        "teacher_temp": 0.07,
        "warmup_teacher_temp_epochs": 10,
        "student_temp": 0.1,
        "center_momentum": 0.9,
    }
    ours_fn = DINOLoss(dim, **kwargs)
    ref_fn = LightlyDINOLoss(dim, **kwargs)
    for step, epoch in enumerate([0, 4]):
        generator = torch.Generator().manual_seed(100 + step)
        teacher = [torch.randn(batch, dim, generator=generator) * 3 for _ in range(2)]
        student = leaves(*[(batch, dim)] * 4, seed=200 + step)  # 2 global + 2 local views
        ours = ours_fn(teacher, student, epoch=epoch)
        ref = ref_fn(teacher, student, epoch=epoch)
        assert_same_value_and_grads(ours, ref, student)
        assert_close(ours_fn.center, ref_fn.center.view(1, dim))
    assert ours_fn.center.abs().sum() > 0


def test_dino_teacher_temperature_schedule() -> None:
    loss_fn = DINOLoss(
        8, warmup_teacher_temp=0.04, teacher_temp=0.07, warmup_teacher_temp_epochs=30
    )
    expected = np.linspace(0.04, 0.07, 30)
    for epoch in [0, 1, 15, 29]:
        assert math.isclose(loss_fn.teacher_temperature(epoch), expected[epoch], rel_tol=1e-9)
    assert loss_fn.teacher_temperature(30) == 0.07
    assert loss_fn.teacher_temperature(1000) == 0.07
    no_warmup = DINOLoss(
        8, warmup_teacher_temp=0.04, teacher_temp=0.07, warmup_teacher_temp_epochs=0
    )
    assert no_warmup.teacher_temperature(0) == 0.07


def test_dino_center_is_frozen_in_eval_and_views_are_checked() -> None:
    loss_fn = DINOLoss(8).eval()
    loss_fn([torch.randn(4, 8)] * 2, [torch.randn(4, 8)] * 2)
    assert torch.all(loss_fn.center == 0)
    with pytest.raises(ValueError):
        loss_fn([torch.randn(4, 8)], [torch.randn(4, 8)])


# --- MAE ------------------------------------------------------------------------------------


def mae_reference(pred: Tensor, target: Tensor, mask: Tensor, norm_pix_loss: bool) -> Tensor:
    """``MaskedAutoencoderViT.forward_loss`` of the official MAE code."""
    if norm_pix_loss:
        mean = target.mean(dim=-1, keepdim=True)
        var = target.var(dim=-1, keepdim=True)
        target = (target - mean) / (var + 1.0e-6) ** 0.5
    loss = (pred - target) ** 2
    loss = loss.mean(dim=-1)
    mask = mask.float()
    return (loss * mask).sum() / mask.sum()


@pytest.mark.parametrize("norm_target", [False, True])
def test_mae_matches_reference(norm_target: bool) -> None:
    (pred,) = leaves((3, 7, 5), seed=13)
    generator = torch.Generator().manual_seed(14)
    target = torch.randn(3, 7, 5, generator=generator) * 2 + 1
    mask = torch.rand(3, 7, generator=generator) < 0.6
    ours = MAELoss(norm_target=norm_target)(pred, target, mask)
    ref = mae_reference(pred, target, mask, norm_target)
    assert_same_value_and_grads(ours, ref, [pred])


@pytest.mark.parametrize("norm_target", [False, True])
def test_mae_target_mask_ignores_invalid_values(norm_target: bool) -> None:
    (pred,) = leaves((2, 4, 6), seed=15)
    generator = torch.Generator().manual_seed(16)
    target = torch.randn(2, 4, 6, generator=generator)
    mask = torch.tensor([[1, 0, 1, 1], [0, 1, 1, 0]], dtype=torch.bool)
    target_mask = torch.rand(2, 4, 6, generator=generator) < 0.7
    target_mask[0, 0] = False  # a masked token without any valid value
    target_mask[0, 2, 1:] = False  # a single valid value: variance of one sample
    target = target.masked_fill(~target_mask, float("nan"))  # padding may hold anything
    ours = MAELoss(norm_target=norm_target)(pred, target, mask, target_mask)

    terms = []
    for i, j in mask.nonzero().tolist():
        keep = target_mask[i, j]
        values = target[i, j][keep]
        if norm_target and keep.any():
            var = values.var() if len(values) > 1 else torch.tensor(0.0)
            values = (values - values.mean()) / (var + 1e-6) ** 0.5
        terms.append((pred[i, j][keep] - values) ** 2)
    ref = torch.cat(terms).mean()
    assert_same_value_and_grads(ours, ref, [pred])


def test_mae_nothing_masked_is_graph_connected_zero() -> None:
    (pred,) = leaves((2, 3, 4), seed=17)
    loss = MAELoss()(pred, torch.randn(2, 3, 4), torch.zeros(2, 3, dtype=torch.bool))
    assert loss.item() == 0.0 and loss.requires_grad


def test_mae_huber_matches_torch_and_bounds_the_pull_of_outliers() -> None:
    (pred,) = leaves((2, 5, 3), seed=17)
    generator = torch.Generator().manual_seed(18)
    target = torch.randn(2, 5, 3, generator=generator)
    target[0, 1, 0] = 50.0  # a bad frame: fifty sigma off
    mask = torch.tensor([[1, 1, 0, 1, 0], [0, 1, 1, 1, 1]], dtype=torch.bool)
    ours = MAELoss(huber_delta=1.0)(pred, target, mask)
    ref = F.huber_loss(pred[mask], target[mask], delta=1.0)
    assert_same_value_and_grads(ours, ref, [pred])

    # The outlier's gradient is capped at delta (divided by the count) instead of growing
    # with its error, as it does under the squared error.
    (huber_grad,) = grads(MAELoss(huber_delta=1.0)(pred, target, mask), [pred])
    (squared_grad,) = grads(MAELoss()(pred, target, mask), [pred])
    count = int(mask.sum()) * 3
    assert huber_grad[0, 1, 0].abs().item() == pytest.approx(1.0 / count)
    assert squared_grad[0, 1, 0].abs().item() > 40 * 2 / count
    with pytest.raises(ValueError, match="huber_delta"):
        MAELoss(huber_delta=0.0)
