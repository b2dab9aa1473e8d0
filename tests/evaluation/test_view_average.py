"""ViewAveragedEncoder: embeddings averaged over seeded random views of each input."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import Tensor, nn

from evaluation.embeddings import extract_embeddings
from evaluation.view_average import ViewAveragedEncoder
from foundations.encoders import Encoder
from foundations.encoders.patch2d import PatchTokenizer2d
from foundations.methods import MAE, MultiModalAlignment, SimCLR


class Jitter(nn.Module):
    """Adds Gaussian noise in training mode; the identity in eval mode."""

    def forward(self, x: Tensor) -> Tensor:
        return x + 0.5 * torch.randn_like(x) if self.training else x


def _encoder(modality: str = "image") -> Encoder:
    torch.manual_seed(0)
    tokenizer = PatchTokenizer2d(in_channels=3, image_size=16, patch_size=4, embed_dim=32)
    return Encoder(tokenizer, modality=modality, depth=1, num_heads=4, pool="mean").eval()


def test_average_equals_the_mean_over_the_input_and_its_seeded_views() -> None:
    encoder, views = _encoder(), Jitter().eval()
    averaged = ViewAveragedEncoder(encoder, views, count=3, seed=7)
    x = torch.rand(4, 3, 16, 16)
    with torch.no_grad():
        out = averaged(x)
        torch.manual_seed(7)
        views.train()
        reference = torch.stack([encoder(x)] + [encoder(views(x)) for _ in range(3)]).mean(0)
        views.eval()
        torch.testing.assert_close(out, reference)
        # A different input embedding than the single view, the same one on every call.
        assert not torch.allclose(out, encoder(x), atol=1e-4)
        torch.testing.assert_close(averaged(x), out)
    assert not views.training  # back in the mode it was in


def test_caller_random_state_is_untouched() -> None:
    averaged = ViewAveragedEncoder(_encoder(), Jitter(), count=2)
    torch.manual_seed(3)
    expected = torch.rand(5)
    torch.manual_seed(3)
    with torch.no_grad():
        averaged(torch.zeros(2, 3, 16, 16))
    assert torch.equal(torch.rand(5), expected)


def test_count_is_checked_and_modality_kept_for_extraction() -> None:
    with pytest.raises(ValueError, match="count"):
        ViewAveragedEncoder(_encoder(), Jitter(), count=0)
    averaged = ViewAveragedEncoder(_encoder("optical"), Jitter(), count=2)
    batches = [{"optical": torch.rand(3, 3, 16, 16), "label": torch.tensor([0, 1, 2])}]
    embeddings, labels = extract_embeddings(averaged, batches, device="cpu")
    assert embeddings.shape == (3, 32) and np.isfinite(embeddings).all()
    assert labels is not None and labels.tolist() == [0, 1, 2]


def test_methods_name_the_views_their_embedding_encoder_was_pretrained_on() -> None:
    views = Jitter()
    assert MAE(_encoder(), augment=views, target_dim=48).embedding_views() is views
    assert MAE(_encoder(), target_dim=48).embedding_views() is None
    assert SimCLR(_encoder(), augment=views).embedding_views() is views
    encoders = {"optical": _encoder("optical"), "radio": _encoder("radio")}
    aligned = MultiModalAlignment(encoders, embed_dim=8, augment={"optical": views})
    assert aligned.embedding_views() is views
    only_radio = MultiModalAlignment(
        {"optical": _encoder("optical"), "radio": _encoder("radio")},
        embed_dim=8,
        augment={"radio": views},
    )
    assert only_radio.embedding_views() is None
