"""Zero-shot classification from text prompts, after image-text alignment (CLIP, ConVIRT).

Each class is described by one or more prompts ("a ct of a liver with a cyst"); a class's text
embedding is the mean of its normalised prompt embeddings, renormalised (prompt ensembling as in
CLIP, Radford et al., 2021). An image goes to the class of highest cosine similarity.

The benchmark protocol ``zeroshot`` (:func:`zero_shot_protocol`) runs this on the test split for
every :class:`~foundations.methods.MultiModalAlignment` checkpoint that pairs an encoder of the
benchmark's image modality with a text encoder (any encoder with a true ``reads_text`` class
attribute, such as :class:`domains.medical.text.TextEncoder`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from evaluation.metrics import auroc, classification_metrics
from foundations.methods.multimodal import MultiModalAlignment

ClassPrompts = Mapping[str, Sequence[str]] | Sequence[Sequence[str]]


@contextmanager
def _inference(*modules: nn.Module) -> Iterator[None]:
    """Eval mode and no gradients, restoring each module's train/eval mode afterwards."""
    modes = [(module, module.training) for module in modules]
    try:
        for module in modules:
            module.eval()
        with torch.no_grad():
            yield
    finally:
        for module, mode in modes:
            module.train(mode)


def _device(*modules: nn.Module) -> torch.device:
    for module in modules:
        for param in module.parameters():
            return param.device
    return torch.device("cpu")


def _num_samples(inputs: Any) -> int:
    if isinstance(inputs, Mapping):
        return _num_samples(next(iter(inputs.values())))
    return len(inputs)


def _slice(inputs: Any, start: int, stop: int, device: torch.device) -> Any:
    if isinstance(inputs, Mapping):
        return {key: _slice(value, start, stop, device) for key, value in inputs.items()}
    if isinstance(inputs, Tensor):
        return inputs[start:stop].to(device)
    return inputs[start:stop]


def _prompt_lists(class_prompts: ClassPrompts) -> list[list[str]]:
    lists = [
        list(prompts)
        for prompts in (
            class_prompts.values() if isinstance(class_prompts, Mapping) else class_prompts
        )
    ]
    if len(lists) < 2:
        raise ValueError(f"zero-shot classification needs at least two classes, got {len(lists)}")
    for index, prompts in enumerate(lists):
        if not prompts or isinstance(prompts, str) or not all(isinstance(p, str) for p in prompts):
            raise ValueError(f"class {index} needs a non-empty list of prompt strings")
    return lists


def class_text_embeddings(
    text_encoder: nn.Module, text_projection: nn.Module | None, class_prompts: ClassPrompts
) -> Tensor:
    """One unit-norm embedding per class from its prompts.

    Args:
        text_encoder: Module mapping a list of strings to ``[P, D]``.
        text_projection: Module into the shared space, or ``None`` for none.
        class_prompts: Prompts per class, by class name (dict order is the class order) or by
            class index.

    Returns:
        ``[K, E]`` unit-norm class embeddings (``K`` classes).

    Raises:
        ValueError: With fewer than two classes or a class without prompts.
    """
    lists = _prompt_lists(class_prompts)
    projection = text_projection or nn.Identity()
    with _inference(text_encoder, projection):
        flat = [prompt for prompts in lists for prompt in prompts]
        embedded = F.normalize(projection(text_encoder(flat)), dim=-1)
        per_class = torch.split(embedded, [len(prompts) for prompts in lists])
        return F.normalize(torch.stack([part.mean(dim=0) for part in per_class]), dim=-1)


def zero_shot_classify(
    image_encoder: nn.Module,
    image_projection: nn.Module | None,
    text_encoder: nn.Module,
    text_projection: nn.Module | None,
    images: Any,
    class_prompts: ClassPrompts,
    batch_size: int | None = None,
) -> tuple[Tensor, Tensor]:
    """Classify images by cosine similarity to per-class prompt embeddings.

    Modules run in eval mode without gradients; their train/eval mode is restored afterwards.

    Args:
        image_encoder: Module mapping ``images`` to ``[N, D]``.
        image_projection: Module into the shared space, or ``None`` for none.
        text_encoder: Module mapping a list of strings to ``[P, D']``.
        text_projection: Module into the shared space, or ``None`` for none.
        images: What ``image_encoder`` reads: a tensor ``[N, ...]`` or a dict of them.
        class_prompts: Prompts per class, by class name (dict order is the class order) or by
            class index.
        batch_size: Images per forward pass (``None``: all at once).

    Returns:
        ``pred`` ``[N]`` (class indices, long) and ``scores`` ``[N, K]`` (cosine similarities).

    Raises:
        ValueError: With fewer than two classes, a class without prompts, or no images.
    """
    classes = class_text_embeddings(text_encoder, text_projection, class_prompts)
    projection = image_projection or nn.Identity()
    total = _num_samples(images)
    if total == 0:
        raise ValueError("no images to classify")
    step = batch_size or total
    device = _device(image_encoder, projection)
    parts = []
    with _inference(image_encoder, projection):
        for start in range(0, total, step):
            batch = _slice(images, start, start + step, device)
            parts.append(F.normalize(projection(image_encoder(batch)), dim=-1))
    scores = torch.cat(parts) @ classes.to(parts[0].device).T
    return scores.argmax(dim=1), scores


def _encoder_pair(method: MultiModalAlignment, name: str) -> tuple[nn.Module, nn.Module]:
    if name not in method.encoders:
        raise KeyError(f"no encoder named {name!r}; the method has {list(method.encoders)}")
    return method.encoders[name], method.projections[name]


def zero_shot_from_method(
    method: MultiModalAlignment,
    image_key: str,
    text_key: str,
    images: Any,
    class_prompts: ClassPrompts,
    batch_size: int | None = None,
) -> tuple[Tensor, Tensor]:
    """:func:`zero_shot_classify` with a trained method's encoders and projections.

    Args:
        method: A trained :class:`~foundations.methods.MultiModalAlignment`.
        image_key: Name of the image encoder in ``method.encoders``.
        text_key: Name of the text encoder in ``method.encoders``.
        images: What the image encoder reads.
        class_prompts: Prompts per class (see :func:`zero_shot_classify`).
        batch_size: Images per forward pass (``None``: all at once).

    Returns:
        ``pred`` ``[N]`` and ``scores`` ``[N, K]``.

    Raises:
        KeyError: Naming the available encoders, when a key is not one of them.
    """
    image_encoder, image_projection = _encoder_pair(method, image_key)
    text_encoder, text_projection = _encoder_pair(method, text_key)
    return zero_shot_classify(
        image_encoder,
        image_projection,
        text_encoder,
        text_projection,
        images,
        class_prompts,
        batch_size,
    )


def zero_shot_metrics(scores: Tensor | np.ndarray, labels: Tensor | np.ndarray) -> dict[str, float]:
    """Accuracy, balanced accuracy, macro-F1 and AUROC of zero-shot scores.

    AUROC ranks samples for class ``c`` by the margin ``scores[:, c] - max_{j != c} scores[:, j]``,
    which is positive exactly when ``c`` is predicted, so a perfect accuracy means an AUROC of
    1 (for two classes it is ``scores[:, 1] - scores[:, 0]``, the order of the softmax
    probability of class 1 at any temperature). With more than two classes it is the mean
    one-vs-rest AUROC over the classes with both positives and negatives.

    Args:
        scores: ``[N, K]`` class scores.
        labels: ``[N]`` true class indices in ``[0, K)``.

    Returns:
        ``accuracy``, ``balanced_accuracy``, ``macro_f1`` and ``auroc`` (NaN when undefined:
        the labels hold a single class).

    Raises:
        ValueError: On mismatched lengths or labels outside ``[0, K)``.
    """
    scores_np = np.asarray(torch.as_tensor(scores).detach().cpu(), dtype=np.float64)
    labels_np = np.asarray(torch.as_tensor(labels).detach().cpu()).ravel()
    if scores_np.ndim != 2 or scores_np.shape[0] != labels_np.shape[0]:
        raise ValueError(f"need scores [N, K] for {labels_np.shape[0]} labels, got {scores.shape}")
    num_classes = scores_np.shape[1]
    if labels_np.size and (labels_np.min() < 0 or labels_np.max() >= num_classes):
        raise ValueError(f"labels must lie in [0, {num_classes}), got {np.unique(labels_np)}")
    metrics = classification_metrics(labels_np, scores_np.argmax(axis=1))
    margins = np.empty_like(scores_np)
    for c in range(num_classes):
        margins[:, c] = scores_np[:, c] - np.delete(scores_np, c, axis=1).max(axis=1)
    classes = range(1, 2) if num_classes == 2 else range(num_classes)
    per_class = [
        auroc(labels_np == c, margins[:, c])
        for c in classes
        if 0 < int((labels_np == c).sum()) < labels_np.size
    ]
    metrics["auroc"] = float(np.mean(per_class)) if per_class else float("nan")
    return metrics


def evaluate_zero_shot(
    method: MultiModalAlignment,
    image_key: str,
    text_key: str,
    images: Any,
    class_prompts: ClassPrompts,
    labels: Tensor | np.ndarray,
    batch_size: int | None = None,
) -> dict[str, float]:
    """Zero-shot classify ``images`` with a trained method and score against ``labels``.

    Args:
        method: A trained :class:`~foundations.methods.MultiModalAlignment`.
        image_key: Name of the image encoder in ``method.encoders``.
        text_key: Name of the text encoder in ``method.encoders``.
        images: What the image encoder reads.
        class_prompts: Prompts per class; class ``k`` is label ``k``.
        labels: ``[N]`` true class indices.
        batch_size: Images per forward pass (``None``: all at once).

    Returns:
        The metrics of :func:`zero_shot_metrics`.

    Raises:
        KeyError: When a key names no encoder of ``method``.
        ValueError: On bad prompts, or labels that do not fit the scores.
    """
    _, scores = zero_shot_from_method(
        method, image_key, text_key, images, class_prompts, batch_size
    )
    return zero_shot_metrics(scores, labels)


def zero_shot_encoders(method: MultiModalAlignment) -> tuple[str, str] | None:
    """Names of the image and text encoders that zero-shot classification uses, if any.

    The image encoder is the method's ``embedding_encoder()`` (the one the probes evaluate); the
    text encoder is the first other encoder that reads another modality and has a true
    ``reads_text`` attribute (it maps a list of strings to embeddings, e.g.
    :class:`domains.medical.text.TextEncoder`).

    Returns:
        ``(image_name, text_name)`` in ``method.encoders``, or ``None`` without a text encoder.
    """
    image = method.embedding_encoder()
    modalities = method.modalities()
    image_name = next(name for name, encoder in method.encoders.items() if encoder is image)
    for name, encoder in method.encoders.items():
        if name == image_name or modalities[name] == modalities[image_name]:
            continue
        if getattr(encoder, "reads_text", False) is True:
            return image_name, name
    return None


def check_class_names(
    class_prompts: Mapping[str, Sequence[str]], class_names: Sequence[str]
) -> None:
    """Check that the prompts name the data's classes, in class-index order.

    Raises:
        ValueError: Listing both, when the prompt keys are not exactly ``class_names`` in order.
    """
    keys, names = [str(key) for key in class_prompts], [str(name) for name in class_names]
    if keys == names:
        return
    missing = [name for name in names if name not in keys]
    unknown = [key for key in keys if key not in names]
    detail = (
        f"missing {missing}, unknown {unknown}"
        if missing or unknown
        else "same names in another order"
    )
    raise ValueError(
        f"zero-shot prompts must be given for the data's classes in class-index order {names}; "
        f"got {keys} ({detail})"
    )


def _move(value: Any, device: torch.device) -> Any:
    if isinstance(value, Tensor):
        return value.to(device)
    if isinstance(value, Mapping):
        return {key: _move(item, device) for key, item in value.items()}
    return value


def zero_shot_protocol(
    method: MultiModalAlignment,
    image_name: str,
    text_name: str,
    batches: Any,
    class_prompts: ClassPrompts,
    device: str | torch.device | None = None,
) -> dict[str, Any]:
    """Zero-shot classify every sample of ``batches`` and score it against its ``label``.

    Args:
        method: A trained :class:`~foundations.methods.MultiModalAlignment`.
        image_name: Name of the image encoder in ``method.encoders`` (it reads the batch key
            ``method.modalities()[image_name]``).
        text_name: Name of the text encoder in ``method.encoders``.
        batches: Sample dicts with the image modality and ``"label"`` (one split, e.g. a test
            DataLoader).
        class_prompts: Prompts per class; class ``k`` is label ``k``.
        device: Where to run (default: CUDA when available).

    Returns:
        The metrics of :func:`zero_shot_metrics`, plus ``num_samples``, ``num_classes`` and the
        encoder names used (``image_encoder``, ``text_encoder``).

    Raises:
        KeyError: When a name is not an encoder of ``method`` or a batch lacks the modality.
        ValueError: On bad prompts, batches without labels, no samples, or out-of-range labels.
    """
    image_encoder, image_projection = _encoder_pair(method, image_name)
    text_encoder, text_projection = _encoder_pair(method, text_name)
    key = method.modalities()[image_name]
    target = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    modules = (image_encoder, image_projection, text_encoder, text_projection)
    for module in modules:
        module.to(target)
    classes = class_text_embeddings(text_encoder, text_projection, class_prompts)
    parts, labels = [], []
    with _inference(image_encoder, image_projection):
        for batch in batches:
            if key not in batch:
                raise KeyError(f"batch has no {key!r} modality; keys are {sorted(batch)}")
            if "label" not in batch:
                raise ValueError("zero-shot classification needs labelled batches")
            embedded = image_projection(image_encoder(_move(batch[key], target)))
            parts.append(F.normalize(embedded.float(), dim=-1).cpu())
            labels.append(torch.as_tensor(batch["label"]).cpu())
    if not parts:
        raise ValueError("no images to classify")
    scores = torch.cat(parts) @ classes.float().cpu().T
    metrics: dict[str, Any] = dict(zero_shot_metrics(scores, torch.cat(labels)))
    return metrics | {
        "num_samples": int(scores.shape[0]),
        "num_classes": int(scores.shape[1]),
        "image_encoder": image_name,
        "text_encoder": text_name,
    }
