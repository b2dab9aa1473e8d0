"""Medical tokenizers: anisotropic 3D patches and radiograph patches placed in millimetres.

Positions are physical rather than grid indices: each patch centre's coordinate in millimetres,
relative to the centre of the array, goes through a fixed sine-cosine embedding whose wavelengths
are set in millimetres (:data:`MIN_WAVELENGTH_MM` to :data:`MAX_WAVELENGTH_MM`). The same voxel
grid at a different spacing therefore gets different positions, and two arrays covering the same
physical extent get the same positions whatever their voxel counts. This lets one model see a
thin-slice and a thick-slice CT, or a resampled crop, in a common frame.

The content embedding of volumes is MONAI's ``PatchEmbed`` (a ``Conv3d`` with stride equal to
the anisotropic patch, no norm); radiographs use timm's ``PatchEmbed`` like
:class:`~foundations.encoders.patch2d.PatchTokenizer2d`. The physical positional embedding is
written by hand: MONAI's ``PatchEmbeddingBlock`` and timm only offer tables over grid indices.
"""

from __future__ import annotations

import math
from typing import Any, Literal

import torch
from monai.networks.blocks.patchembedding import PatchEmbed as MonaiPatchEmbed
from timm.layers import PatchEmbed
from torch import Tensor, nn

from foundations.encoders.encoder import Encoder
from foundations.encoders.patch2d import sincos_pos_embed_2d
from foundations.encoders.pooling import AttentionPool
from foundations.encoders.tokens import TokenBatch
from foundations.host_sync import require

MIN_WAVELENGTH_MM = 1.0
"""Shortest wavelength of the physical positional embedding: resolves sub-millimetre pitches."""

MAX_WAVELENGTH_MM = 10_000.0
"""Longest wavelength (10 m): several times any body extent, so positions never wrap around.

The ratio of 10^4 between the two matches the dynamic range of MAE's grid table (base 10000).
"""


def physical_sincos_embedding(
    coords_mm: Tensor,
    embed_dim: int,
    min_wavelength_mm: float = MIN_WAVELENGTH_MM,
    max_wavelength_mm: float = MAX_WAVELENGTH_MM,
) -> Tensor:
    """Fixed sine-cosine embedding of physical coordinates.

    Each of the ``A`` axes gets ``F = embed_dim // (2 * A)`` frequencies with wavelengths spaced
    geometrically from ``max_wavelength_mm`` down to ``min_wavelength_mm`` and is encoded as
    ``[sin(2 pi x / lambda_k), cos(2 pi x / lambda_k)]``; axes are concatenated in order and
    the ``embed_dim - 2 * A * F`` remaining channels are zero.

    Args:
        coords_mm: Coordinates in millimetres ``[..., A]``.
        embed_dim: Output width; at least ``2 * A``.
        min_wavelength_mm: Shortest wavelength.
        max_wavelength_mm: Longest wavelength.

    Returns:
        float32 ``[..., embed_dim]``.

    Raises:
        ValueError: When ``embed_dim`` is too small or the wavelengths are not
            ``0 < min <= max``.
    """
    num_axes = coords_mm.shape[-1]
    freqs = embed_dim // (2 * num_axes)
    if freqs < 1:
        raise ValueError(
            f"embed_dim must be >= {2 * num_axes} for {num_axes} axes, got {embed_dim}"
        )
    if not 0 < min_wavelength_mm <= max_wavelength_mm:
        raise ValueError(
            "wavelengths must satisfy 0 < min <= max, got "
            f"min={min_wavelength_mm}, max={max_wavelength_mm}"
        )
    wavelengths = torch.logspace(
        math.log10(max_wavelength_mm),
        math.log10(min_wavelength_mm),
        freqs,
        dtype=torch.float64,
    )
    omega = (2 * math.pi / wavelengths).to(device=coords_mm.device, dtype=torch.float32)
    angles = coords_mm.float().unsqueeze(-1) * omega  # [..., A, F]
    encoded = torch.cat([angles.sin(), angles.cos()], dim=-1).flatten(-2)  # [..., A * 2F]
    padding = embed_dim - encoded.shape[-1]
    if padding:
        encoded = nn.functional.pad(encoded, (0, padding))
    return encoded


def patch_centres_mm(grid: tuple[int, ...], patch_size: tuple[int, ...], spacing: Tensor) -> Tensor:
    """Physical coordinates of patch centres relative to the array centre, row-major order.

    Voxel ``i`` spans ``[i, i + 1)`` in index units, so the centre of patch ``g`` along an axis
    is ``(g + 0.5) * p`` and the array centre is ``grid * p / 2``.

    Args:
        grid: Patches per axis.
        patch_size: Voxels per patch along each axis.
        spacing: Voxel size in millimetres ``[B, A]``.

    Returns:
        ``[B, prod(grid), A]`` in millimetres.
    """
    axes = [
        (torch.arange(g, device=spacing.device, dtype=torch.float32) + 0.5) * p - g * p / 2
        for g, p in zip(grid, patch_size, strict=True)
    ]
    mesh = torch.meshgrid(*axes, indexing="ij")
    offsets = torch.stack(mesh, dim=-1).reshape(-1, len(grid))
    return offsets.unsqueeze(0) * spacing.float().unsqueeze(1)


def patchify(values: Tensor, patch_size: tuple[int, ...]) -> Tensor:
    """Values of each non-overlapping patch, row-major over patches.

    For 2D this is :meth:`PatchTokenizer2d.patchify` (and MAE's ``patchify``): each patch is
    flattened as ``(p_1, ..., p_n, C)``.

    Args:
        values: ``[B, C, S_1, ..., S_n]`` with every ``S_i`` a multiple of ``patch_size[i]``.
        patch_size: ``(p_1, ..., p_n)``.

    Returns:
        ``[B, prod(S_i / p_i), prod(p_i) * C]``.
    """
    b, c, *sizes = values.shape
    n = len(patch_size)
    grid = [s // p for s, p in zip(sizes, patch_size, strict=True)]
    split = [b, c]
    for g, p in zip(grid, patch_size, strict=True):
        split += [g, p]
    order = [0, *(2 + 2 * i for i in range(n)), *(3 + 2 * i for i in range(n)), 1]
    patches = values.reshape(split).permute(order)
    return patches.reshape(b, math.prod(grid), math.prod(patch_size) * c)


def _check_inputs(
    inputs: Any,
    owner: str,
    in_channels: int,
    patch_size: tuple[int, ...],
    default_size: tuple[int, ...],
    need_spacing: bool = True,
) -> tuple[Tensor, Tensor | None]:
    """Validate ``{"values": [B, C, *S], "spacing": [B, A] or [A]}``; spacing comes out [B, A]."""
    n = len(patch_size)
    axes = "X, Y, Z" if n == 3 else "H, W"
    expected = (
        f"{owner} expects {{'values': [B, {in_channels}, {axes}], 'spacing': [B, {n}]}} with "
        f"{axes} multiples of patch_size {patch_size} (default size {default_size})"
    )
    if not isinstance(inputs, dict) or "values" not in inputs:
        got = f"a dict with keys {sorted(inputs)}" if isinstance(inputs, dict) else type(inputs)
        raise ValueError(f"{expected}, got {got}")
    values = inputs["values"]
    shape = tuple(values.shape)
    if (
        values.dim() != n + 2
        or shape[1] != in_channels
        or any(s % p or s == 0 for s, p in zip(shape[2:], patch_size, strict=True))
    ):
        raise ValueError(f"{expected}, got values {shape}")
    spacing = inputs.get("spacing")
    if spacing is None:
        if need_spacing:
            raise ValueError(f"{expected}, got no 'spacing'")
        return values, None
    spacing = torch.as_tensor(spacing, device=values.device)
    if spacing.dim() == 1:
        spacing = spacing.unsqueeze(0)
    if spacing.dim() != 2 or spacing.shape[-1] != n or spacing.shape[0] not in (1, shape[0]):
        raise ValueError(f"{expected}, got spacing {tuple(spacing.shape)}")
    require(
        (spacing > 0) & spacing.isfinite(),
        f"{owner}: spacing must be positive and finite millimetres",
    )
    return values, spacing.float().expand(shape[0], n)


def _as_triple(value: int | tuple[int, int, int], name: str) -> tuple[int, int, int]:
    triple = (value, value, value) if isinstance(value, int) else tuple(value)
    if len(triple) != 3:
        raise ValueError(f"{name} must be an int or three ints (X, Y, Z), got {value}")
    return (int(triple[0]), int(triple[1]), int(triple[2]))


class PatchTokenizer3d(nn.Module):
    """Volumes ``{"values": [B, C, X, Y, Z], "spacing": [B, 3]}`` -> one token per 3D patch.

    Patches are non-overlapping boxes of ``patch_size`` voxels (anisotropic patches suit
    thick-slice CT, e.g. ``(16, 16, 4)``), ordered row-major over ``(X, Y, Z)`` (Z fastest).
    The content embedding is MONAI's ``PatchEmbed`` (a ``Conv3d`` whose kernel and stride are
    the patch; norm disabled). ``pos`` is :func:`physical_sincos_embedding` of each patch
    centre in millimetres (voxel offset from the volume centre times ``spacing``), per sample.
    The masked-modelling target is the voxels of each patch flattened as ``(px, py, pz, C)``.

    Any volume whose sides are multiples of ``patch_size`` is accepted (so DINO's smaller local
    crops work); ``volume_size`` is the size the model is built for and sets ``num_patches``.

    Args:
        in_channels: Channels ``C`` (1 for CT/MRI; more for multi-sequence MRI).
        volume_size: Expected ``(X, Y, Z)`` in voxels, a multiple of ``patch_size`` per axis.
        patch_size: Patch ``(px, py, pz)`` in voxels.
        embed_dim: Token width; with a multiple of 6 every channel carries position.
        min_wavelength_mm: Shortest wavelength of the positional embedding.
        max_wavelength_mm: Longest wavelength of the positional embedding.

    Raises:
        ValueError: When ``patch_size`` does not divide ``volume_size`` or a size is not
            positive.
    """

    def __init__(
        self,
        in_channels: int = 1,
        volume_size: int | tuple[int, int, int] = (96, 96, 96),
        patch_size: int | tuple[int, int, int] = (16, 16, 16),
        embed_dim: int = 192,
        min_wavelength_mm: float = MIN_WAVELENGTH_MM,
        max_wavelength_mm: float = MAX_WAVELENGTH_MM,
    ) -> None:
        super().__init__()
        volume = _as_triple(volume_size, "volume_size")
        patch = _as_triple(patch_size, "patch_size")
        if min(*patch, *volume) <= 0 or any(v % p for v, p in zip(volume, patch, strict=True)):
            raise ValueError(
                f"patch_size {patch} must be positive and divide volume_size {volume} per axis"
            )
        if in_channels <= 0 or embed_dim < 6:
            raise ValueError(
                f"need in_channels >= 1 and embed_dim >= 6, got {in_channels}, {embed_dim}"
            )
        # Fail at construction, not at the first batch, on a bad width or wavelength range.
        physical_sincos_embedding(
            torch.zeros(1, 3), embed_dim, min_wavelength_mm, max_wavelength_mm
        )
        self.in_channels = in_channels
        self.volume_size = volume
        self.patch_size = patch
        self.embed_dim = embed_dim
        self.min_wavelength_mm = min_wavelength_mm
        self.max_wavelength_mm = max_wavelength_mm
        self.grid_size = tuple(v // p for v, p in zip(volume, patch, strict=True))
        self.num_patches = math.prod(self.grid_size)
        self.target_dim = math.prod(patch) * in_channels
        self.patch_embed = MonaiPatchEmbed(
            patch_size=patch,
            in_chans=in_channels,
            embed_dim=embed_dim,
            norm_layer=None,  # type: ignore[arg-type]
            spatial_dims=3,
        )

    def patchify(self, values: Tensor) -> Tensor:
        """Voxels of each patch: ``[B, C, X, Y, Z]`` -> ``[B, N, px * py * pz * C]``."""
        return patchify(values, self.patch_size)

    def forward(self, inputs: dict[str, Tensor]) -> TokenBatch:
        """Tokenize a batch of volumes.

        Args:
            inputs: ``{"values": [B, in_channels, X, Y, Z], "spacing": [B, 3] or [3]}`` with
                spacing in millimetres; other keys are ignored.

        Returns:
            ``TokenBatch`` with ``tokens`` and ``pos`` ``[B, N, D]``, no padding and
            ``target`` ``[B, N, target_dim]``.

        Raises:
            ValueError: Naming what was expected when the inputs do not match.
        """
        values, spacing = _check_inputs(
            inputs, type(self).__name__, self.in_channels, self.patch_size, self.volume_size
        )
        assert spacing is not None
        tokens = self.patch_embed(values).flatten(2).transpose(1, 2)
        grid = tuple(s // p for s, p in zip(values.shape[2:], self.patch_size, strict=True))
        centres = patch_centres_mm(grid, self.patch_size, spacing)
        pos = physical_sincos_embedding(
            centres, self.embed_dim, self.min_wavelength_mm, self.max_wavelength_mm
        )
        return TokenBatch(tokens=tokens, pos=pos.to(tokens.dtype), target=self.patchify(values))


class RadiographTokenizer(nn.Module):
    """Radiographs ``{"values": [B, C, H, W], "spacing": [B, 2]}`` -> one token per patch.

    Content embedding and target are those of
    :class:`~foundations.encoders.patch2d.PatchTokenizer2d` (timm's ``PatchEmbed``; pixels
    flattened as ``(ph, pw, C)``). Positions are physical, as for :class:`PatchTokenizer3d`,
    or with ``physical_positions=False`` MAE's fixed grid table (then ``spacing`` is optional
    and ignored). Any height and width that are multiples of ``patch_size`` are accepted.

    Args:
        in_channels: Channels ``C``.
        image_size: Side the model is built for; sets ``num_patches``.
        patch_size: Square patch side in pixels; must divide ``image_size``.
        embed_dim: Token width, a multiple of 4.
        physical_positions: Encode patch centres in millimetres (``True``) or grid indices.
        min_wavelength_mm: Shortest wavelength of the physical embedding.
        max_wavelength_mm: Longest wavelength of the physical embedding.

    Raises:
        ValueError: When ``patch_size`` does not divide ``image_size`` or ``embed_dim`` is not
            a multiple of 4.
    """

    pos_embed: Tensor

    def __init__(
        self,
        in_channels: int = 1,
        image_size: int = 224,
        patch_size: int = 16,
        embed_dim: int = 192,
        physical_positions: bool = True,
        min_wavelength_mm: float = MIN_WAVELENGTH_MM,
        max_wavelength_mm: float = MAX_WAVELENGTH_MM,
    ) -> None:
        super().__init__()
        if patch_size <= 0 or image_size <= 0 or image_size % patch_size:
            raise ValueError(
                f"patch_size {patch_size} must be positive and divide image_size {image_size}"
            )
        if embed_dim <= 0 or embed_dim % 4:
            raise ValueError(f"embed_dim must be a positive multiple of 4, got {embed_dim}")
        # Fail at construction, not at the first batch, on a bad width or wavelength range.
        physical_sincos_embedding(
            torch.zeros(1, 2), embed_dim, min_wavelength_mm, max_wavelength_mm
        )
        self.in_channels = in_channels
        self.image_size = image_size
        self.patch_size = patch_size
        self.embed_dim = embed_dim
        self.physical_positions = physical_positions
        self.min_wavelength_mm = min_wavelength_mm
        self.max_wavelength_mm = max_wavelength_mm
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
            strict_img_size=False,
        )
        table = sincos_pos_embed_2d(embed_dim, self.grid_size, self.grid_size)
        self.register_buffer("pos_embed", table.unsqueeze(0), persistent=False)

    def patchify(self, values: Tensor) -> Tensor:
        """Pixels of each patch: ``[B, C, H, W]`` -> ``[B, N, patch_size**2 * C]``, row-major."""
        return patchify(values, (self.patch_size, self.patch_size))

    def _grid_pos(self, grid_h: int, grid_w: int, device: torch.device) -> Tensor:
        if grid_h == grid_w == self.grid_size:
            return self.pos_embed
        return sincos_pos_embed_2d(self.embed_dim, grid_h, grid_w).unsqueeze(0).to(device)

    def forward(self, inputs: dict[str, Tensor]) -> TokenBatch:
        """Tokenize a batch of radiographs.

        Args:
            inputs: ``{"values": [B, in_channels, H, W], "spacing": [B, 2] or [2]}`` with
                spacing ``(row, column)`` pixel size in millimetres.

        Returns:
            ``TokenBatch`` with ``tokens`` ``[B, N, D]``, ``pos`` ``[B, N, D]`` (physical) or
            ``[1, N, D]`` (grid table), no padding and ``target`` ``[B, N, p * p * C]``.

        Raises:
            ValueError: Naming what was expected when the inputs do not match.
        """
        patch = (self.patch_size, self.patch_size)
        values, spacing = _check_inputs(
            inputs,
            type(self).__name__,
            self.in_channels,
            patch,
            (self.image_size, self.image_size),
            need_spacing=self.physical_positions,
        )
        tokens = self.patch_embed(values)
        grid = (values.shape[2] // self.patch_size, values.shape[3] // self.patch_size)
        if spacing is not None and self.physical_positions:
            centres = patch_centres_mm(grid, patch, spacing)
            pos = physical_sincos_embedding(
                centres, self.embed_dim, self.min_wavelength_mm, self.max_wavelength_mm
            )
        else:
            pos = self._grid_pos(*grid, values.device)
        return TokenBatch(tokens=tokens, pos=pos.to(tokens.dtype), target=self.patchify(values))


class SliceAdapter(nn.Module):
    """Embed volumes with a 2D encoder, slice by slice, then pool the slices (RadCLIP's idea).

    RadCLIP (Lu et al., 2024, https://arxiv.org/abs/2403.09948) reuses a 2D radiograph
    encoder for CT/MRI by embedding each slice and pooling the slice embeddings with a learned
    attention pooling. Axial slices (fixed ``Z``) of a RAS+ volume are shown in radiological
    display orientation, as radiologists read them: rows run anterior to posterior (``-Y``),
    columns patient right to left (``-X``); the slice spacing passed on is ``(sy, sx)``.

    Exposes ``modality``, ``out_dim`` and ``forward(inputs) -> [B, D]`` like
    :class:`~foundations.encoders.Encoder`, so any method or evaluation protocol that embeds
    through an encoder can use it (it has no tokenizer, so not MAE).

    Args:
        encoder: The 2D encoder. With a :class:`RadiographTokenizer` it receives
            ``{"values": [S, C, Y, X], "spacing": [S, 2]}``; with any other tokenizer the bare
            ``values`` tensor.
        slice_stride: Embed every ``slice_stride``-th axial slice, starting at the first.
        pool: ``"attention"`` (a learned query over the slices) or ``"mean"``.
        num_heads: Heads of the attention pooling.
        slices_per_pass: At most this many slices (over the whole batch) go through the 2D
            encoder at once, to bound memory; ``None`` runs them all together.
        modality: The sample key this adapter reads.

    Raises:
        ValueError: On an invalid configuration.
    """

    def __init__(
        self,
        encoder: Encoder,
        slice_stride: int = 1,
        pool: Literal["attention", "mean"] = "attention",
        num_heads: int = 4,
        slices_per_pass: int | None = None,
        modality: str = "volume",
    ) -> None:
        super().__init__()
        if slice_stride <= 0:
            raise ValueError(f"slice_stride must be positive, got {slice_stride}")
        if pool not in ("attention", "mean"):
            raise ValueError(f"pool must be 'attention' or 'mean', got {pool!r}")
        if slices_per_pass is not None and slices_per_pass <= 0:
            raise ValueError(f"slices_per_pass must be positive or None, got {slices_per_pass}")
        self.slice_encoder = encoder
        self.slice_stride = slice_stride
        self.pool_kind = pool
        self.slices_per_pass = slices_per_pass
        self.modality = modality
        self.attention_pool = (
            AttentionPool(encoder.out_dim, num_heads) if pool == "attention" else None
        )

    @property
    def out_dim(self) -> int:
        return self.slice_encoder.out_dim

    @property
    def embed_dim(self) -> int:
        return self.slice_encoder.out_dim

    @property
    def trunk(self) -> nn.Module:
        """The 2D encoder's trunk (for protocols that count its blocks)."""
        return self.slice_encoder.trunk

    def slices(self, inputs: dict[str, Tensor]) -> tuple[Tensor, Tensor]:
        """Axial slices in display orientation.

        Args:
            inputs: ``{"values": [B, C, X, Y, Z], "spacing": [B, 3] or [3]}``.

        Returns:
            Slices ``[B, S, C, Y, X]`` and their spacing ``[B, S, 2]`` (``(sy, sx)``).

        Raises:
            ValueError: When the inputs are not a volume batch.
        """
        if not isinstance(inputs, dict) or "values" not in inputs or "spacing" not in inputs:
            raise ValueError(
                "SliceAdapter expects {'values': [B, C, X, Y, Z], 'spacing': [B, 3]}, got "
                + (f"keys {sorted(inputs)}" if isinstance(inputs, dict) else str(type(inputs)))
            )
        values = inputs["values"]
        spacing = torch.as_tensor(inputs["spacing"], device=values.device).float()
        if spacing.dim() == 1:
            spacing = spacing.unsqueeze(0)
        if values.dim() != 5 or tuple(spacing.shape[1:]) != (3,):
            raise ValueError(
                "SliceAdapter expects values [B, C, X, Y, Z] and spacing [B, 3], got "
                f"{tuple(values.shape)} and {tuple(spacing.shape)}"
            )
        b = values.shape[0]
        picked = values[..., :: self.slice_stride]  # [B, C, X, Y, S]
        # img[row, col] = volume[X - 1 - col, Y - 1 - row]: flip X and Y, then swap them.
        display = picked.flip(2, 3).permute(0, 4, 1, 3, 2)  # [B, S, C, Y, X]
        plane = spacing.expand(b, 3)[:, [1, 0]]
        return display, plane.unsqueeze(1).expand(b, display.shape[1], 2)

    def forward(self, inputs: dict[str, Tensor]) -> Tensor:
        """Embed a batch of volumes into ``[B, D]``."""
        slices, spacing = self.slices(inputs)
        b, s = slices.shape[:2]
        flat_slices, flat_spacing = slices.flatten(0, 1), spacing.flatten(0, 1)
        step = self.slices_per_pass or flat_slices.shape[0]
        wants_dict = isinstance(getattr(self.slice_encoder, "tokenizer", None), RadiographTokenizer)
        chunks = []
        for start in range(0, flat_slices.shape[0], step):
            images = flat_slices[start : start + step]
            batch: Any = images
            if wants_dict:
                batch = {"values": images, "spacing": flat_spacing[start : start + step]}
            chunks.append(self.slice_encoder(batch))
        embeddings = torch.cat(chunks).view(b, s, -1)
        if self.attention_pool is not None:
            return self.attention_pool(embeddings)
        return embeddings.mean(dim=1)
