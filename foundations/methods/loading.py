"""Rebuild a trained method from a checkpoint written by a ``foundations fit`` run."""

from __future__ import annotations

from pathlib import Path

import torch
from lightning.pytorch.cli import instantiate_module

from foundations.methods.base import SSLMethod
from foundations.registry import import_object


def load_method(path: str | Path, map_location: str | torch.device = "cpu") -> SSLMethod:
    """Load a checkpoint's method with its architecture, from the checkpoint alone.

    The file is read with ``torch.load(weights_only=True)``: tensors and plain values only, so
    no pickled object runs code. The method's class is imported from the ``_class_path`` the
    CLI recorded and must be a :class:`SSLMethod`; only load checkpoints whose packages you
    trust to import.

    Args:
        path: A Lightning checkpoint (``.ckpt``) from a CLI run.
        map_location: Device for the tensors.

    Returns:
        The method in eval mode.

    Raises:
        FileNotFoundError: When ``path`` does not exist.
        ValueError: Naming the file, when it is not a checkpoint, was not written by the CLI,
            names a class that is not a method, or its weights do not match the architecture.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}")
    try:
        checkpoint = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as error:
        raise ValueError(f"{path}: not a readable checkpoint ({error})") from error
    if not isinstance(checkpoint, dict):
        raise ValueError(f"{path}: not a Lightning checkpoint (top level is not a dict)")
    hparams = dict(checkpoint.get("hyper_parameters") or {})
    class_path = hparams.pop("_class_path", None)
    hparams.pop("_instantiator", None)
    if not isinstance(class_path, str) or "state_dict" not in checkpoint:
        raise ValueError(
            f"{path}: has no recorded model class; it was not written by `foundations fit` "
            "(build the model from its recipe and load the state_dict instead)"
        )
    cls = import_object(class_path)
    if not (isinstance(cls, type) and issubclass(cls, SSLMethod)):
        raise ValueError(f"{path}: {class_path} is not a foundations method")
    model = instantiate_module(cls, {"_class_path": class_path, **hparams})
    try:
        model.load_state_dict(checkpoint["state_dict"])
    except RuntimeError as error:
        raise ValueError(f"{path}: weights do not fit {class_path}: {error}") from error
    return model.to(map_location).eval()
