"""The engine's proof: SimCLR through the CLI learns the toy modality.

`foundations fit -c recipes/core/simclr_toy.yaml` must lower its loss, and a linear probe on the
learned embedding must beat both the same encoder at random initialisation and the raw pixels.
About a minute on two CPU cores.
"""

from __future__ import annotations

import copy
from pathlib import Path

from lightning.pytorch.callbacks import Callback

from evaluation.demo import probe_encoder
from evaluation.raw import RawInputs
from foundations import api

RECIPE = Path(__file__).resolve().parents[1] / "recipes" / "core" / "simclr_toy.yaml"


class EpochLosses(Callback):
    def __init__(self) -> None:
        self.losses: list[float] = []

    def on_train_epoch_end(self, trainer, pl_module) -> None:  # type: ignore[no-untyped-def]
        self.losses.append(float(trainer.callback_metrics["train/loss"]))


def test_simclr_on_toy_beats_random_init_and_raw_pixels(tmp_path: Path) -> None:
    cli = api.build(
        RECIPE,
        {
            "trainer.default_root_dir": tmp_path,
            "trainer.logger": False,
            "trainer.enable_progress_bar": False,
            "trainer.limit_val_batches": 0,
        },
    )
    random_init = copy.deepcopy(cli.model)
    losses = EpochLosses()
    cli.trainer.callbacks.append(losses)
    cli.trainer.fit(cli.model, datamodule=cli.datamodule)
    assert losses.losses[-1] < 0.8 * losses.losses[0], losses.losses

    modality = "image"
    trained = probe_encoder(cli.model.embedding_encoder(), cli.datamodule, modality).accuracy
    untrained = probe_encoder(random_init.embedding_encoder(), cli.datamodule, modality).accuracy
    raw = probe_encoder(RawInputs(), cli.datamodule, modality).accuracy
    assert trained > untrained + 0.2, (trained, untrained)
    assert trained > raw + 0.05, (trained, raw)
