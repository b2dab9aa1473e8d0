"""Period-aware light curves: the datamodule's cached periods and the tokenizer's phase terms."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from domains.astronomy.baselines import light_curve_features
from domains.astronomy.datamodules import PhotometryTableDataModule
from domains.astronomy.tokenizer import ObservationTokenizer

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
    cached = list((tmp_path / "cache" / "astronomy").glob("*-periods-v1.npz"))
    assert len(cached) == 1
    again = PhotometryTableDataModule(str(phot), str(lab), length=100, batch_size=30, periods=True)
    again.setup("fit")
    assert torch.equal(
        again.train[0]["photometry"]["period"], module.train[0]["photometry"]["period"]
    )
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
