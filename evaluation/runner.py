"""Run a benchmark: embed with every model and baseline, run the protocols, write the report."""

from __future__ import annotations

import hashlib
import inspect
import json
import platform
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, replace
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import sklearn
import torch
from threadpoolctl import threadpool_limits
from torch import nn
from tqdm.auto import tqdm

from evaluation.benchmark import Benchmark, classical_name
from evaluation.cache import (
    EmbeddingCache,
    cached_embeddings,
    fingerprint_config,
    fingerprint_module,
)
from evaluation.models import ResolvedModel, joint_model, resolve_model
from evaluation.plots import plot_confusion, plot_embedding_map, plot_label_efficiency
from evaluation.probes.boosting import boosting_probe
from evaluation.probes.knn import knn_probe_with_val
from evaluation.probes.linear import linear_probe, linear_probe_multilabel, predict_linear
from evaluation.protocols.anomaly import anomaly_auroc
from evaluation.protocols.finetune import finetune, reinitialized, supervised_from_scratch
from evaluation.protocols.label_efficiency import label_efficiency, subsample_labels, summarise
from evaluation.protocols.paired import paired_embeddings, pairwise_retrieval
from evaluation.protocols.similarity import precision_at_k, similarity_search
from evaluation.protocols.zeroshot import check_class_names, zero_shot_encoders, zero_shot_protocol
from evaluation.raw import RawInputs
from evaluation.report import render_report
from evaluation.view_average import ViewAveragedEncoder
from foundations import __version__
from foundations.data import SPLIT_NAMES, LabelledSplits, split_features
from foundations.encoders import Encoder
from foundations.methods import MultiModalAlignment, load_method
from foundations.registry import import_object

RAW = RawInputs()
Features = dict[str, tuple[np.ndarray, np.ndarray]]


def build_datamodule(benchmark: Benchmark, overrides: Mapping[str, Any] | None = None) -> Any:
    """Instantiate and set up the benchmark's datamodule (``overrides`` update its init args).

    Raises:
        TypeError: When the datamodule has no ``split_dataloader`` (LabelledSplits).
    """
    spec = benchmark.datamodule
    init_args = {**spec.get("init_args", {}), **(overrides or {})}
    datamodule: Any = import_object(spec["class_path"])(**init_args)
    if not callable(getattr(datamodule, "split_dataloader", None)):
        raise TypeError(
            f"benchmark {benchmark.name!r}: {spec['class_path']} has no split_dataloader() "
            f"({LabelledSplits.__name__}); "
            "it cannot be evaluated"
        )
    datamodule.prepare_data()
    datamodule.setup("fit")
    return datamodule


def display_name(spec: str) -> str:
    """A short label for a model spec: ``runs/x/lightning_logs/version_0/checkpoints/last.ckpt``
    becomes ``x/last.ckpt``; other specs are kept."""
    path = Path(spec)
    if path.suffix != ".ckpt":
        return spec
    generic = {"checkpoints", "lightning_logs"}
    for parent in path.parents:
        if parent.name and parent.name not in generic and not parent.name.startswith("version_"):
            return f"{parent.name}/{path.name}"
    return path.name


def _embed_all(
    encoder: nn.Module,
    model_id: str,
    datamodule: Any,
    dataset_id: str,
    cache: EmbeddingCache,
    modality: str | None,
    device: str | None,
) -> Features:
    features: Features = {}
    for split in SPLIT_NAMES:
        x, y = cached_embeddings(
            cache,
            encoder,
            datamodule.split_dataloader(split),
            model_id,
            dataset_id,
            split,
            modality=modality,
            device=device,
        )
        if y is None:
            raise ValueError(f"the {split} split of {type(datamodule).__name__} has no labels")
        features[split] = (x, y)
    return features


def _raw_features(datamodule: Any, modality: str) -> Features:
    return split_features(datamodule, lambda batch: RAW(batch[modality]).numpy())


def classical_id(dotted_path: str) -> str:
    """Cache identity of a classical feature function: its path and its module's source, so
    editing the features invalidates their cached values."""
    module = sys.modules[import_object(dotted_path).__module__]
    source = inspect.getsource(module)
    return f"classical:{dotted_path}:{hashlib.sha256(source.encode()).hexdigest()[:16]}"


def classical_features(
    dotted_path: str, datamodule: Any, dataset_id: str, cache: EmbeddingCache
) -> Features:
    """The classical features of every split, computed once per dataset and then cached (a
    periodogram of every star of ASAS takes minutes)."""
    model_id = classical_id(dotted_path)
    cached: Features = {}
    for split in SPLIT_NAMES:
        entry = cache.get(model_id, dataset_id, split)
        if entry is not None and entry[1] is not None:
            cached[split] = (entry[0], entry[1])
    if len(cached) == len(SPLIT_NAMES):
        return cached
    features: Features = import_object(dotted_path)(datamodule)
    for name, (x, y) in features.items():
        cache.put(model_id, dataset_id, name, np.asarray(x), np.asarray(y))
    return features


def _protocols(benchmark: Benchmark, features: Features) -> dict[str, Any]:
    train, val, test = features["train"], features["val"], features["test"]
    out: dict[str, Any] = {}
    with threadpool_limits(limits=1):  # BLAS threads fight torch's on small machines
        if benchmark.task == "multilabel":
            return {"linear": asdict(linear_probe_multilabel(train, val, test))}
        if "similarity" in benchmark.protocols:
            neighbours, _ = similarity_search(train[0], test[0], k=10)
            out["similarity"] = {"precision@10": precision_at_k(train[1], test[1], neighbours)}
        if "anomaly" in benchmark.protocols:
            anomalous = np.isin(test[1], benchmark.anomaly_classes)
            normal = train[0][~np.isin(train[1], benchmark.anomaly_classes)]
            out["anomaly"] = {"auroc": anomaly_auroc(normal, test[0], anomalous)}
        probe = partial(
            linear_probe,
            select_on=benchmark.probe_select_on,
            class_weight=benchmark.probe_class_weight,
        )
        if "linear" in benchmark.protocols:
            out["linear"] = asdict(probe(train, val, test))
        if "knn" in benchmark.protocols:
            out["knn"] = knn_probe_with_val(train, val, test)
        if "label_efficiency" in benchmark.protocols:
            out["label_efficiency"] = _label_efficiency(benchmark, features, probe)
    return out


def _label_efficiency(
    benchmark: Benchmark, features: Features, probe: Callable[..., Any]
) -> dict[str, Any]:
    """Rows per (fraction, seed) of ``probe`` on label subsets, and their summary."""
    rows = label_efficiency(
        features["train"],
        features["val"],
        features["test"],
        fractions=benchmark.label_fractions,
        seeds=benchmark.seeds,
        probe=probe,
    )
    return {"rows": rows, "summary": {str(f): v for f, v in summarise(rows).items()}}


def run_benchmark(
    benchmark: Benchmark,
    model_specs: Sequence[str],
    output: Path,
    cache: EmbeddingCache | None = None,
    device: str | None = None,
    data_overrides: Mapping[str, Any] | None = None,
    random_baseline: bool = True,
    embedding_views: int = 0,
) -> dict[str, Any]:
    """Evaluate models on a benchmark and write ``results.json``, ``report.md`` and plots.

    Candidates are each model, the same architecture at random initialisation (for checkpoint
    and hub models, with ``random_baseline``), the raw inputs (``benchmark.raw_baseline``) and the
    domain's classical features (``benchmark.classical_baseline``). Every candidate goes
    through the same protocols on the same splits; the test split is only ever scored.

    Args:
        benchmark: What to evaluate on.
        model_specs: ``path.ckpt``, ``random:recipe.yaml`` or ``hub:NAME`` (see
            :func:`evaluation.models.resolve_model`).
        output: Folder for the results.
        cache: Embedding cache (default location when ``None``).
        device: Where to embed; CUDA when available by default.
        data_overrides: Datamodule init args to change (e.g. ``{"root": "/my/data"}``).
        random_baseline: Add a random-init twin of each checkpoint or hub model.
        embedding_views: With ``N > 0``, each model that was pretrained on views (and its
            random-init twin) is also evaluated as ``"<name> + N views"``: its embedding
            averaged over the input and ``N`` seeded random draws of those views
            (:class:`~evaluation.view_average.ViewAveragedEncoder`).

    Returns:
        The content of ``results.json``.

    Raises:
        ValueError: When ``embedding_views`` is negative.
    """
    if embedding_views < 0:
        raise ValueError(f"embedding_views must be >= 0, got {embedding_views}")
    output.mkdir(parents=True, exist_ok=True)
    cache = cache or EmbeddingCache()
    datamodule = build_datamodule(benchmark, data_overrides)
    if "zeroshot" in benchmark.protocols:
        _check_prompts(benchmark, datamodule)
    dataset_id = fingerprint_config(
        {"datamodule": dict(benchmark.datamodule), "overrides": dict(data_overrides or {})}
    )
    models = [replace(resolve_model(spec), name=display_name(spec)) for spec in model_specs]
    candidates: dict[str, Callable[[], Features]] = {}
    modality = None
    for model in models:
        modality = modality or str(getattr(model.encoder, "modality", "image"))
        joint = joint_model(model) if benchmark.joint_embedding else None
        for encoder_model in (model,) if joint is None else (model, joint):
            candidates[encoder_model.name] = _encoder_features(
                encoder_model, datamodule, dataset_id, cache, device
            )
            twin_model = None
            if random_baseline and encoder_model.source in ("checkpoint", "hub"):
                twin = reinitialized(encoder_model.encoder)
                twin_name = f"{encoder_model.name} (random init)"
                twin_model = ResolvedModel(twin_name, twin, "", "random")
                candidates[twin_model.name] = _encoder_features(
                    twin_model, datamodule, dataset_id, cache, device
                )
            if embedding_views and encoder_model is model and model.views is not None:
                for plain in (model,) if twin_model is None else (model, twin_model):
                    averaged = ViewAveragedEncoder(plain.encoder, model.views, embedding_views)
                    name = f"{plain.name} + {embedding_views} views"
                    candidates[name] = _encoder_features(
                        ResolvedModel(name, averaged, "", plain.source),
                        datamodule,
                        dataset_id,
                        cache,
                        device,
                    )
    if benchmark.raw_baseline and modality is not None:
        raw_modality = modality
        candidates["raw inputs"] = lambda: _raw_features(datamodule, raw_modality)
    classical_labels: set[str] = set()
    for classical_path in benchmark.classical_baselines:
        label = f"classical: {classical_name(classical_path)}"
        candidates[label] = partial(
            classical_features, classical_path, datamodule, dataset_id, cache
        )
        classical_labels.add(label)

    results: dict[str, Any] = {
        "benchmark": asdict(benchmark) | {"datamodule": dict(benchmark.datamodule)},
        "dataset_id": dataset_id,
        "split": benchmark.split,
        "embedding_views": embedding_views,
        "models": {
            m.name: {
                "source": m.source,
                "model_id": m.model_id,
                "path": str(m.path) if m.path else None,
            }
            for m in models
        },
        "candidates": {},
        "versions": _versions(),
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    features_of: dict[str, Features] = {}
    for name, make in tqdm(candidates.items(), desc=f"eval {benchmark.name}", unit="model"):
        features = make()
        features_of[name] = features
        results["candidates"][name] = _protocols(benchmark, features)
        if name in classical_labels and benchmark.classical_classifier == "gradient_boosting":
            results["candidates"][f"{name} + gradient boosting"] = _boosting(benchmark, features)
    if "finetune" in benchmark.protocols:
        _finetune_protocol(benchmark, models, datamodule, features_of, results)
    if "retrieval" in benchmark.protocols:
        for model in models:
            retrieval = _retrieval(model, datamodule)
            if retrieval is not None:
                results["candidates"][model.name]["retrieval"] = retrieval
    if "zeroshot" in benchmark.protocols:
        skipped: dict[str, str] = {}
        for model in models:
            zeroshot = _zero_shot(benchmark, model, datamodule, device)
            if isinstance(zeroshot, str):
                skipped[model.name] = zeroshot
            else:
                results["candidates"][model.name]["zeroshot"] = zeroshot
        if skipped:
            results["zeroshot_skipped"] = skipped
    results["figures"] = _figures(benchmark, datamodule, features_of, results, output)
    (output / "results.json").write_text(json.dumps(results, indent=2, default=_json_default))
    (output / "report.md").write_text(render_report(results))
    return results


def _retrieval(model: ResolvedModel, datamodule: Any) -> dict[str, Any] | None:
    """Pairwise recall@k on test when ``model`` is a multimodal checkpoint, else ``None``."""
    if model.source != "checkpoint" or model.path is None:
        return None
    method = load_method(model.path)
    if not isinstance(method, MultiModalAlignment):
        return None
    embeddings, present = paired_embeddings(method, datamodule.split_dataloader("test"))
    return pairwise_retrieval(embeddings, present)


def _check_prompts(benchmark: Benchmark, datamodule: Any) -> None:
    """Fail before any embedding when the prompts do not name the data's classes in order.

    Raises:
        ValueError: Naming the benchmark, the prompt keys and the class names.
    """
    class_names = list(getattr(datamodule, "class_names", ()) or [])
    if not class_names:
        return  # unnamed classes: the prompts' order is the label order
    try:
        check_class_names(benchmark.zero_shot_prompts, class_names)
    except ValueError as error:
        raise ValueError(f"benchmark {benchmark.name!r}: {error}") from error


def _zero_shot(
    benchmark: Benchmark, model: ResolvedModel, datamodule: Any, device: str | None
) -> dict[str, Any] | str:
    """Zero-shot metrics on test of an image-text checkpoint, else why it was skipped."""
    if model.source != "checkpoint" or model.path is None:
        return f"a {model.source} model, not an image-text alignment checkpoint"
    method = load_method(model.path)
    if not isinstance(method, MultiModalAlignment):
        return f"{type(method).__name__}, not an image-text alignment (MultiModalAlignment)"
    names = zero_shot_encoders(method)
    if names is None:
        return f"no text encoder among {method.modalities()}"
    return zero_shot_protocol(
        method,
        *names,
        datamodule.split_dataloader("test"),
        benchmark.zero_shot_prompts,
        device=device,
    )


def _boosting(benchmark: Benchmark, features: Features) -> dict[str, Any]:
    """The classical features through gradient-boosted trees: full labels and label efficiency."""
    train, val, test = features["train"], features["val"], features["test"]
    probe = partial(
        boosting_probe,
        select_on=benchmark.probe_select_on,
        class_weight=benchmark.probe_class_weight,
    )
    out: dict[str, Any] = {"linear": probe(train, val, test)}
    if "label_efficiency" in benchmark.protocols:
        out["label_efficiency"] = _label_efficiency(benchmark, features, probe)
    return out


def _finetune_protocol(
    benchmark: Benchmark,
    models: Sequence[ResolvedModel],
    datamodule: Any,
    features_of: Mapping[str, Features],
    results: dict[str, Any],
) -> None:
    """Fine-tune each model, and its architecture from scratch, on the same label subsets."""
    for model in models:
        if not isinstance(model.encoder, Encoder):
            continue
        encoder = model.encoder
        labels = features_of[model.name]["train"][1]
        val_labels = features_of[model.name]["val"][1]
        num_classes = int(getattr(datamodule, "num_classes", 0) or labels.max() + 1)
        tuned, scratch = [], []
        for fraction in tqdm(benchmark.finetune_fractions, desc=f"fine-tune {model.name}"):
            # The same few-shot budget as label_efficiency: train and validation subsampled.
            indices = subsample_labels(labels, fraction, seed=0)
            options: dict[str, Any] = {
                "train_indices": indices,
                "val_indices": subsample_labels(val_labels, fraction, seed=0),
                "max_epochs": benchmark.finetune_epochs,
                "seed": 0,
                "select_on": benchmark.probe_select_on,
                "class_weight": benchmark.probe_class_weight,
            }
            row: dict[str, Any] = {"fraction": fraction, "seed": 0, "num_labels": len(indices)}
            tuned.append(row | finetune(encoder, datamodule, num_classes, **options))
            scratch.append(
                row | supervised_from_scratch(encoder, datamodule, num_classes, **options)
            )
        results["candidates"][model.name]["finetune"] = tuned
        results["candidates"].setdefault(f"{model.name} (supervised from scratch)", {})[
            "finetune"
        ] = scratch


def _encoder_features(
    model: ResolvedModel,
    datamodule: Any,
    dataset_id: str,
    cache: EmbeddingCache,
    device: str | None,
) -> Callable[[], Features]:
    def make() -> Features:
        model_id = model.model_id or fingerprint_module(model.encoder)
        return _embed_all(model.encoder, model_id, datamodule, dataset_id, cache, None, device)

    return make


def _figures(
    benchmark: Benchmark,
    datamodule: Any,
    features_of: Mapping[str, Features],
    results: Mapping[str, Any],
    output: Path,
) -> dict[str, str]:
    figures: dict[str, str] = {}
    class_names = list(getattr(datamodule, "class_names", ()) or [])
    metric = benchmark.primary_metric
    curves = {}
    for name, protocols in results["candidates"].items():
        summary = protocols.get("label_efficiency", {}).get("summary")
        if summary:
            curves[name] = {float(f): tuple(v[metric]) for f, v in summary.items()}
    if curves:
        path = plot_label_efficiency(curves, metric, output / "label_efficiency.png")
        figures["label_efficiency"] = path.name
    best = _best_encoder(results)
    if benchmark.task == "multilabel":
        return figures
    if best is not None and "linear" in results["candidates"][best]:
        features = features_of[best]
        if not class_names:
            class_names = [str(c) for c in np.unique(features["train"][1])]
        c = results["candidates"][best]["linear"]["best_c"]
        with threadpool_limits(limits=1):
            predicted = predict_linear(
                features["train"],
                features["test"][0],
                c,
                class_weight=benchmark.probe_class_weight,
            )
        title = f"{best}: linear probe on test"
        path = plot_confusion(
            features["test"][1], predicted, class_names, title, output / "confusion.png"
        )
        figures["confusion"] = path.name
        path = plot_embedding_map(
            features["test"][0],
            features["test"][1],
            class_names,
            f"{best}: test embeddings (PCA)",
            output / "embedding_map.png",
        )
        figures["embedding_map"] = path.name
    return figures


def _best_encoder(results: Mapping[str, Any]) -> str | None:
    """The first evaluated model (the user's own), which the figures describe."""
    models = list(results["models"])
    return models[0] if models else None


def _versions() -> dict[str, str]:
    return {
        "foundations": __version__,
        "torch": torch.__version__,
        "scikit-learn": sklearn.__version__,
        "python": platform.python_version(),
    }


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, tuple):
        return list(value)
    raise TypeError(f"cannot serialise {type(value).__name__}")
