"""The checkpoint hub: publish, find, verify and load self-describing encoders.

A hub is a static folder layout (``docs/hub.md``) served from a local folder, any HTTP(S)
server or a Hugging Face repository. Only JSON and safetensors are ever read from it, every
file is checked against the sha256 its card records, and names cannot leave the hub's root.
"""

from foundations.hub.card import FORMAT_VERSION, Card
from foundations.hub.catalog import list_models, show, verify
from foundations.hub.convert import convert_pickle
from foundations.hub.errors import (
    CardError,
    HubError,
    HubNotFoundError,
    HubUnreachableError,
    IntegrityError,
    UnsafeFileError,
)
from foundations.hub.fetch import Pulled, pull
from foundations.hub.loading import build_encoder, load
from foundations.hub.publish import push, push_encoder

__all__ = [
    "FORMAT_VERSION",
    "Card",
    "CardError",
    "HubError",
    "HubNotFoundError",
    "HubUnreachableError",
    "IntegrityError",
    "Pulled",
    "UnsafeFileError",
    "build_encoder",
    "convert_pickle",
    "list_models",
    "load",
    "pull",
    "push",
    "push_encoder",
    "show",
    "verify",
]
