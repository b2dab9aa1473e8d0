"""The raw-input baseline as an encoder: a modality's numbers, flattened."""

from __future__ import annotations

from typing import Any

from torch import Tensor, nn
from torch.nn import functional as F

RAW_MAX_FEATURES = 4096


class RawInputs(nn.Module):
    """Flattens a tensor modality, or the ``values`` of a dict modality (rasters, series) with
    invalid entries zeroed, into one row per sample.

    Image time series (a dict with ``dates``) become ``[B, T * C, H, W]`` first. Images and
    volumes larger than ``max_features`` numbers are average-pooled spatially first
    (a 12 x 64 x 64 raster becomes 12 x 18 x 18, a 1 x 32^3 volume 1 x 16^3): a linear model on
    50,000 raw numbers would take longer than everything else in a benchmark and is not a
    stronger baseline.

    Args:
        max_features: Pool ``[B, C, H, W]`` and ``[B, C, X, Y, Z]`` inputs above this many
            numbers per sample.
    """

    def __init__(self, max_features: int = RAW_MAX_FEATURES) -> None:
        super().__init__()
        self.max_features = max_features

    @staticmethod
    def accepts(value: Any) -> bool:
        """Whether ``value`` (one batch of a modality) is something this baseline flattens: a
        tensor or a dict with ``values``. Light curves (observations at irregular times with
        padding) are not: their flattened numbers mean nothing."""
        return isinstance(value, Tensor) or (
            isinstance(value, dict) and isinstance(value.get("values"), Tensor)
        )

    def forward(self, value: Any) -> Tensor:
        """``[B, F]`` float features.

        Raises:
            TypeError: When the modality is neither a tensor nor a dict with ``values``.
        """
        if not self.accepts(value):
            raise TypeError("the raw baseline needs a tensor or a dict with 'values'")
        if isinstance(value, dict):
            series = "dates" in value  # [B, T, C, H, W]: time steps are more channels, not depth
            value = value["values"] * value["valid"] if "valid" in value else value["values"]
            if series and value.ndim == 5:
                value = value.flatten(1, 2)
        assert isinstance(value, Tensor)
        value = value.float()
        if value.ndim in (4, 5) and value[0].numel() > self.max_features:
            spatial = value.ndim - 2
            side = max(1, int((self.max_features / value.shape[1]) ** (1 / spatial) + 1e-9))
            pool = F.adaptive_avg_pool2d if spatial == 2 else F.adaptive_avg_pool3d
            value = pool(value, side)
        return value.flatten(1)
