"""A 2D or 3D patch tokenizer with a learned position table, the layout of public ViTs."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import Tensor, nn

from foundations.encoders.tokens import TokenBatch


def _as_tuple(value: int | Sequence[int], dims: int, name: str) -> tuple[int, ...]:
    values = (value,) * dims if isinstance(value, int) else tuple(int(v) for v in value)
    if len(values) != dims or min(values) <= 0:
        raise ValueError(f"{name} must be a positive int or {dims} positive ints, got {value}")
    return values


class LearnedPatchTokenizer(nn.Module):
    """Images ``[B, C, H, W]`` or volumes ``[B, C, X, Y, Z]`` -> one token per patch.

    The content embedding is a strided convolution (``proj``, kernel = stride = patch) and the
    position of each patch is a learned row of ``pos_embed`` ``[1, N, D]``, patches in
    row-major order (last axis fastest). This is the tokenizer of timm's and torchvision's
    ViTs, of DINOv2 and of MONAI's ``ViT`` (``proj_type="conv"``, learnable positions), so
    their checkpoints map onto it one tensor to one tensor (see ``foundations.hub.importers``).
    It takes only inputs of exactly ``input_size``: those positions are not resampled. The
    masked-modelling target is each patch's values flattened channel-last, like
    :class:`~foundations.encoders.patch2d.PatchTokenizer2d`.

    Args:
        in_channels: Input channels ``C``.
        input_size: Spatial size (one int for every axis, or one per axis).
        patch_size: Patch size (one int, or one per axis); must divide ``input_size``.
        embed_dim: Token width.
        spatial_dims: 2 (images) or 3 (volumes).

    Raises:
        ValueError: On a bad size or ``spatial_dims``.
    """

    def __init__(
        self,
        in_channels: int = 3,
        input_size: int | Sequence[int] = 224,
        patch_size: int | Sequence[int] = 16,
        embed_dim: int = 192,
        spatial_dims: int = 2,
    ) -> None:
        super().__init__()
        if spatial_dims not in (2, 3):
            raise ValueError(f"spatial_dims must be 2 or 3, got {spatial_dims}")
        size = _as_tuple(input_size, spatial_dims, "input_size")
        patch = _as_tuple(patch_size, spatial_dims, "patch_size")
        if any(s % p for s, p in zip(size, patch, strict=True)):
            raise ValueError(f"patch_size {patch} must divide input_size {size} on every axis")
        if in_channels <= 0 or embed_dim <= 0:
            raise ValueError(
                f"need positive in_channels and embed_dim, got {in_channels}, {embed_dim}"
            )
        self.in_channels = in_channels
        self.input_size = size
        self.patch_size = patch
        self.embed_dim = embed_dim
        self.spatial_dims = spatial_dims
        self.grid_size = tuple(s // p for s, p in zip(size, patch, strict=True))
        self.num_patches = math.prod(self.grid_size)
        self.target_dim = math.prod(patch) * in_channels
        conv = nn.Conv2d if spatial_dims == 2 else nn.Conv3d
        self.proj = conv(in_channels, embed_dim, kernel_size=patch, stride=patch)  # type: ignore[arg-type]
        self.pos_embed = nn.Parameter(torch.zeros(1, self.num_patches, embed_dim))
        nn.init.trunc_normal_(self.pos_embed, std=0.02)

    def patchify(self, values: Tensor) -> Tensor:
        """Values of each patch, ``[B, C, *size]`` -> ``[B, N, prod(patch) * C]``, channel-last."""
        b, c = values.shape[:2]
        shape: list[int] = [b, c]
        for s, p in zip(values.shape[2:], self.patch_size, strict=True):
            shape += [s // p, p]
        patches = values.reshape(shape)
        n = self.spatial_dims
        grid_axes = [2 + 2 * i for i in range(n)]
        inner_axes = [3 + 2 * i for i in range(n)]
        patches = patches.permute(0, *grid_axes, *inner_axes, 1)
        return patches.reshape(b, self.num_patches, self.target_dim)

    def forward(self, inputs: Tensor | Mapping[str, Any]) -> TokenBatch:
        """Tokenize a batch.

        Args:
            inputs: ``[B, in_channels, *input_size]``, or a mapping whose ``"values"`` is that
                tensor (the volume batches of the medical datamodules; other keys ignored).

        Returns:
            ``TokenBatch`` with ``tokens`` ``[B, N, D]``, ``pos`` ``[1, N, D]`` and ``target``.

        Raises:
            ValueError: Naming the expected and actual shapes.
        """
        values = inputs["values"] if isinstance(inputs, Mapping) else inputs
        expected = (self.in_channels, *self.input_size)
        if values.dim() != 2 + self.spatial_dims or tuple(values.shape[1:]) != expected:
            raise ValueError(
                f"LearnedPatchTokenizer expects [B, {', '.join(map(str, expected))}], "
                f"got {tuple(values.shape)}"
            )
        tokens = self.proj(values).flatten(2).transpose(1, 2)
        pos = self.pos_embed.to(tokens.dtype)
        return TokenBatch(tokens=tokens, pos=pos, target=self.patchify(values))
