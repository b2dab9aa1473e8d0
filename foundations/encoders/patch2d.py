"""A generic 2D patch tokenizer for images with a fixed channel count."""

from __future__ import annotations

import torch
from timm.layers import PatchEmbed
from torch import Tensor, nn

from foundations.encoders.tokens import TokenBatch


def sincos_pos_embed_2d(embed_dim: int, grid_height: int, grid_width: int) -> Tensor:
    """Fixed 2D sine-cosine positional embedding of MAE (He et al., 2022), row-major order.

    The first half of the channels encodes the column, the second half the row, each as
    ``[sin(pos * w_k), cos(pos * w_k)]`` with ``w_k = 10000 ** (-k / (D / 4))``. This is MAE's
    ``get_2d_sincos_pos_embed``; it is written here because timm's ``build_sincos2d_pos_embed``
    uses a different channel layout.

    Args:
        embed_dim: Embedding width ``D``, a multiple of 4.
        grid_height: Patches per column.
        grid_width: Patches per row.

    Returns:
        float32 ``[grid_height * grid_width, embed_dim]``.

    Raises:
        ValueError: When ``embed_dim`` is not a multiple of 4.
    """
    if embed_dim % 4 != 0:
        raise ValueError(f"embed_dim must be a multiple of 4 for 2D sin-cos, got {embed_dim}")
    quarter = embed_dim // 4
    omega = 1.0 / 10000 ** (torch.arange(quarter, dtype=torch.float64) / quarter)
    rows, cols = torch.meshgrid(
        torch.arange(grid_height, dtype=torch.float64),
        torch.arange(grid_width, dtype=torch.float64),
        indexing="ij",
    )

    def encode(positions: Tensor) -> Tensor:
        angles = positions.reshape(-1, 1) * omega
        return torch.cat([angles.sin(), angles.cos()], dim=1)

    return torch.cat([encode(cols), encode(rows)], dim=1).float()


class PatchTokenizer2d(nn.Module):
    """Images ``[B, C, H, W]`` -> one token per non-overlapping square patch.

    Patches are taken in row-major order. The content embedding is timm's ``PatchEmbed`` (a
    strided convolution, no norm); positions are the fixed MAE sin-cos table; the
    masked-modelling target is the raw pixels of each patch, flattened as ``(ph, pw, C)``
    like MAE's ``patchify``.

    Args:
        in_channels: Image channels ``C``.
        image_size: Image height and width.
        patch_size: Patch height and width; must divide ``image_size``.
        embed_dim: Token width, a multiple of 4.

    Raises:
        ValueError: When ``patch_size`` does not divide ``image_size`` or ``embed_dim`` is not
            a multiple of 4.
    """

    pos_embed: Tensor

    def __init__(
        self, in_channels: int = 3, image_size: int = 32, patch_size: int = 4, embed_dim: int = 64
    ) -> None:
        super().__init__()
        if patch_size <= 0 or image_size % patch_size != 0:
            raise ValueError(
                f"patch_size {patch_size} must be positive and divide image_size {image_size}"
            )
        self.in_channels = in_channels
        self.image_size = image_size
        self.patch_size = patch_size
        self.embed_dim = embed_dim
        self.grid_size = image_size // patch_size
        self.num_patches = self.grid_size**2
        self.target_dim = patch_size * patch_size * in_channels
        self.patch_embed = PatchEmbed(
            img_size=image_size,
            patch_size=patch_size,
            in_chans=in_channels,
            embed_dim=embed_dim,
            norm_layer=None,
            flatten=True,
        )
        pos = sincos_pos_embed_2d(embed_dim, self.grid_size, self.grid_size)
        self.register_buffer("pos_embed", pos.unsqueeze(0), persistent=False)

    def _check(self, images: Tensor) -> None:
        expected = (self.in_channels, self.image_size, self.image_size)
        if images.dim() != 4 or tuple(images.shape[1:]) != expected:
            raise ValueError(
                f"PatchTokenizer2d expects images [B, {expected[0]}, {expected[1]}, "
                f"{expected[2]}] (patch_size {self.patch_size}), got {tuple(images.shape)}"
            )

    def patchify(self, images: Tensor) -> Tensor:
        """Pixels of each patch: ``[B, C, H, W]`` -> ``[B, N, patch_size**2 * C]``, row-major."""
        b, c, h, w = images.shape
        p = self.patch_size
        patches = images.reshape(b, c, h // p, p, w // p, p)
        return patches.permute(0, 2, 4, 3, 5, 1).reshape(b, (h // p) * (w // p), p * p * c)

    def forward(self, images: Tensor) -> TokenBatch:
        """Tokenize a batch.

        Args:
            images: ``[B, in_channels, image_size, image_size]``.

        Returns:
            ``TokenBatch`` with ``tokens`` ``[B, N, D]``, ``pos`` ``[1, N, D]``, no padding and
            ``target`` ``[B, N, patch_size**2 * C]``.

        Raises:
            ValueError: Naming expected and actual shapes when ``images`` does not match.
        """
        self._check(images)
        tokens = self.patch_embed(images)
        pos = self.pos_embed.to(dtype=tokens.dtype)
        return TokenBatch(tokens=tokens, pos=pos, padding_mask=None, target=self.patchify(images))
