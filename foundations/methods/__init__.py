"""Self-supervised methods as LightningModules; each takes encoders and view policies."""

from foundations.methods.base import SSLMethod
from foundations.methods.dino import DINO
from foundations.methods.loading import load_method
from foundations.methods.mae import MAE
from foundations.methods.moco import MoCoV3
from foundations.methods.multimodal import MultiModalAlignment
from foundations.methods.simclr import SimCLR

__all__ = ["DINO", "MAE", "MoCoV3", "MultiModalAlignment", "SSLMethod", "SimCLR", "load_method"]
