"""Evaluation: embedding extraction, probes and reports. Imports the core, never the reverse."""
