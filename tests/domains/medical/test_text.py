"""Report encoder, image-report alignment and zero-shot classification, all offline."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import lightning as L
import pytest
import torch
import yaml
from torch import nn
from torch.utils.data import DataLoader, Dataset

from domains.medical.text import TextEncoder, build_tiny_text_model, default_text_model
from domains.medical.zeroshot import (
    class_text_embeddings,
    evaluate_zero_shot,
    zero_shot_classify,
    zero_shot_metrics,
)
from foundations import api
from foundations.methods import MultiModalAlignment, load_method
from foundations.methods.views import batch_size_of

FINDINGS = ("cyst", "nodule", "calcification")
ORGANS = ("liver", "kidney", "spleen", "lung")
PROMPTS = {word: [f"a {word}", f"there is a {word}", f"{word} seen"] for word in FINDINGS}


@pytest.fixture(autouse=True)
def _one_thread() -> Iterator[None]:
    # Intra-op threads only add synchronisation on tensors this small (and on a busy machine).
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_text_model(tmp_path_factory.mktemp("text") / "tiny-bert")


def test_output_shape_and_pooling(tiny_model: Path) -> None:
    reports = ["a 12 mm cyst in the liver", "no focal lesion"]
    cls = TextEncoder(str(tiny_model), pool="cls").eval()
    mean = TextEncoder(str(tiny_model), pool="mean").eval()
    assert (cls.out_dim, cls.modality) == (32, "report")
    with torch.no_grad():
        cls_out, mean_out = cls(reports), mean(reports)
    assert cls_out.shape == mean_out.shape == (2, 32)
    assert not torch.allclose(cls_out, mean_out)
    with pytest.raises(TypeError, match="list of strings"):
        cls("a single report")


@pytest.mark.parametrize("pool", ["cls", "mean"])
def test_padding_leaves_a_report_embedding_unchanged(tiny_model: Path, pool: str) -> None:
    encoder = TextEncoder(str(tiny_model), pool=pool).eval()  # type: ignore[arg-type]
    short = "a cyst"
    longer = "there is a 12 mm hypodense cyst in the right lobe of the liver with calcification"
    with torch.no_grad():
        alone = encoder([short])[0]
        batched = encoder([short, longer])[0]
    assert encoder.tokenize([short, longer])["attention_mask"][0].sum() < 10  # it was padded
    assert torch.allclose(alone, batched, atol=1e-5)


def test_freeze_layers_freezes_embeddings_and_the_first_layers(tiny_model: Path) -> None:
    encoder = TextEncoder(str(tiny_model), freeze_layers=1)
    frozen = {name for name, param in encoder.named_parameters() if not param.requires_grad}
    assert frozen
    assert all(name.startswith(("model.embeddings.", "model.encoder.layer.0.")) for name in frozen)
    assert all(
        name in frozen
        for name, _ in encoder.named_parameters()
        if name.startswith(("model.embeddings.", "model.encoder.layer.0."))
    )
    with pytest.raises(ValueError, match="exceeds the 2 layers"):
        TextEncoder(str(tiny_model), freeze_layers=3)


def test_missing_or_wrong_folder_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-model"
    with pytest.raises(FileNotFoundError, match="no-such-model"):
        TextEncoder(str(missing))
    empty = tmp_path / "empty-folder"
    empty.mkdir()
    with pytest.raises(ValueError, match=r"empty-folder.*not a transformers checkpoint"):
        TextEncoder(str(empty))


def test_default_model_is_built_offline_and_covers_report_words() -> None:
    path = default_text_model()
    assert path == default_text_model()  # built once, then reused
    encoder = TextEncoder(None)
    report = (
        "Portal venous phase CT of the abdomen, 2.5 mm slices. Sharply marginated hypodense "
        "lesion of water density in the superior right hepatic lobe (14mm), likely a cyst. "
        "Rim-calcified cystic lesion in the upper pole of the left kidney, 3.5 x 2 cm."
    )
    tokens = encoder.tokenizer.convert_ids_to_tokens(
        encoder.tokenize([report])["input_ids"][0].tolist()
    )
    assert "[UNK]" not in tokens


def test_batch_size_of_counts_lists_of_reports() -> None:
    assert batch_size_of(["a", "b", "c"]) == 3
    assert batch_size_of(("a",)) == 1
    assert batch_size_of({"values": torch.zeros(4, 2)}) == 4


def test_alignment_rejects_an_encoder_without_width(tiny_model: Path) -> None:
    with pytest.raises(TypeError, match=r"'bad'.*out_dim"):
        MultiModalAlignment({"report": TextEncoder(str(tiny_model)), "bad": nn.Linear(2, 2)})


class Pairs(Dataset):
    """Images whose class is a bright channel, with a caption naming that class's finding."""

    def __init__(self, size: int, seed: int) -> None:
        generator = torch.Generator().manual_seed(seed)
        self.labels = torch.arange(size) % len(FINDINGS)
        self.images = 0.2 * torch.randn(size, 3, 16, 16, generator=generator)
        self.images[torch.arange(size), self.labels] += 1.0
        organs = torch.randint(len(ORGANS), (size,), generator=generator)
        sizes = torch.randint(2, 30, (size,), generator=generator)
        self.reports = [
            f"there is a {int(s)} mm {FINDINGS[int(c)]} in the {ORGANS[int(o)]}"
            for c, o, s in zip(self.labels, organs, sizes, strict=True)
        ]

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> dict[str, object]:
        return {"image": self.images[index], "report": self.reports[index]}


class PairsDataModule(L.LightningDataModule):
    """The training pairs, so the recipe below runs as a real ``foundations fit``."""

    def __init__(self, size: int = 192, batch_size: int = 24) -> None:
        super().__init__()
        self.size, self.batch_size = size, batch_size

    def train_dataloader(self) -> DataLoader:
        return DataLoader(
            Pairs(self.size, seed=0), batch_size=self.batch_size, shuffle=True, drop_last=True
        )


def recipe(tiny_model: Path) -> dict[str, object]:
    image = {
        "class_path": "foundations.encoders.Encoder",
        "init_args": {
            "modality": "image",
            "depth": 1,
            "num_heads": 4,
            "pool": "mean",
            "tokenizer": {
                "class_path": "foundations.encoders.patch2d.PatchTokenizer2d",
                "init_args": {"in_channels": 3, "image_size": 16, "patch_size": 4, "embed_dim": 32},
            },
        },
    }
    report = {
        "class_path": "domains.medical.text.TextEncoder",
        "init_args": {"name_or_path": str(tiny_model), "pool": "mean", "max_length": 32},
    }
    return {
        "seed_everything": 0,
        "trainer": {"accelerator": "cpu", "devices": 1, "max_steps": 80, "logger": False},
        "model": {
            "class_path": "foundations.methods.MultiModalAlignment",
            "init_args": {
                "encoders": {"image": image, "report": report},
                "embed_dim": 32,
                "lr": 3e-3,
                "warmup_ratio": 0.05,
            },
        },
        # This module is importable under its file name: pytest puts its folder on sys.path.
        "data": {"class_path": f"{__name__}.PairsDataModule"},
    }


def clip_loss(model: MultiModalAlignment, batch: dict[str, object]) -> float:
    model.eval()
    model.log = lambda *args, **kwargs: None  # type: ignore[method-assign]
    with torch.no_grad():
        loss = float(model.shared_step(batch, "val"))
    del model.log
    return loss


def test_alignment_learns_zero_shot_and_reloads_from_its_checkpoint(
    tiny_model: Path, tmp_path: Path
) -> None:
    path = tmp_path / "clip_report.yaml"
    path.write_text(yaml.safe_dump(recipe(tiny_model)))
    overrides = {
        "trainer.default_root_dir": tmp_path,
        "trainer.enable_progress_bar": False,
        "trainer.enable_model_summary": False,
    }
    test = Pairs(60, seed=1)
    probe = {"image": test.images[:24], "report": test.reports[:24]}
    cli = api.build(path, overrides)  # what `foundations fit` builds, then trained as it does
    model = cli.model
    assert isinstance(model, MultiModalAlignment)
    assert isinstance(model.encoders["report"], TextEncoder)
    before = clip_loss(model, probe)
    cli.trainer.fit(model, datamodule=cli.datamodule)
    after = clip_loss(model, probe)
    assert after < 0.8 * before, f"CLIP loss went from {before:.3f} to {after:.3f}"

    metrics = evaluate_zero_shot(model, "image", "report", test.images, PROMPTS, test.labels)
    assert metrics["accuracy"] > 0.8, metrics  # chance is 1/3
    assert metrics["auroc"] > 0.9, metrics

    checkpoint = next(tmp_path.rglob("last.ckpt"))
    raw = torch.load(checkpoint, weights_only=True, map_location="cpu")
    report_config = raw["hyper_parameters"]["encoders"]["report"]
    assert report_config["class_path"] == "domains.medical.text.TextEncoder"
    assert report_config["init_args"]["name_or_path"] == str(tiny_model)
    reloaded = load_method(checkpoint)
    assert isinstance(reloaded, MultiModalAlignment)
    model.eval()
    with torch.no_grad():
        original, restored = model.embed(probe), reloaded.embed(probe)
    for name in ("image", "report"):
        assert torch.equal(original[name], restored[name])
    pred, scores = zero_shot_classify(
        reloaded.encoders["image"],
        reloaded.projections["image"],
        reloaded.encoders["report"],
        reloaded.projections["report"],
        test.images,
        list(PROMPTS.values()),
        batch_size=16,
    )
    assert scores.shape == (60, 3)
    assert torch.equal(pred, scores.argmax(dim=1))
    assert float((pred == test.labels).float().mean()) == pytest.approx(metrics["accuracy"])


def test_class_embeddings_average_normalised_prompts(tiny_model: Path) -> None:
    encoder = TextEncoder(str(tiny_model))
    classes = class_text_embeddings(encoder, None, {"a": ["a cyst", "cyst"], "b": ["a nodule"]})
    assert classes.shape == (2, 32)
    assert torch.allclose(classes.norm(dim=1), torch.ones(2))
    assert encoder.training  # train mode restored
    with pytest.raises(ValueError, match="two classes"):
        class_text_embeddings(encoder, None, [["a cyst"]])


def test_zero_shot_metrics() -> None:
    scores = torch.tensor([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.3, 0.7]])
    metrics = zero_shot_metrics(scores, torch.tensor([0, 1, 1, 1]))
    assert metrics["accuracy"] == pytest.approx(0.75)
    assert metrics["auroc"] == pytest.approx(1.0)
    three = torch.eye(3)[[0, 1, 2, 0]]
    metrics = zero_shot_metrics(three, torch.tensor([0, 1, 2, 0]))
    assert metrics["accuracy"] == metrics["auroc"] == pytest.approx(1.0)
    with pytest.raises(ValueError, match=r"\[0, 3\)"):
        zero_shot_metrics(three, torch.tensor([0, 1, 5, 0]))
