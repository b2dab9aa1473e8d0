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
