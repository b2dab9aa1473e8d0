"""Trimodal CLIP: the recipes run, the loss falls with missing spectra, the plugin lists it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from cli_overrides import ONE_CPU_PROCESS

from domains.astronomy.metadata_tokenizer import MetadataTokenizer
from domains.astronomy.spectrum_tokenizer import SpectrumTokenizer
from domains.astronomy.synthetic import write_variable_star_folder
from domains.astronomy.tokenizer import ObservationTokenizer
from domains.astronomy.trimodal import VariableStarDataModule
from evaluation.benchmark import Benchmark, registered_benchmarks
from evaluation.cache import EmbeddingCache
from evaluation.embeddings import extract_embeddings
from evaluation.runner import display_name, run_benchmark
from foundations.cli.lightning_cli import FoundationsCLI
from foundations.encoders import Encoder
from foundations.methods import MultiModalAlignment
from foundations.registry import domains

RECIPES = Path(__file__).resolve().parents[3] / "recipes" / "astronomy"
PIXELS = 128


@pytest.fixture(scope="module")
def stars(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("clip") / "stars"
    return write_variable_star_folder(root, 66, seed=2, missing_spectrum=0.4, missing_metadata=0.2)


def recipe_args(stars: Path, root: Path, *trainer: str) -> list[str]:
    """``fit`` arguments of the CPU recipe, shrunk to the small star folder."""
    spectrum = "--model.init_args.encoders.spectrum.init_args.tokenizer.init_args"
    return [
        "fit", "-c", str(RECIPES / "clip_trimodal.yaml"),
        "--data.init_args.root", str(stars),
        "--data.init_args.min_class_count", "1",
        "--data.init_args.length", "32",
        "--data.init_args.num_pixels", str(PIXELS),
        "--data.init_args.batch_size", "8",
        "--data.init_args.cache", "false",
        f"{spectrum}.num_pixels", str(PIXELS),
        "--trainer.default_root_dir", str(root),
        "--trainer.logger", "false",
        "--trainer.enable_progress_bar", "false",
        "--trainer.accelerator", "cpu",
        *trainer,
    ]  # fmt: skip


def test_cpu_recipe_runs_end_to_end(stars: Path, tmp_path: Path) -> None:
    args = recipe_args(stars, tmp_path, "--trainer.fast_dev_run", "true")
    cli = FoundationsCLI(args=args)
    assert cli.trainer.global_step == 1
    assert torch.isfinite(cli.trainer.callback_metrics["train/loss"])
    encoder = cli.model.embedding_encoder()
    assert encoder.modality == "photometry"  # evaluation probes the light-curve encoder


def test_full_size_recipe_builds(tmp_path: Path) -> None:
    args = [
        "-c",
        str(RECIPES / "clip_trimodal_full.yaml"),
        "--data.init_args.path",  # shards (training from them: tests/data/test_streaming_*)
        str(tmp_path),
        *ONE_CPU_PROCESS,
    ]
    cli = FoundationsCLI(args=args, run=False)
    encoders = cli.model.encoders
    assert list(encoders) == ["photometry", "spectrum", "metadata"]
    assert encoders["photometry"].embed_dim == 384
    assert len(encoders["spectrum"].trunk.blocks) == 8
    spectra = {
        "wavelength": torch.linspace(3800.0, 9200.0, 2000),
        "flux": torch.ones(1, 2000),
        "ivar": torch.ones(1, 2000),
    }
    assert encoders["spectrum"].tokenize(spectra).tokens.shape == (1, 65, 384)


def _model(num_bands: int) -> MultiModalAlignment:
    def encoder(tokenizer: torch.nn.Module, modality: str) -> Encoder:
        return Encoder(tokenizer, modality=modality, depth=1, num_heads=2, pool="mean")

    return MultiModalAlignment(
        {
            "photometry": encoder(ObservationTokenizer(32, num_bands=num_bands), "photometry"),
            "spectrum": encoder(
                SpectrumTokenizer(32, num_pixels=PIXELS, patch_size=16), "spectrum"
            ),
            "metadata": encoder(MetadataTokenizer(10, 32), "metadata"),
        },
        embed_dim=32,
    )


def test_trimodal_clip_loss_decreases_with_missing_spectra(stars: Path) -> None:
    torch.manual_seed(0)
    data = VariableStarDataModule(
        root=str(stars), length=48, num_pixels=PIXELS, batch_size=32, min_class_count=1, cache=False
    )
    data.setup()
    batch = next(iter(data.train_dataloader()))
    missing = ~batch["present"]["spectrum"]
    assert 0 < int(missing.sum()) < 32  # some spectra are missing, some are not
    model = _model(data.num_bands)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(25):
        embeddings = model.embed(batch)
        loss = model.criterion(embeddings, model._present(batch))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
    assert all(torch.isfinite(torch.tensor(losses)))
    assert losses[-1] < 0.8 * losses[0], losses


def test_plugin_registers_the_trimodal_parts() -> None:
    plugin = domains()["astronomy"]
    assert plugin.tokenizers["spectrum"].endswith("SpectrumTokenizer")
    assert plugin.tokenizers["metadata"].endswith("MetadataTokenizer")
    assert plugin.datasets["variable_stars"].endswith("VariableStarDataModule")
    benchmark = registered_benchmarks()["astro-synthetic"]
    assert benchmark.raw_baseline is False and benchmark.primary_metric == "macro_f1"
    assert "retrieval" in benchmark.protocols
    assert benchmark.datamodule["init_args"]["missing_spectrum"] > 0


def test_joint_embedding_zeroes_and_flags_missing_modalities(stars: Path) -> None:
    torch.manual_seed(0)
    data = VariableStarDataModule(
        root=str(stars), length=48, num_pixels=PIXELS, batch_size=66, min_class_count=1, cache=False
    )
    data.setup()
    model = _model(data.num_bands).eval()
    joint = model.joint_embedding_encoder()
    assert joint.out_dim == 3 * 32 + 3
    features, labels = extract_embeddings(joint, data.split_dataloader("train"), device="cpu")
    batch = next(iter(data.split_dataloader("train")))
    present = batch["present"]["spectrum"].numpy()
    assert features.shape == (present.size, joint.out_dim) and labels is not None
    spectrum = features[:, 32:64]
    assert (spectrum[~present] == 0).all() and (abs(spectrum[present]).sum(1) > 0).all()
    np.testing.assert_array_equal(features[:, -2], present.astype(np.float32))
    with torch.no_grad():  # the light-curve part is the photometry encoder's embedding
        photometry = model.encoders["photometry"](batch["photometry"]).numpy()
    np.testing.assert_allclose(features[:, :32], photometry, rtol=1e-5, atol=1e-6)


def test_benchmark_probes_the_joint_embedding_of_a_checkpoint(stars: Path, tmp_path: Path) -> None:
    FoundationsCLI(args=recipe_args(stars, tmp_path, "--trainer.max_steps", "1"))
    checkpoint = next(tmp_path.rglob("last.ckpt"))
    benchmark = Benchmark(
        name="stars-joint",
        datamodule={
            "class_path": "domains.astronomy.trimodal.VariableStarDataModule",
            "init_args": {
                "root": str(stars), "length": 32, "num_pixels": PIXELS, "min_class_count": 1,
                "cache": False, "periods": True,
            },
        },
        protocols=("linear",),
        raw_baseline=False,
        joint_embedding=True,
    )  # fmt: skip
    cache = EmbeddingCache(tmp_path / "cache")
    results = run_benchmark(benchmark, [str(checkpoint)], tmp_path / "out", cache=cache)
    name = display_name(str(checkpoint))
    joint = f"{name} (all modalities)"
    names = set(results["candidates"])
    assert {name, joint, f"{joint} (random init)"} <= names
    assert "linear" in results["candidates"][joint]
