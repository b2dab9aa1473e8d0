"""A domain that lives outside this repository registers through its entry point and trains."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

PLUGIN_SOURCE = '''
"""A third-party science: noisy sine waves, one token per sample point."""
import lightning as L
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from foundations.encoders import TokenBatch
from foundations.registry import DomainPlugin


class WaveTokenizer(nn.Module):
    def __init__(self, length: int = 16, embed_dim: int = 16) -> None:
        super().__init__()
        self.embed_dim = embed_dim
        self.target_dim = 1
        self.value = nn.Linear(1, embed_dim)
        self.pos = nn.Parameter(torch.randn(1, length, embed_dim) * 0.02)

    def forward(self, x: torch.Tensor) -> TokenBatch:
        values = x.unsqueeze(-1)
        return TokenBatch(tokens=self.value(values), pos=self.pos, target=values)


class Jitter(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + 0.1 * torch.randn_like(x)


class WaveDataModule(L.LightningDataModule):
    def __init__(self, batch_size: int = 8, length: int = 16) -> None:
        super().__init__()
        self.batch_size = batch_size
        self.length = length

    def train_dataloader(self):
        g = torch.Generator().manual_seed(0)
        t = torch.linspace(0, 6.28, self.length)
        freq = torch.rand(64, 1, generator=g) * 3
        waves = torch.sin(freq * t)
        dataset = TensorDataset(waves)
        collate = lambda rows: {"wave": torch.stack([r[0] for r in rows])}
        return DataLoader(dataset, batch_size=self.batch_size, collate_fn=collate, drop_last=True)


plugin = DomainPlugin(
    name="waves",
    description="third-party test domain",
    datasets={"waves": "waves_domain.WaveDataModule"},
    tokenizers={"wave": "waves_domain.WaveTokenizer"},
)
'''

RECIPE = """
trainer:
  max_steps: 4
  accelerator: cpu
  logger: false
  enable_progress_bar: false
  default_root_dir: {root}
model:
  class_path: foundations.methods.SimCLR
  init_args:
    encoder:
      class_path: foundations.encoders.Encoder
      init_args:
        modality: wave
        depth: 1
        num_heads: 2
        pool: mean
        tokenizer:
          class_path: waves_domain.WaveTokenizer
    augment:
      class_path: waves_domain.Jitter
    hidden_dim: 32
    projection_dim: 8
data:
  class_path: waves_domain.WaveDataModule
"""


@pytest.fixture()
def third_party_env(tmp_path: Path) -> dict[str, str]:
    site = tmp_path / "site"
    site.mkdir()
    (site / "waves_domain.py").write_text(textwrap.dedent(PLUGIN_SOURCE))
    dist_info = site / "waves_domain-0.1.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text("Metadata-Version: 2.1\nName: waves-domain\nVersion: 0.1\n")
    (dist_info / "entry_points.txt").write_text(
        "[foundations.domains]\nwaves = waves_domain:plugin\n"
    )
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(site), env.get("PYTHONPATH", "")])
    return env


def foundations_cli(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "foundations.cli.main", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_third_party_domain_is_listed(third_party_env: dict[str, str], tmp_path: Path) -> None:
    result = foundations_cli(["info"], third_party_env, tmp_path)
    assert result.returncode == 0, result.stderr
    assert "waves: third-party test domain" in result.stdout
    assert "waves_domain.WaveTokenizer" in result.stdout
    assert "toy:" in result.stdout  # the built-in plugin is still there


def test_third_party_domain_trains(third_party_env: dict[str, str], tmp_path: Path) -> None:
    recipe = tmp_path / "waves.yaml"
    recipe.write_text(RECIPE.format(root=tmp_path / "run"))
    result = foundations_cli(["fit", "-c", str(recipe)], third_party_env, tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    checkpoints = list((tmp_path / "run").rglob("last.ckpt"))
    assert checkpoints, "training must leave a resumable last.ckpt"
