"""Remote sensing: multispectral rasters with band wavelengths, nodata masks and CRS.

Sample contract for this domain (the value under ``sample["image"]``)::

    {
        "values": FloatTensor[C, H, W],      # physical values (reflectance, dB), nodata -> 0
        "valid": BoolTensor[C, H, W],        # False where the source was nodata
        "wavelengths": FloatTensor[C],       # band centre wavelengths in micrometres
        "transform": DoubleTensor[6],        # affine (a, b, c, d, e, f) of the window
    }

plus ``sample["crs"]`` (WKT or EPSG string) and, when labelled, ``sample["label"]``. Time series
add a leading ``T`` axis to ``values``/``valid`` and ``"dates"``: FloatTensor[T] (days since
1970-01-01). Batches of one sensor share band order; the tokenizer reads the wavelengths.
"""

from __future__ import annotations

from pathlib import Path

from foundations.registry import DomainPlugin

RECIPES = Path(__file__).resolve().parents[2] / "recipes" / "remote_sensing"

plugin = DomainPlugin(
    name="remote_sensing",
    description="Multispectral rasters: any band set by wavelength, nodata masks, CRS",
    recipes_dir=RECIPES,
)
