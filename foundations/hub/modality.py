"""The card's modality spec and normalisation, read from the configs a run recorded."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from foundations.hub.card import to_json

# Tokenizer init args that describe the physical input rather than the network's width.
_PHYSICAL_HINTS = ("band", "wavelength", "spacing", "period", "time", "groups", "mm", "um")
_SIZE_KEYS = ("image_size", "volume_size", "input_size")
# Data module init args that say how raw values are scaled or which bands/spacing are read.
_NORMALISATION_KEYS = (
    "mean",
    "std",
    "scale",
    "offset",
    "normalize",
    "normalise",
    "normalisation",
    "normalization",
    "window",
    "clip",
    "percentiles",
)
_DATA_MODALITY_KEYS = {
    "band_names": "bands",
    "bands": "bands",
    "sensor_wavelengths": "wavelengths_um",
    "wavelengths": "wavelengths_um",
    "target_spacing": "spacing_mm",
    "spacing": "spacing_mm",
}


def _tokenizer_config(architecture: Mapping[str, Any]) -> Mapping[str, Any]:
    tokenizer = architecture.get("init_args", {}).get("tokenizer")
    return tokenizer if isinstance(tokenizer, Mapping) else {}


def modality_spec(
    architecture: Mapping[str, Any], data_args: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """What the encoder reads, from its tokenizer's init args and the data module's.

    Args:
        architecture: The encoder's ``{"class_path", "init_args"}``.
        data_args: The training data module's init args, when known.

    Returns:
        ``name``, ``tokenizer``, ``channels``, ``input_size``, ``patch_size``, ``bands``,
        ``wavelengths_um``, ``spacing_mm``, ``time_unit`` (``None`` when unknown) and
        ``details``: every tokenizer init arg that names a physical quantity, as given.
    """
    tokenizer = _tokenizer_config(architecture)
    args = dict(tokenizer.get("init_args") or {})
    details = {
        key: value
        for key, value in args.items()
        if any(hint in key for hint in _PHYSICAL_HINTS) or key in ("num_bands", "max_timesteps")
    }
    spec: dict[str, Any] = {
        "name": architecture.get("init_args", {}).get("modality", "image"),
        "tokenizer": tokenizer.get("class_path"),
        "channels": args.get("in_channels", args.get("num_bands")),
        "input_size": next((args[key] for key in _SIZE_KEYS if key in args), None),
        "patch_size": args.get("patch_size"),
        "bands": None,
        "wavelengths_um": None,
        "spacing_mm": None,
        "time_unit": "days" if any("days" in key for key in args) else None,
        "details": details,
    }
    for key, target in _DATA_MODALITY_KEYS.items():
        if data_args and data_args.get(key) is not None and spec[target] is None:
            spec[target] = data_args[key]
    return to_json(spec)


def normalisation_spec(data_args: Mapping[str, Any] | None) -> dict[str, Any]:
    """The data module's init args that scale or window raw values (``{}`` when none)."""
    if not data_args:
        return {}
    found = {
        key: value
        for key, value in data_args.items()
        if value is not None
        and any(key == k or key.startswith(f"{k}_") for k in _NORMALISATION_KEYS)
    }
    return to_json(found)
