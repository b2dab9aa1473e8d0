"""Tiny encoders and batches shared by the method tests."""

from __future__ import annotations

import lightning as L
import torch
from torch.utils.data import DataLoader, Dataset

from foundations.encoders import Encoder
from foundations.encoders.patch2d import PatchTokenizer2d


def tiny_encoder(modality: str = "image", pool: str = "mean", channels: int = 3) -> Encoder:
    tokenizer = PatchTokenizer2d(in_channels=channels, image_size=16, patch_size=4, embed_dim=32)
    return Encoder(tokenizer, modality=modality, depth=1, num_heads=4, pool=pool)  # type: ignore[arg-type]


class RandomImages(Dataset):
    """Fixed random images with a label: enough for a loss to go down when memorised."""

    def __init__(self, size: int = 64, channels: int = 3) -> None:
        generator = torch.Generator().manual_seed(0)
        self.images = torch.rand(size, channels, 16, 16, generator=generator)
        self.labels = torch.arange(size) % 4

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        return {"image": self.images[index], "label": self.labels[index]}


def fit(
    model: L.LightningModule, steps: int, dataset: Dataset | None = None, **kwargs
) -> L.Trainer:
    trainer = L.Trainer(
        max_steps=steps,
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        **kwargs,
    )
    loader = DataLoader(dataset or RandomImages(), batch_size=16, shuffle=True, drop_last=True)
    trainer.fit(model, loader)
    return trainer
