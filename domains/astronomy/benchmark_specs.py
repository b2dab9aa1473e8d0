"""Benchmark definitions of the trimodal variable-star set (plain dicts for the plugin)."""

from __future__ import annotations

from typing import Any

ASTRO_SYNTHETIC: dict[str, Any] = {
    "description": (
        "synthetic variable-star classes (11) from light curves; 30% of stars lack a spectrum "
        "and 10% lack metadata (the trimodal CLIP missing-modality case)"
    ),
    "datamodule": {
        "class_path": "domains.astronomy.trimodal.VariableStarDataModule",
        "init_args": {
            "num_samples": 3300,
            "missing_spectrum": 0.3,
            "missing_metadata": 0.1,
            "length": 128,
            "num_pixels": 512,
            "periods": True,
        },
    },
    "split": "stratified random 60/20/20",
    # Irregular times and padding make flattened observations meaningless as features.
    "raw_baseline": False,
    # Lomb-Scargle period and amplitude statistics (bands mixed) with boosted trees.
    "classical_baseline": "domains.astronomy.baselines.periodogram_features",
    "classical_classifier": "gradient_boosting",
    "primary_metric": "macro_f1",
    # retrieval: recall@k between every pair of modalities of a multimodal checkpoint.
    "protocols": ["linear", "knn", "label_efficiency", "retrieval"],
    # Also probe what the model knows from everything a star has: light curve, spectrum and
    # metadata embeddings side by side (missing ones zeroed and flagged).
    "joint_embedding": True,
}
"""Photometry-only classification of the embedded default (the recipe's data settings)."""
