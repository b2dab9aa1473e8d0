"""Probes that score frozen embeddings."""

from evaluation.probes.linear import LinearProbeResult, linear_probe

__all__ = ["LinearProbeResult", "linear_probe"]
