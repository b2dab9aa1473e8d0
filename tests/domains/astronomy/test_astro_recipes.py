"""Astronomy recipes run end to end on tiny generated data; plugin and classical baseline."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from cli_overrides import ONE_CPU_PROCESS

from domains.astronomy.baselines import (
    FEATURE_NAMES,
    periodogram_features,
    periodogram_profile_features,
)
from domains.astronomy.datamodules import PhotometryTableDataModule
from domains.astronomy.synthetic import write_variable_star_folder
from evaluation.benchmark import registered_benchmarks
from foundations.cli.lightning_cli import FoundationsCLI
from foundations.registry import domains

RECIPES = Path(__file__).resolve().parents[3] / "recipes" / "astronomy"


@pytest.fixture(scope="module")
def stars(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_variable_star_folder(tmp_path_factory.mktemp("astro") / "stars", 40, seed=0)


@pytest.fixture(autouse=True)
def private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FOUNDATIONS_CACHE", str(tmp_path / "cache"))


def fit_one_step(recipe: str, stars: Path, tmp_path: Path, *overrides: str) -> FoundationsCLI:
    """One CPU training step of ``recipe`` on the generated stars, 64 observations each."""
    args = [
        "fit",
        "-c",
        str(RECIPES / f"{recipe}.yaml"),
        "--data.init_args.photometry",
        str(stars / "photometry.csv"),
        "--data.init_args.labels",
        str(stars / "labels.csv"),
        "--data.init_args.time_col",
        "time",
        "--data.init_args.band_col",
        "band",
        "--data.init_args.min_class_count",
        "1",
        "--data.init_args.length",
        "64",
        "--data.init_args.batch_size",
        "8",
        "--data.init_args.cache",
        "false",
        "--model.init_args.encoder.init_args.tokenizer.init_args.num_bands",
        "3",
        "--trainer.fast_dev_run",
        "true",
        "--trainer.default_root_dir",
        str(tmp_path),
        "--trainer.logger",
        "false",
        "--trainer.enable_progress_bar",
        "false",
        "--data.init_args.num_workers",
        "0",
        *ONE_CPU_PROCESS,  # the full-size recipes' GPU settings
        *overrides,
    ]
    cli = FoundationsCLI(args=args)
    assert cli.trainer.global_step == 1
    assert torch.isfinite(cli.trainer.callback_metrics["train/loss"])
    return cli


@pytest.mark.parametrize(
    "recipe",
    ["mae_lightcurves", "mae_lightcurves_full", "simclr_lightcurves", "simclr_lightcurves_full"],
)
def test_recipes_run(recipe: str, stars: Path, tmp_path: Path) -> None:
    cli = fit_one_step(recipe, stars, tmp_path)
    if recipe.endswith("_full"):
        assert len(cli.model.encoder.trunk.blocks) == 8
        assert cli.model.encoder.embed_dim == 256


def test_full_recipe_trains_on_random_subsets_of_long_light_curves(
    stars: Path, tmp_path: Path
) -> None:
    """The override the full-size recipe documents for surveys with thousands of points."""
    seen: list[int] = []
    cli = fit_one_step(
        "mae_lightcurves_full",
        stars,
        tmp_path,
        "--model.init_args.augment.init_args.max_observations",
        "16",
    )
    assert cli.model.augment.max_observations == 16
    cli.model.augment.register_forward_hook(
        lambda module, args, view: seen.append(view["time"].shape[1])
    )
    batch = next(iter(cli.datamodule.train_dataloader()))
    assert batch["photometry"]["time"].shape[1] == 64
    loss = cli.model.reconstruction_loss(cli.model.augment(batch["photometry"]))
    assert torch.isfinite(loss)
    assert seen == [16]


def test_plugin_lists_the_asas_benchmark() -> None:
    plugin = domains()["astronomy"]
    benchmark = plugin.benchmarks["asas"]
    assert benchmark["primary_metric"] == "macro_f1"
    assert [path.rsplit(".", 1)[-1] for path in benchmark["classical_baseline"]] == [
        "periodogram_features",
        "periodogram_profile_features",
    ]
    assert "lightcurve_views" in plugin.transforms
    assert Path(plugin.recipes_dir, "mae_lightcurves.yaml").is_file()


def test_periodogram_features_recover_a_sinusoid_period(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    rows, labels = [], []
    periods = {}
    for i in range(20):
        period = float(rng.uniform(0.5, 5.0))
        time = np.sort(rng.uniform(0.0, 60.0, 120))
        mag = 12.0 + 0.5 * np.sin(2 * np.pi * time / period) + rng.normal(0, 0.02, time.size)
        name = f"s{i}"
        periods[name] = period
        rows.append(pd.DataFrame({"object_id": name, "hjd": time, "mag": mag, "mag_err": 0.02}))
        labels.append({"object_id": name, "class": "a" if i % 2 else "b"})
    pd.concat(rows).to_csv(tmp_path / "phot.csv", index=False)
    pd.DataFrame(labels).to_csv(tmp_path / "labels.csv", index=False)
    datamodule = PhotometryTableDataModule(
        str(tmp_path / "phot.csv"),
        str(tmp_path / "labels.csv"),
        length=128,
        batch_size=4,
        min_class_count=1,
        cache=False,
    )
    datamodule.setup()
    features = periodogram_features(datamodule)
    total = sum(len(y) for _, y in features.values())
    assert total == 20
    for split, (x, y) in features.items():
        assert x.shape == (len(y), len(FEATURE_NAMES)), split
        assert np.isfinite(x).all()
    x_test = features["test"][0]
    test_ids = datamodule.object_ids[datamodule.split_indices()[2]]
    expected = np.log10([periods[str(i)] for i in test_ids])
    np.testing.assert_allclose(x_test[:, 0], expected, atol=0.01)
    assert (x_test[:, 1] > 0.8).all()
    assert (x_test[:, FEATURE_NAMES.index("range_5_95")] > 0).all()

    with_profile = periodogram_profile_features(datamodule, bins=16)
    for split, (x, y) in with_profile.items():
        assert x.shape == (len(y), len(FEATURE_NAMES) + 16), split
        np.testing.assert_array_equal(x[:, : len(FEATURE_NAMES)], features[split][0])
        np.testing.assert_array_equal(y, features[split][1])
    # Folded at twice the period, a sinusoid shows two equal cycles: faintest bin first,
    # the second minimum of light half the profile later.
    profile = with_profile["test"][0][:, len(FEATURE_NAMES) :]
    assert (profile.argmax(axis=1) == 0).all()
    np.testing.assert_allclose(profile[:, 8], profile[:, 0], atol=0.5)
    assert (profile[:, 4] < profile[:, 0] - 1.0).all()


def test_asas_benchmark_has_no_raw_baseline() -> None:
    assert registered_benchmarks()["asas"].raw_baseline is False
