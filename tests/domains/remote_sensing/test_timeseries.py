"""Time series of dated GeoTIFFs: dates, sorting, padding, grid checks, the synthetic default."""

from __future__ import annotations

import datetime
import math
from pathlib import Path

import numpy as np
import pytest
import rasterio
import torch
from affine import Affine
from sklearn.neighbors import NearestCentroid
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from domains.remote_sensing.raster import RasterMismatchError
from domains.remote_sensing.synthetic_timeseries import TS_CLASS_NAMES, generate_timeseries
from domains.remote_sensing.timeseries import (
    TimeSeriesDataModule,
    choose_dates,
    days_since_epoch,
    list_series,
    parse_date,
    read_series,
)
from domains.remote_sensing.tokenizer import WavelengthPatchTokenizer
from foundations.encoders import Encoder
from foundations.io import cache_root

WAVELENGTHS = [0.49, 0.56, 0.665]
SIZE = 16


def _write(
    path: Path,
    value: float,
    transform: Affine | None = None,
    size: int = SIZE,
    crs: str = "EPSG:32633",
) -> None:
    """A 3-band float32 GeoTIFF filled with ``value`` (so tests can tell dates apart)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = np.full((3, size, size), value, dtype=np.float32)
    with rasterio.open(
        path, "w", driver="GTiff", dtype="float32", count=3, height=size, width=size, crs=crs,
        transform=transform or Affine(10.0, 0.0, 500_000.0, 0.0, -10.0, 4_000_000.0),
    ) as dst:  # fmt: skip
        dst.write(data)


def _day(text: str) -> float:
    return days_since_epoch(datetime.date.fromisoformat(text))


@pytest.fixture()
def user_root(tmp_path: Path) -> Path:
    """Three locations: dates in names (two styles, unsorted), a dates CSV, and six dates."""
    root = tmp_path / "series"
    # "a": three dates, file names in both styles, written out of order; values = date rank.
    _write(root / "a" / "S2_20210610.tif", 3.0)
    _write(root / "a" / "scene_2021-01-05_L2A.tif", 1.0)
    _write(root / "a" / "S2B_20210320T103021_N0300.tif", 2.0)
    # "b": undated names, dates from dates.csv.
    _write(root / "b" / "late.tif", 2.0)
    _write(root / "b" / "early.tif", 1.0)
    (root / "b" / "dates.csv").write_text("path,date\nlate.tif,2021-08-01\nearly.tif,20210201\n")
    # "c": six monthly dates.
    for month in range(1, 7):
        _write(root / "c" / f"{2021}-{month:02d}-15.tif", float(month))
    (root / "labels.csv").write_text("location,label\na,crop\nb,forest\nc,crop\n")
    return root


def test_parse_date_finds_either_style_anywhere() -> None:
    assert parse_date("S2A_MSIL2A_20210314T103021_N0300") == datetime.date(2021, 3, 14)
    assert parse_date("x_2020-02-29_y") == datetime.date(2020, 2, 29)
    assert parse_date("tile_20211345_20210102") == datetime.date(2021, 1, 2)  # 13th month
    assert parse_date("id_202101011") is None  # digits run on
    assert parse_date("no date here") is None
    assert days_since_epoch(datetime.date(1970, 1, 2)) == 1.0


def test_list_series_sorts_by_date_from_names_or_csv(user_root: Path) -> None:
    a = list_series(user_root / "a")
    assert [p.name for p in a.paths] == [
        "scene_2021-01-05_L2A.tif",
        "S2B_20210320T103021_N0300.tif",
        "S2_20210610.tif",
    ]
    np.testing.assert_array_equal(
        a.days, [_day("2021-01-05"), _day("2021-03-20"), _day("2021-06-10")]
    )
    b = list_series(user_root / "b")
    assert [p.name for p in b.paths] == ["early.tif", "late.tif"]
    np.testing.assert_array_equal(b.days, [_day("2021-02-01"), _day("2021-08-01")])


def test_undated_file_and_empty_folder_are_named(tmp_path: Path) -> None:
    _write(tmp_path / "loc" / "image.tif", 1.0)
    with pytest.raises(ValueError, match=r"image\.tif: no date"):
        list_series(tmp_path / "loc")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="empty holds no GeoTIFF"):
        list_series(tmp_path / "empty")


def test_choose_dates() -> None:
    np.testing.assert_array_equal(choose_dates(3, 5), [0, 1, 2])
    np.testing.assert_array_equal(choose_dates(6, 4), [0, 2, 3, 5])  # evenly spaced, ends kept
    np.testing.assert_array_equal(choose_dates(5, 1), [2])
    rng = np.random.default_rng(0)
    for count in (1, 3, 9):
        for _ in range(20):
            keep = choose_dates(count, 6, rng)
            limit = min(count, 6)
            assert math.ceil(limit / 2) <= len(keep) <= limit
            assert np.all(np.diff(keep) > 0) and keep.max() < count


def test_datamodule_pads_thins_and_keeps_date_order(user_root: Path) -> None:
    dm = TimeSeriesDataModule(
        root=str(user_root), sensor_wavelengths=WAVELENGTHS, num_dates=4, batch_size=3,
        val_fraction=0.0, test_fraction=0.0,
    )  # fmt: skip
    dm.setup()
    assert dm.class_names == ("crop", "forest") and dm.num_classes == 2
    batch = next(iter(dm.predict_dataloader()))
    image = batch["image"]
    assert image["values"].shape == (3, 4, 3, SIZE, SIZE)
    assert image["valid"].shape == (3, 4, 3, SIZE, SIZE)
    assert image["dates"].shape == (3, 4) and image["dates"].dtype == torch.float32
    assert batch["crs"] == ["EPSG:32633"] * 3
    # a: three dates sorted (values 1, 2, 3), one padded step: invalid, zero, last date.
    a = {k: v[0] for k, v in image.items()}
    assert a["values"][:3, 0, 0, 0].tolist() == [1.0, 2.0, 3.0]
    assert a["date_valid"].tolist() == [True, True, True, False]
    assert not a["valid"][3].any() and not a["values"][3].any()
    assert a["dates"].tolist() == [
        _day("2021-01-05"),
        _day("2021-03-20"),
        *[_day("2021-06-10")] * 2,
    ]
    # c: six dates thinned to four evenly spaced ones (months 1, 3, 4, 6).
    c = {k: v[2] for k, v in image.items()}
    assert c["values"][:, 0, 0, 0].tolist() == [1.0, 3.0, 4.0, 6.0]
    assert c["date_valid"].all() and bool((c["dates"].diff() > 0).all())
    assert batch["label"].tolist() == [0, 1, 0]


def test_random_dates_only_in_training(user_root: Path) -> None:
    dm = TimeSeriesDataModule(
        root=str(user_root), sensor_wavelengths=WAVELENGTHS, num_dates=6, random_dates=True,
        batch_size=1, val_fraction=0.0, test_fraction=0.0, seed=3,
    )  # fmt: skip
    dm.setup()
    assert dm.train is not None and dm.full is not None
    counts = set()
    for _ in range(10):
        sample = dm.train[2]  # location "c", six dates
        kept = int(sample["image"]["date_valid"].sum())
        assert 3 <= kept <= 6 and sample["image"]["values"].shape[0] == 6
        real = sample["image"]["dates"][:kept]
        assert bool((real.diff() > 0).all())
        counts.add(kept)
    assert len(counts) > 1
    assert int(dm.full[2]["image"]["date_valid"].sum()) == 6  # deterministic outside training


@pytest.mark.parametrize(
    ("kwargs", "what"),
    [
        ({"transform": Affine(10.0, 0.0, 500_100.0, 0.0, -10.0, 4_000_000.0)}, "transform"),
        ({"size": 8}, "shape"),
        ({"crs": "EPSG:32632"}, "CRS"),
    ],
)
def test_grid_mismatch_names_both_files(tmp_path: Path, kwargs: dict, what: str) -> None:
    _write(tmp_path / "loc" / "2021-01-01.tif", 1.0)
    _write(tmp_path / "loc" / "2021-02-01.tif", 2.0, **kwargs)
    files = list_series(tmp_path / "loc")
    with pytest.raises(
        RasterMismatchError, match=rf"2021-01-01\.tif and .*2021-02-01\.tif.*{what}"
    ):
        read_series(files.paths, files.days, torch.tensor(WAVELENGTHS))


def test_synthetic_default_batches_and_embeds() -> None:
    dm = TimeSeriesDataModule(num_samples=14, num_dates=6, size=16, batch_size=4)
    dm.setup()
    assert dm.root == cache_root() / "remote_sensing" / "timeseries-v1-n14-t6-s16-seed0"
    assert dm.class_names == TS_CLASS_NAMES
    assert dm.full is not None and len(dm.full) == 14  # type: ignore[arg-type]
    batch = next(iter(dm.predict_dataloader()))
    image = batch["image"]
    assert image["values"].shape == (4, 6, 12, 16, 16)
    assert image["wavelengths"].shape == (4, 12) and batch["crs"][0] == "EPSG:32633"
    assert bool((image["dates"].diff(dim=1) >= 0).all())
    assert float(image["values"][image["valid"]].min()) > 0

    tokenizer = WavelengthPatchTokenizer(image_size=16, patch_size=8, embed_dim=32, max_timesteps=6)
    tokens = tokenizer(image)
    assert tokens.tokens.shape == (4, 6 * 4, 32)
    padded = ~image["date_valid"]  # [B, T]: every token of a padded step is padding
    assert padded.any()
    assert bool(tokens.padding_mask.view(4, 6, 4)[padded].all())
    encoder = Encoder(tokenizer, depth=1, num_heads=2)
    with torch.no_grad():
        embedding = encoder(image)
    assert embedding.shape == (4, 32) and bool(torch.isfinite(embedding).all())

    # The files hold exactly the in-memory generator's output (up to 1e-4 quantisation).
    data = generate_timeseries(14, num_dates=6, size=16, seed=0)
    first = dm.full[0]
    assert int(first["label"]) == int(data.labels[0])
    np.testing.assert_array_equal(first["image"]["date_valid"].numpy(), data.date_valid[0])
    np.testing.assert_array_equal(first["image"]["dates"].numpy(), data.dates[0])
    np.testing.assert_array_equal(first["image"]["valid"].numpy(), data.valid[0])
    np.testing.assert_allclose(first["image"]["values"].numpy(), data.values[0], atol=6e-5)


def _mean_spectra(values: np.ndarray, valid: np.ndarray) -> np.ndarray:
    return (values * valid).sum((-2, -1)) / np.maximum(valid.sum((-2, -1)), 1)


def test_synthetic_classes_need_the_time_axis() -> None:
    """One date's mean spectrum is ambiguous (a winter crop in May looks like a summer crop in
    August); the trajectory over the year is not."""
    data = generate_timeseries(280, num_dates=12, size=16, seed=0)
    spectra = _mean_spectra(data.values, data.valid)  # [N, T, C]
    n = len(data.labels)
    rng = np.random.default_rng(0)
    pick = np.array([rng.choice(np.flatnonzero(data.date_valid[i])) for i in range(n)])
    single = spectra[np.arange(n), pick]
    # All dates: each band's trajectory interpolated onto a fixed monthly grid.
    doy = data.dates - data.dates.min()
    grid = np.linspace(15.0, 350.0, 12)
    series = np.stack(
        [
            np.stack([np.interp(grid, doy[i, k], spectra[i, k, c]) for c in range(12)], -1)
            for i in range(n)
            for k in [data.date_valid[i]]
        ]
    ).reshape(n, -1)
    train = np.arange(n) < n // 2

    def accuracy(features: np.ndarray) -> float:
        model = make_pipeline(StandardScaler(), NearestCentroid())
        model.fit(features[train], data.labels[train])
        return float((model.predict(features[~train]) == data.labels[~train]).mean())

    one, every = accuracy(single), accuracy(series)
    assert one < 0.65, one
    assert every > one + 0.15, (one, every)
