"""Any-band patch tokenizer: one set of weights for any sensor, conditioned on band wavelengths.

Written by hand because neither timm nor torchgeo ships a patch embedding whose projection is
generated from each band's wavelength *and* that honours nodata masks, time series and a
masked-modelling target. The idea of dynamic, wavelength-generated patch weights comes from
DOFA (Xiong et al., 2024, "Neural Plasticity-Inspired Multimodal Foundation Model for Earth
Observation", https://arxiv.org/abs/2403.15356); the optional band grouping follows ChannelViT
(Bao et al., 2024) and SatMAE (Cong et al., 2022).
"""

from __future__ import annotations

import math
from typing import Any, Literal

import torch
from torch import Tensor, nn

from foundations.encoders.patch2d import sincos_pos_embed_2d
from foundations.encoders.tokens import TokenBatch
from foundations.host_sync import require

DEFAULT_GROUPS: list[list[float]] = [[0.4, 0.7], [0.7, 1.0], [1.0, 3.0]]
"""Visible, red-edge + NIR, SWIR (micrometres, ``[low, high)``); anything else is "other"."""

_WAVE_DIM = 128
_HIDDEN_DIM = 128
# Angular frequencies over ln(wavelength / 1 um): the slowest has a period (~125) longer than
# the whole span from 0.3 um to SAR's ~5.5e4 um (ln range ~12), the fastest resolves ~1 nm
# steps of hyperspectral sensors.
_MIN_FREQ = 0.05
_MAX_FREQ = 200.0


def wavelength_embedding(wavelengths: Tensor, dim: int = _WAVE_DIM) -> Tensor:
    """Sinusoidal embedding of log-wavelength.

    A log scale gives visible bands tens of nanometres apart, thermal bands microns apart and
    C-band SAR (~5.5 cm) comparable resolution in the embedding.

    Args:
        wavelengths: Band centre wavelengths in micrometres, any shape ``[...]``.
        dim: Embedding width (even).

    Returns:
        float32 ``[..., dim]``.
    """
    half = dim // 2
    freqs = torch.logspace(
        math.log10(_MIN_FREQ),
        math.log10(_MAX_FREQ),
        half,
        device=wavelengths.device,
        dtype=torch.float32,
    )
    angles = wavelengths.float().log().unsqueeze(-1) * freqs
    return torch.cat([angles.sin(), angles.cos()], dim=-1)


def sincos_time_embedding(days: Tensor, embed_dim: int) -> Tensor:
    """1D sine-cosine embedding of acquisition dates in days (irregular revisits welcome).

    Args:
        days: Dates in days (e.g. since 1970-01-01), any shape ``[...]``.
        embed_dim: Embedding width (even).

    Returns:
        float32 ``[..., embed_dim]``.
    """
    half = embed_dim // 2
    omega = 1.0 / 10000 ** (torch.arange(half, device=days.device, dtype=torch.float32) / half)
    angles = days.float().unsqueeze(-1) * omega
    return torch.cat([angles.sin(), angles.cos()], dim=-1)


class WavelengthPatchTokenizer(nn.Module):
    """Multispectral / hyperspectral / SAR rasters -> patch tokens, for any band set.

    A small MLP maps each band's wavelength embedding to that band's ``[embed_dim, p * p]``
    projection. A token is the sum over bands of each band's projected patch, divided by
    ``sqrt`` of the number of bands with at least one valid pixel in that patch, plus one
    shared bias. The sum makes tokens invariant to band order, and a fully-invalid band adds
    nothing, exactly as if it were absent. Invalid pixels are zeroed before projection.

    With ``grouping="grouped"`` bands are split by wavelength range (``groups``, plus an
    implicit "other" group for bands outside every range) and each non-empty group gives its
    own tokens, tagged by a learned group embedding in ``pos``. Trade-off: the model can attend
    across spectral regions and MAE can mask whole groups (spectral in-painting), but N, and so
    attention cost, grows with the number of groups (quadratically for attention).

    Tokens are ordered time-major, then group, then row-major patches. ``pos`` is MAE's 2D
    sin-cos table, plus a sinusoidal embedding of each acquisition date (in days, so irregular
    revisits work) for time series, plus the group embedding in grouped mode. The target is
    every patch's values flattened as ``(ph, pw, C)``; in grouped mode each token's target mask
    covers only its group's bands.

    Args:
        image_size: Side of the expected images; sets the cached position table. Any height and
            width divisible by ``patch_size`` is accepted.
        patch_size: Patch height and width.
        embed_dim: Token width, a multiple of 4.
        num_bands: Band count of the inputs when fixed (needed for MAE's ``target_dim``); inputs
            with another band count are then refused. ``None`` accepts any band count.
        grouping: ``"none"`` (one token per patch) or ``"grouped"`` (one per patch and group).
        groups: Wavelength ranges ``[low, high)`` in micrometres, one per group; default
            visible / red-edge + NIR / SWIR (+ other).
        max_timesteps: Longest time series accepted as ``[B, T, C, H, W]``; 0 accepts only
            single images ``[B, C, H, W]``.

    Raises:
        ValueError: On an invalid configuration.
    """

    pos_embed: Tensor
    group_bounds: Tensor

    def __init__(
        self,
        image_size: int = 64,
        patch_size: int = 8,
        embed_dim: int = 192,
        num_bands: int | None = None,
        grouping: Literal["none", "grouped"] = "none",
        groups: list[list[float]] | None = None,
        max_timesteps: int = 0,
    ) -> None:
        super().__init__()
        if patch_size <= 0 or image_size % patch_size != 0:
            raise ValueError(
                f"patch_size {patch_size} must be positive and divide image_size {image_size}"
            )
        if embed_dim % 4 != 0:
            raise ValueError(f"embed_dim must be a multiple of 4, got {embed_dim}")
        if grouping not in ("none", "grouped"):
            raise ValueError(f"grouping must be 'none' or 'grouped', got {grouping!r}")
        if num_bands is not None and num_bands <= 0:
            raise ValueError(f"num_bands must be positive or None, got {num_bands}")
        if max_timesteps < 0:
            raise ValueError(f"max_timesteps must be >= 0, got {max_timesteps}")
        groups = DEFAULT_GROUPS if groups is None else groups
        if any(len(g) != 2 or not g[0] < g[1] for g in groups):
            raise ValueError(f"groups must be [low, high] ranges with low < high, got {groups}")
        self.image_size = image_size
        self.patch_size = patch_size
        self.embed_dim = embed_dim
        self.num_bands = num_bands
        self.grouping = grouping
        self.max_timesteps = max_timesteps
        self.target_dim: int | None = None if num_bands is None else patch_size**2 * num_bands

        self.weight_generator = nn.Sequential(
            nn.Linear(_WAVE_DIM, _HIDDEN_DIM),
            nn.GELU(),
            nn.Linear(_HIDDEN_DIM, _HIDDEN_DIM),
            nn.GELU(),
            nn.LayerNorm(_HIDDEN_DIM),
            nn.Linear(_HIDDEN_DIM, embed_dim * patch_size**2),
        )
        # Generated weights start at the scale of a conv's default init for a p*p fan-in.
        self.weight_scale = 1.0 / patch_size
        self.bias = nn.Parameter(torch.zeros(embed_dim))
        self.group_embed: nn.Parameter | None = None
        if grouping == "grouped":
            self.group_embed = nn.Parameter(torch.zeros(len(groups) + 1, embed_dim))
            nn.init.trunc_normal_(self.group_embed, std=0.02)
        self.register_buffer("group_bounds", torch.tensor(groups, dtype=torch.float32))
        grid = image_size // patch_size
        pos = sincos_pos_embed_2d(embed_dim, grid, grid)
        self.register_buffer("pos_embed", pos, persistent=False)

    def band_weights(self, wavelengths: Tensor) -> Tensor:
        """Projection weights generated from wavelengths: ``[..., C]`` -> ``[..., C, D, p*p]``."""
        generated = self.weight_generator(wavelength_embedding(wavelengths))
        return generated.unflatten(-1, (self.embed_dim, self.patch_size**2)) * self.weight_scale

    def group_membership(self, wavelengths: Tensor) -> Tensor:
        """One-hot group of each band ``[..., C]`` -> ``[..., C, G]`` (first matching range).

        Without grouping every band is in the single group.
        """
        if self.grouping == "none":
            return wavelengths.new_ones(*wavelengths.shape, 1)
        bounds = self.group_bounds.to(wavelengths.device)
        w = wavelengths.float().unsqueeze(-1)
        inside = (w >= bounds[:, 0]) & (w < bounds[:, 1])
        first = inside & (inside.cumsum(-1) == 1)
        other = ~inside.any(-1, keepdim=True)
        return torch.cat([first, other], dim=-1).to(wavelengths.dtype)

    def _spatial_pos(self, grid_h: int, grid_w: int, device: torch.device) -> Tensor:
        if grid_h * grid_w == self.pos_embed.shape[0] and grid_h == grid_w:
            return self.pos_embed
        return sincos_pos_embed_2d(self.embed_dim, grid_h, grid_w).to(device)

    def _check(self, inputs: Any) -> tuple[Tensor, Tensor, Tensor, Tensor | None]:
        if not isinstance(inputs, dict) or not {"values", "valid", "wavelengths"} <= set(inputs):
            raise ValueError(
                "WavelengthPatchTokenizer expects a dict with 'values', 'valid' and "
                f"'wavelengths', got {type(inputs).__name__}"
                + (f" with keys {sorted(inputs)}" if isinstance(inputs, dict) else "")
            )
        values, valid, wavelengths = inputs["values"], inputs["valid"], inputs["wavelengths"]
        if tuple(valid.shape) != tuple(values.shape):
            raise ValueError(
                f"valid must match values {tuple(values.shape)}, got {tuple(valid.shape)}"
            )
        is_series = values.dim() == 5
        if values.dim() == 4:
            values, valid = values.unsqueeze(1), valid.unsqueeze(1)
        elif is_series:
            if values.shape[1] > self.max_timesteps:
                raise ValueError(
                    f"time series of T={values.shape[1]} steps exceed max_timesteps="
                    f"{self.max_timesteps}; expected values [B, C, H, W] or [B, T<="
                    f"{self.max_timesteps}, C, H, W], got {tuple(values.shape)}"
                )
        else:
            raise ValueError(
                f"values must be [B, C, H, W] or [B, T, C, H, W], got {tuple(values.shape)}"
            )
        b, t, c, h, w = values.shape
        p = self.patch_size
        if h % p or w % p:
            raise ValueError(f"height and width must be multiples of patch_size {p}, got {h}x{w}")
        if self.num_bands is not None and c != self.num_bands:
            raise ValueError(f"expected {self.num_bands} bands (num_bands), got {c}")
        if wavelengths.dim() == 1:
            wavelengths = wavelengths.unsqueeze(0)
        if (
            wavelengths.dim() != 2
            or wavelengths.shape[-1] != c
            or wavelengths.shape[0] not in (1, b)
        ):
            raise ValueError(
                f"wavelengths must be [{c}] or [{b}, {c}] for values {tuple(values.shape)}, "
                f"got {tuple(wavelengths.shape)}"
            )
        require(wavelengths > 0, "wavelengths must be positive (micrometres)")
        if wavelengths.shape[0] > 1 and bool((wavelengths == wavelengths[:1]).all()):
            wavelengths = wavelengths[:1]  # one sensor per batch: generate weights once
        dates = inputs.get("dates") if is_series else None
        if dates is not None:
            if dates.dim() == 1:
                dates = dates.unsqueeze(0)
            if dates.dim() != 2 or dates.shape[-1] != t or dates.shape[0] not in (1, b):
                raise ValueError(
                    f"dates must be [{t}] or [{b}, {t}] for values {tuple(values.shape)}, "
                    f"got {tuple(dates.shape)}"
                )
        if is_series and dates is None:
            dates = torch.arange(t, device=values.device, dtype=torch.float32).unsqueeze(0)
        return values, valid.bool(), wavelengths.to(values.device), dates

    def forward(self, inputs: dict[str, Tensor]) -> TokenBatch:
        """Tokenize one batch of the remote-sensing image contract.

        Args:
            inputs: ``{"values": [B, C, H, W] or [B, T, C, H, W], "valid": same shape (bool),
                "wavelengths": [B, C] or [C] (micrometres), "dates": [B, T] or [T] (days,
                optional; time steps 0..T-1 when absent)}``.

        Returns:
            ``TokenBatch`` with ``tokens`` ``[B, N, D]`` where ``N = T * G * (H/p) * (W/p)``
            (``T = 1`` for single images, ``G`` the non-empty groups, 1 without grouping),
            ``pos`` ``[B or 1, N, D]``, ``padding_mask`` ``[B, N]`` (no valid pixel in the
            token's bands), ``target`` ``[B, N, p*p*C]`` and ``target_mask`` likewise.

        Raises:
            ValueError: Naming expected and actual shapes when the inputs do not match.
        """
        values, valid, wavelengths, dates = self._check(inputs)
        b, t, c, h, w = values.shape
        p, d = self.patch_size, self.embed_dim
        gh, gw = h // p, w // p
        n = gh * gw

        weights = self.band_weights(wavelengths)  # [B or 1, C, D, k]
        members = self.group_membership(wavelengths)  # [B or 1, C, G]
        keep = members.sum(dim=(0, 1)) > 0  # groups with a band in some sample
        members = members[..., keep]
        g = members.shape[-1]

        # [B, T, C, H, W] -> [B, T, N, C, k] with k = (ph, pw), row-major patches.
        values = torch.where(valid, values, torch.zeros((), dtype=values.dtype))
        patches = values.reshape(b, t, c, gh, p, gw, p).permute(0, 1, 3, 5, 2, 4, 6)
        patches = patches.reshape(b, t, n, c, p * p)
        valid_patches = valid.reshape(b, t, c, gh, p, gw, p).permute(0, 1, 3, 5, 2, 4, 6)
        valid_patches = valid_patches.reshape(b, t, n, c, p * p)

        # Fold group membership into the weights: one matmul gives every group's tokens.
        grouped_w = torch.einsum("scdk,scg->sgdck", weights, members)
        grouped_w = grouped_w.reshape(grouped_w.shape[0], g * d, c * p * p).transpose(1, 2)
        x = patches.reshape(b, t * n, c * p * p).to(grouped_w.dtype)
        tokens = torch.matmul(x, grouped_w).reshape(b, t, n, g, d)

        band_present = valid_patches.any(-1).to(members.dtype)  # [B, T, N, C]
        count = torch.einsum("btnc,scg->btng", band_present, members)
        tokens = tokens / count.clamp(min=1).sqrt().unsqueeze(-1) + self.bias
        tokens = tokens.permute(0, 1, 3, 2, 4).reshape(b, t * g * n, d)
        padding_mask = (count == 0).permute(0, 1, 3, 2).reshape(b, t * g * n)

        pos = self._spatial_pos(gh, gw, values.device).to(tokens.dtype)  # [N, D]
        pos = pos.view(1, 1, 1, n, d)
        if self.group_embed is not None:
            pos = pos + self.group_embed[keep].to(tokens.dtype).view(1, 1, g, 1, d)
        if dates is not None:
            time = sincos_time_embedding(dates.to(values.device), d).to(tokens.dtype)
            pos = pos + time.view(time.shape[0], t, 1, 1, d)
        pos = pos.expand(-1, t, g, n, d).reshape(pos.shape[0], t * g * n, d)

        # Targets flattened as (ph, pw, C) like MAE's patchify; in grouped mode each token's
        # target mask keeps only its group's bands.
        target = patches.transpose(-1, -2).reshape(b, t, 1, n, p * p * c)
        target = target.expand(b, t, g, n, p * p * c).reshape(b, t * g * n, p * p * c)
        member_mask = members.transpose(-1, -2).bool()  # [B or 1, G, C]
        target_mask = valid_patches.transpose(-1, -2).unsqueeze(2)  # [B, T, 1, N, k, C]
        target_mask = target_mask & member_mask.view(-1, 1, g, 1, 1, c)
        target_mask = target_mask.reshape(b, t * g * n, p * p * c)
        return TokenBatch(
            tokens=tokens,
            pos=pos,
            padding_mask=padding_mask,
            target=target,
            target_mask=target_mask,
        )
