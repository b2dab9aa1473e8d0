"""Period-aware light curves: the datamodule's cached periods and the tokenizer's phase terms."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import balanced_accuracy_score

from domains.astronomy.baselines import light_curve_features
from domains.astronomy.datamodules import PhotometryTableDataModule
from domains.astronomy.tokenizer import ObservationTokenizer, multiscale_sinusoids

PERIODS = {"a": 0.61, "b": 3.7, "c": 17.0}


def _sinusoids(root: Path) -> tuple[Path, Path]:
    rng = np.random.default_rng(0)
    rows, labels = [], []
    for name, period in PERIODS.items():
        for k in range(10):
            oid = f"{name}{k}"
            time = np.sort(rng.uniform(0, 400, 120)) + 2450000
            mag = 12 + 0.4 * np.sin(2 * np.pi * time / period) + rng.normal(0, 0.05, time.size)
            rows += [(oid, t, m, 0.05) for t, m in zip(time, mag, strict=True)]
            labels.append((oid, name))
    phot, lab = root / "phot.csv", root / "labels.csv"
    pd.DataFrame(rows, columns=["object_id", "hjd", "mag", "mag_err"]).to_csv(phot, index=False)
    pd.DataFrame(labels, columns=["object_id", "class"]).to_csv(lab, index=False)
    return phot, lab


def test_datamodule_finds_periods_and_caches_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FOUNDATIONS_CACHE", str(tmp_path / "cache"))
    phot, lab = _sinusoids(tmp_path)
    module = PhotometryTableDataModule(str(phot), str(lab), length=100, batch_size=30, periods=True)
    module.setup("fit")
    batch = next(iter(module.train_dataloader()))
    photometry = batch["photometry"]
    assert {"period", "power", "median", "scale"} <= set(photometry)
    truth = torch.tensor([PERIODS[name] for name in np.array(module.class_names)[batch["label"]]])
    assert torch.allclose(photometry["period"], truth, rtol=0.02)
    assert bool((photometry["power"] > 0.5).all())
    # The classical features reuse the datamodule's periods instead of searching again.
    features = light_curve_features(batch)
    assert np.allclose(features[:, 0], np.log10(photometry["period"].numpy()), atol=1e-6)
    cached = list((tmp_path / "cache" / "astronomy").glob("periods-*.npz"))
    assert len(cached) == 1
    # A copy of the table elsewhere (another path, a newer modification time) is tokenised
    # again, but its periods come from the cache, keyed by the light curves' content.
    copy = tmp_path / "copy" / "phot.csv"
    copy.parent.mkdir()
    copy.write_bytes(phot.read_bytes())

    def no_search(*args: object, **kwargs: object) -> None:
        raise AssertionError("the period search ran again")

    monkeypatch.setattr("domains.astronomy.datamodules.best_periods", no_search)
    again = PhotometryTableDataModule(str(copy), str(lab), length=100, batch_size=30, periods=True)
    again.setup("fit")
    assert again.cache_path() != module.cache_path()
    assert torch.equal(
        again.train[0]["photometry"]["period"], module.train[0]["photometry"]["period"]
    )
    # Other light curves (here, another crop length) get their own search.
    other = PhotometryTableDataModule(str(phot), str(lab), length=50, batch_size=30, periods=True)
    with pytest.raises(AssertionError, match="search ran again"):
        other.setup("fit")
    plain = PhotometryTableDataModule(str(phot), str(lab), length=100, batch_size=30)
    plain.setup("fit")
    assert "period" not in plain.train[0]["photometry"]


def _photometry(period: float) -> dict[str, torch.Tensor]:
    time = torch.linspace(0, 50, 40, dtype=torch.float64)[None].repeat(2, 1)
    return {
        "time": time,
        "value": torch.sin(2 * torch.pi * time / period).float(),
        "error": torch.full((2, 40), 0.05),
        "band": torch.zeros(2, 40, dtype=torch.long),
        "mask": torch.ones(2, 40, dtype=torch.bool),
        "period": torch.full((2,), period),
        "power": torch.full((2,), 0.9),
        "scale": torch.full((2,), 0.3),
        "median": torch.full((2,), 12.0),
    }


def test_object_features_change_tokens_by_phase_and_need_their_keys() -> None:
    torch.manual_seed(0)
    tokenizer = ObservationTokenizer(embed_dim=16, object_features=True)
    inputs = _photometry(2.0)
    tokens = tokenizer(inputs).tokens
    assert torch.isfinite(tokens).all()
    # Observations one period apart have the same value and phase: the same token.
    shifted = dict(inputs, time=inputs["time"] + 2.0)
    assert torch.allclose(tokenizer(shifted).tokens, tokens, atol=1e-5)
    other = dict(inputs, period=torch.full((2,), 3.0))
    assert not torch.allclose(tokenizer(other).tokens, tokens, atol=1e-3)
    plain = ObservationTokenizer(embed_dim=16)
    assert plain(inputs).tokens.shape == tokens.shape
    with pytest.raises(ValueError, match="period"):
        tokenizer({key: inputs[key] for key in ("time", "value", "error", "band", "mask")})
    with pytest.raises(ValueError, match="harmonics"):
        ObservationTokenizer(embed_dim=16, object_features=True, harmonics=0)


def test_multiscale_object_encoding_lets_a_linear_model_pick_a_period_band() -> None:
    # Classical Cepheids occupy log10 P in [0.5, 1.0]; a linear model of log10 P alone cannot
    # tell them from both shorter and longer periods, one of the sinusoids can.
    log_period = torch.linspace(-1.5, 3.0, 2000)[:, None]
    inside = ((log_period[:, 0] > 0.5) & (log_period[:, 0] < 1.0)).numpy()
    wavelengths = 1.0 / torch.logspace(-1.0, 1.0, 8)
    encoded = multiscale_sinusoids(log_period, wavelengths)
    assert encoded.shape == (2000, 17)
    scores = {}
    for name, features in {"plain": log_period, "multiscale": encoded}.items():
        model = LogisticRegression(C=100.0, class_weight="balanced", max_iter=5000)
        predicted = model.fit(features.numpy(), inside).predict(features.numpy())
        scores[name] = balanced_accuracy_score(inside, predicted)
    assert scores["plain"] < 0.8
    assert scores["multiscale"] > 0.95


def test_object_frequencies_widen_the_object_embedding_and_default_to_the_plain_one() -> None:
    torch.manual_seed(0)
    plain = ObservationTokenizer(embed_dim=16, object_features=True)
    assert plain.object_proj is not None and plain.object_proj.in_features == 3
    tokenizer = ObservationTokenizer(embed_dim=16, object_features=True, object_frequencies=4)
    assert tokenizer.object_proj is not None and tokenizer.object_proj.in_features == 27
    inputs = _photometry(2.0)
    assert torch.isfinite(tokenizer(inputs).tokens).all()
    # Buffers are not saved, so checkpoints hold only the wider linear layer.
    assert "object_inverse_wavelengths" not in tokenizer.state_dict()
    with pytest.raises(ValueError, match="object_frequencies"):
        ObservationTokenizer(embed_dim=16, object_features=True, object_frequencies=-1)


def test_fold_factor_tells_alternate_cycles_apart() -> None:
    # Folded at twice the period, observations one period apart (a primary and a secondary
    # eclipse of a binary whose Lomb-Scargle period is half the orbit) get different tokens;
    # two periods apart they coincide again.
    torch.manual_seed(0)
    tokenizer = ObservationTokenizer(embed_dim=16, object_features=True, fold_factor=2)
    assert tokenizer.phase_proj is not None and tokenizer.phase_proj.in_features == 12
    inputs = _photometry(2.0)
    tokens = tokenizer(inputs).tokens
    one_period = tokenizer(dict(inputs, time=inputs["time"] + 2.0)).tokens
    two_periods = tokenizer(dict(inputs, time=inputs["time"] + 4.0)).tokens
    assert not torch.allclose(one_period, tokens, atol=1e-3)
    assert torch.allclose(two_periods, tokens, atol=1e-5)
    with pytest.raises(ValueError, match="fold_factor"):
        ObservationTokenizer(embed_dim=16, object_features=True, fold_factor=0)
