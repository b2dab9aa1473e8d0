"""Import torchgeo's SSL4EO-style ViT weights (13-band Sentinel-2) into an :class:`Encoder`.

For ``torchgeo.models.vit_small_patch16_224`` with ``ViTSmall16_Weights.SENTINEL2_ALL_MOCO``,
``SENTINEL2_ALL_DINO`` (SSL4EO-S12, 13 top-of-atmosphere bands) and the other torchgeo ViT
weights (SSL4EO-L Landsat, ``in_chans`` from the weights' metadata). These are timm
``VisionTransformer`` state dicts with a multispectral patch embedding, so the conversion is
:mod:`~foundations.hub.importers.timm_vit`'s (exact); this module adds what makes the card
self-describing: the band names and central wavelengths, and the scaling the weights were
trained with (SSL4EO-S12: reflectance digital numbers divided by 10000; SSL4EO-L: by 255).

torchgeo's ResNet SSL4EO weights are convolutional networks and have no counterpart in our
transformer encoder; they are not imported.
"""

from __future__ import annotations

from typing import Any

from timm.models.vision_transformer import VisionTransformer

from foundations.hub.importers.common import Imported
from foundations.hub.importers.timm_vit import from_timm_vit

#: Sentinel-2 bands in torchgeo's SSL4EO-S12 order with central wavelengths in micrometres
#: (Sentinel-2A, ESA Sentinel-2 User Handbook).
SENTINEL2_TOA_BANDS = {
    "B1": 0.443,
    "B2": 0.490,
    "B3": 0.560,
    "B4": 0.665,
    "B5": 0.705,
    "B6": 0.740,
    "B7": 0.783,
    "B8": 0.842,
    "B8A": 0.865,
    "B9": 0.945,
    "B10": 1.375,
    "B11": 1.610,
    "B12": 2.190,
}
# Divisor of the raw digital numbers in torchgeo's transforms for each SSL4EO dataset.
_DIVISORS = {"SSL4EO-S12": 10000.0, "SSL4EO-L": 255.0}


def from_torchgeo_vit(model: VisionTransformer, weights: Any = None) -> Imported:
    """Convert a torchgeo ViT into an :class:`Imported` encoder with its band metadata.

    Example::

        from torchgeo.models import ViTSmall16_Weights, vit_small_patch16_224
        weights = ViTSmall16_Weights.SENTINEL2_ALL_DINO
        imported = from_torchgeo_vit(vit_small_patch16_224(weights=weights), weights)
        imported.push("ssl4eo-s12-vits16-dino", hub="/srv/hub", licence="CC-BY-4.0")

    Args:
        model: The timm ViT torchgeo built (``num_classes`` irrelevant: the head is dropped).
        weights: The torchgeo ``WeightsEnum`` member it was loaded with, for band names and
            scaling; without it a 13-channel model is taken to be SSL4EO-S12 Sentinel-2.

    Raises:
        ValueError: When the model cannot be imported (see ``from_timm_vit``), or has no
            weights metadata and is not 13-band.
    """
    meta = dict(getattr(weights, "meta", None) or {})
    channels = int(model.patch_embed.proj.in_channels)
    if not meta:
        if channels != len(SENTINEL2_TOA_BANDS):
            raise ValueError(
                f"a {channels}-band torchgeo ViT without weights metadata: pass `weights=` so "
                "its bands and scaling are known"
            )
        meta = {"dataset": "SSL4EO-S12", "bands": list(SENTINEL2_TOA_BANDS)}
    name = str(meta.get("model", "vit_small_patch16_224"))
    imported = from_timm_vit(model, name=name)
    bands = [str(b) for b in meta.get("bands") or []] or None
    wavelengths = [SENTINEL2_TOA_BANDS.get(b) for b in bands] if bands else None
    imported.modality.update(
        {
            "bands": bands,
            "wavelengths_um": wavelengths if wavelengths and all(wavelengths) else None,
            "sensor": "Sentinel-2 MSI L1C" if meta.get("dataset") == "SSL4EO-S12" else None,
        }
    )
    divisor = _DIVISORS.get(str(meta.get("dataset")))
    imported.normalisation = (
        {"mean": [0.0], "std": [divisor], "scale": f"raw digital numbers / {divisor:g}"}
        if divisor
        else {}
    )
    imported.parent = {
        "kind": "import",
        "format": "torchgeo",
        "model": name,
        "weights": str(weights) if weights is not None else None,
        "url": getattr(weights, "url", None),
        "dataset": meta.get("dataset"),
        "ssl_method": meta.get("ssl_method"),
        "publication": meta.get("publication"),
    }
    return imported
