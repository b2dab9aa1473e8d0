"""Foundations: self-supervised foundation models for scientific imaging and time series.

The core package is modality-agnostic. Sciences plug in through the ``foundations.domains``
entry-point group (see :mod:`foundations.registry`); this package never imports them.
"""

__version__ = "0.1.0"
