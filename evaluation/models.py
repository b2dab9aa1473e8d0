"""Resolve the ``--model`` argument of ``foundations eval`` into an encoder to evaluate."""

from __future__ import annotations

from argparse import ArgumentError
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

import torch
from torch import nn

from evaluation.cache import fingerprint_module
from foundations.cli.errors import summarise_parser_error
from foundations.cli.lightning_cli import ONE_CPU_PROCESS_ARGS, FoundationsCLI
from foundations.hub import HubError, HubNotFoundError, build_encoder, pull
from foundations.hub.card import WEIGHTS_FILE
from foundations.methods import load_method
from foundations.methods.base import SSLMethod

ModelSource = Literal["checkpoint", "random", "hub"]

RANDOM_PREFIX = "random:"
HUB_PREFIX = "hub:"
SPEC_HELP = (
    "expected a path to a .ckpt written by `foundations fit`, 'random:<recipe.yaml>' "
    "(the recipe's model at random initialisation) or 'hub:<name>[@<version>]' (from the hub "
    "in $FOUNDATIONS_HUB)"
)


@dataclass(frozen=True)
class ResolvedModel:
    """An encoder ready to embed, with what identifies it in caches and reports.

    Attributes:
        name: The spec as given (stripped), for tables and reports.
        encoder: The embedding encoder, in eval mode, on the CPU.
        model_id: :func:`~evaluation.cache.fingerprint_module` of ``encoder``.
        source: ``"checkpoint"``, ``"random"`` or ``"hub"``.
        path: The checkpoint or recipe file it came from.
        joint_encoder: For a multimodal checkpoint, its whole-sample embedding
            (``joint_embedding_encoder()``, sharing the checkpoint's weights); else ``None``.
        views: The view policy the encoder was pretrained on (the method's
            ``embedding_views()``), for checkpoints and recipes that have one; else ``None``.
    """

    name: str
    encoder: nn.Module
    model_id: str
    source: ModelSource
    path: Path | None = None
    joint_encoder: nn.Module | None = None
    views: nn.Module | None = None


def resolve_model(spec: str) -> ResolvedModel:
    """Turn a model spec into its embedding encoder.

    Specs:

    - ``path/to/file.ckpt``: a checkpoint written by ``foundations fit``, rebuilt from the
      checkpoint alone with :func:`~foundations.methods.load_method` (``weights_only``
      loading); the encoder is the method's ``embedding_encoder()``.
    - ``random:path/to/recipe.yaml``: the recipe's model at random initialisation, built as
      ``foundations fit`` would build it (seeded by the recipe's ``seed_everything``, so the
      weights are the ones a fit run starts from). This seeds the global random generators.
    - ``hub:NAME`` or ``hub:NAME@VERSION``: a model from the hub in ``$FOUNDATIONS_HUB``,
      pulled into the cache and verified (:func:`foundations.hub.load`); offline, the cached
      copy is used.

    Args:
        spec: The ``--model`` argument.

    Returns:
        The encoder with its name, fingerprint, source and file.

    Raises:
        FileNotFoundError: Naming the spec, when the checkpoint, recipe or hub model does not
            exist.
        ValueError: Naming the spec (and the file), when the spec has no known form, the recipe
            is invalid, or the file is not a usable checkpoint or recipe.
    """
    text = spec.strip()
    if not text:
        raise ValueError(f"empty model spec {spec!r}: {SPEC_HELP}")
    if text.startswith(HUB_PREFIX):
        return _hub_model(text, text.removeprefix(HUB_PREFIX).strip())
    if text.startswith(RANDOM_PREFIX):
        recipe = Path(text.removeprefix(RANDOM_PREFIX).strip()).expanduser()
        return _method_model(text, _recipe_method(text, recipe), "random", recipe)
    path = Path(text).expanduser()
    if path.is_file() and path.suffix in (".yaml", ".yml"):
        raise ValueError(
            f"model spec {text!r} is a recipe, not a checkpoint; write 'random:{text}' for its "
            "model at random initialisation, or train it with `foundations fit` first"
        )
    if path.is_file():
        method = _checkpoint_method(text, path)
        resolved = _method_model(text, method, "checkpoint", path)
        joint = getattr(method, "joint_embedding_encoder", None)
        return resolved if joint is None else replace(resolved, joint_encoder=joint())
    if path.exists():
        raise ValueError(f"model spec {text!r} is a directory, not a checkpoint; {SPEC_HELP}")
    if path.suffix == ".ckpt":
        raise FileNotFoundError(f"model spec {text!r}: no checkpoint at {path}")
    raise ValueError(f"unknown model spec {text!r}: {SPEC_HELP}")


def joint_model(model: ResolvedModel) -> ResolvedModel | None:
    """The whole-sample embedding of a multimodal checkpoint, or ``None`` for other models.

    Args:
        model: A resolved model.

    Returns:
        For a checkpoint whose method has ``joint_embedding_encoder()`` (such as
        :class:`~foundations.methods.MultiModalAlignment`), that encoder (every modality's
        embedding side by side, see :class:`~foundations.methods.joint_embedding.JointEmbedding`)
        named ``"<name> (all modalities)"``; otherwise ``None``.
    """
    if model.joint_encoder is None or model.path is None:
        return None
    return _resolved(
        f"{model.name} (all modalities)", model.joint_encoder, "checkpoint", model.path
    )


def _resolved(name: str, encoder: nn.Module, source: ModelSource, path: Path) -> ResolvedModel:
    encoder = encoder.to("cpu").eval()
    return ResolvedModel(name, encoder, fingerprint_module(encoder), source, path)


def _hub_model(spec: str, ref: str) -> ResolvedModel:
    try:
        pulled = pull(ref)
        encoder = build_encoder(pulled.card, pulled.folder / WEIGHTS_FILE)
    except HubNotFoundError as error:
        raise FileNotFoundError(f"model spec {spec!r}: {error}") from error
    except (HubError, ValueError) as error:
        raise ValueError(f"model spec {spec!r}: {error}") from error
    return _resolved(spec, encoder, "hub", pulled.folder / WEIGHTS_FILE)


def _embedding_encoder(spec: str, model: object) -> nn.Module:
    if not isinstance(model, SSLMethod):
        raise ValueError(
            f"model spec {spec!r}: {type(model).__qualname__} is not a foundations method, so "
            "it has no embedding encoder"
        )
    try:
        return model.embedding_encoder()
    except NotImplementedError as error:
        raise ValueError(f"model spec {spec!r}: {error}") from error


def _method_model(spec: str, method: object, source: ModelSource, path: Path) -> ResolvedModel:
    """A method's embedding encoder and the views it was pretrained on, both on the CPU."""
    resolved = _resolved(spec, _embedding_encoder(spec, method), source, path)
    views = method.embedding_views() if isinstance(method, SSLMethod) else None
    return replace(resolved, views=None if views is None else views.to("cpu"))


def _checkpoint_method(spec: str, path: Path) -> object:
    try:
        return load_method(path, map_location=torch.device("cpu"))
    except ValueError as error:  # load_method's messages already name the file
        raise ValueError(f"model spec {spec!r}: {error}") from error


def _recipe_method(spec: str, recipe: Path) -> object:
    if not recipe.is_file():
        raise FileNotFoundError(f"model spec {spec!r}: no recipe at {recipe}")
    try:
        # `foundations.api.build`, with parse errors raised rather than exiting the process.
        # Only the model is used: a GPU recipe's trainer (accelerator gpu, DDP) must not need
        # the GPU or the processes it would ask for.
        cli = FoundationsCLI(
            args=["-c", str(recipe), *ONE_CPU_PROCESS_ARGS],
            run=False,
            parser_kwargs={"exit_on_error": False},
        )
    except (ArgumentError, SystemExit) as error:
        raise ValueError(
            f"model spec {spec!r}: invalid recipe {recipe}: {summarise_parser_error(str(error))}"
        ) from error
    return cli.model
