"""Probes that score frozen embeddings."""

from evaluation.probes.knn import knn_probe, knn_probe_with_val
from evaluation.probes.linear import (
    LinearProbeResult,
    MultilabelProbeResult,
    linear_probe,
    linear_probe_multilabel,
)

__all__ = [
    "LinearProbeResult",
    "MultilabelProbeResult",
    "knn_probe",
    "knn_probe_with_val",
    "linear_probe",
    "linear_probe_multilabel",
]
