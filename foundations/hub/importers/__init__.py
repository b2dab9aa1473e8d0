"""Importers from well-known public checkpoint formats into foundations encoders.

Each takes the source model (built or downloaded by the caller; nothing here touches the
network) and returns an :class:`Imported` encoder that gives the source's outputs, ready to
``push`` to a hub. See ``docs/hub.md`` for the public checkpoints each one is for.
"""

from foundations.hub.importers.common import Imported
from foundations.hub.importers.dinov2 import from_dinov2
from foundations.hub.importers.monai_vit import from_monai_vit
from foundations.hub.importers.timm_vit import from_timm_vit
from foundations.hub.importers.torchgeo_ssl4eo import from_torchgeo_vit

__all__ = ["Imported", "from_dinov2", "from_monai_vit", "from_timm_vit", "from_torchgeo_vit"]
