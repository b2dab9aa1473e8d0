"""Astronomy domain: light curves (time-domain photometry) and spectra.

Sample contract for a light curve, as produced from ``domains.astronomy.preprocess``
(one object per sample, padded to a fixed length ``L``)::

    sample["photometry"] = {
        "time": FloatTensor[L],   # days (e.g. HJD/BJD), relative to the per-object ``t0``
        "value": FloatTensor[L],  # magnitude or flux, robustly normalised (see below)
        "error": FloatTensor[L],  # measurement error, divided by the same ``scale``
        "band": LongTensor[L],    # integer passband code (0 when the survey has one band)
        "mask": BoolTensor[L],    # True = real observation, False = padding
    }
    sample["t0"]      # scalar: reference time subtracted from ``time`` (first observation)
    sample["median"]  # scalar: median of the raw values
    sample["scale"]   # scalar: 1.4826 * MAD of the raw values, floored at a minimum

Times stay real (irregular, unbinned) times so that period information survives; the robust
normalisation statistics ``median`` and ``scale`` are returned so that models may use them as
per-object features (mean brightness and variability amplitude).

Readers live in ``domains.astronomy.io`` (long-format photometry tables, Kepler/TESS light
curve FITS, spectra); cleaning, normalisation, cropping/padding, Lomb-Scargle periods and the
vectorised whole-table tokeniser live in ``domains.astronomy.preprocess``.
"""

from __future__ import annotations

from pathlib import Path

from domains.astronomy.benchmark_specs import ASTRO_SYNTHETIC
from foundations.registry import DomainPlugin

RECIPES = Path(__file__).resolve().parents[2] / "recipes" / "astronomy"
SHARED_DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
ASAS = SHARED_DATA / "asas"
"""The ASAS variable-star catalogue next to the project (../shared/data); override with --data."""

plugin = DomainPlugin(
    name="astronomy",
    description="light curves: irregular, multi-band photometry with errors and real times",
    datasets={
        "photometry_table": "domains.astronomy.datamodules.PhotometryTableDataModule",
        "variable_stars": "domains.astronomy.trimodal.VariableStarDataModule",
    },
    tokenizers={
        "observation": "domains.astronomy.tokenizer.ObservationTokenizer",
        "spectrum": "domains.astronomy.spectrum_tokenizer.SpectrumTokenizer",
        "metadata": "domains.astronomy.metadata_tokenizer.MetadataTokenizer",
    },
    transforms={"lightcurve_views": "domains.astronomy.augment.LightCurveViews"},
    recipes_dir=RECIPES,
    benchmarks={
        "astro-synthetic": ASTRO_SYNTHETIC,
        "asas": {
            "description": "ASAS variable-star classes from V-band light curves",
            "datamodule": {
                "class_path": "domains.astronomy.datamodules.PhotometryTableDataModule",
                "init_args": {
                    "photometry": str(ASAS / "photometry.csv.gz"),
                    "labels": str(ASAS / "labels.csv"),
                    "label_col": "class",
                    "length": 256,
                    # Lomb-Scargle periods found once and cached: period-aware encoders read
                    # them, and the classical baseline reuses them instead of searching again.
                    "periods": True,
                },
            },
            "split": "stratified random 60/20/20",
            # Irregular times and padding make flattened observations meaningless as features.
            "raw_baseline": False,
            # The Lomb-Scargle baseline, and the same with the folded light-curve shape,
            # the strongest classical features we know for these classes.
            "classical_baseline": [
                "domains.astronomy.baselines.periodogram_features",
                "domains.astronomy.baselines.periodogram_profile_features",
            ],
            "classical_classifier": "gradient_boosting",
            "primary_metric": "macro_f1",
            # Nine classes from 81 to 5,000+ stars: class-weighted probes chosen on macro-F1,
            # for the encoders and the boosted trees alike.
            "balanced_probes": True,
            "protocols": ["linear", "knn", "label_efficiency", "similarity", "anomaly"],
            # Ten labelled subsets per fraction: at 10% of the labels the seed-to-seed spread
            # (about 0.015 macro-F1) is as large as the gaps between candidates, which three
            # seeds cannot resolve.
            "seeds": list(range(10)),
            # The rarest kept class, Alpha2 Canum Venaticorum (81 stars), as the "new kind of
            # object" a survey would want flagged: kNN distance to the other classes.
            "anomaly_classes": [0],
        },
    },
)
