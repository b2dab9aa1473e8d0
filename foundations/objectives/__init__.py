"""Self-supervised objectives: plain ``nn.Module`` losses, DDP-aware, usable without Lightning.

Under DDP every objective returns per-rank losses whose mean over ranks, and whose
DDP-averaged gradients, equal those of a single process on the whole batch (see
:mod:`foundations.objectives.distributed`).
"""

from foundations.objectives.clip import CLIPLoss
from foundations.objectives.dino import DINOLoss
from foundations.objectives.infonce import InfoNCELoss
from foundations.objectives.mae import MAELoss
from foundations.objectives.multimodal import MultiModalAlignmentLoss
from foundations.objectives.ntxent import NTXentLoss
from foundations.objectives.siglip import SigLIPLoss

__all__ = [
    "CLIPLoss",
    "DINOLoss",
    "InfoNCELoss",
    "MAELoss",
    "MultiModalAlignmentLoss",
    "NTXentLoss",
    "SigLIPLoss",
]
