"""Benchmarks as data: a named dataset + split + protocols, registered by a domain.

A domain lists its benchmarks in ``DomainPlugin.benchmarks`` as plain dicts (the core cannot
import this package), and a user can write the same dict as YAML for their own labelled data::

    name: my-lesions
    datamodule:
      class_path: domains.medical.datamodules.VolumeFolderDataModule
      init_args: {root: /data/lesions, labels_csv: labels.csv}
    split: grouped by patient_id
    protocols: [linear, knn, label_efficiency]

Zero-shot classification of image-text checkpoints adds the ``zeroshot`` protocol and prompts per
class, in class-index order::

    protocols: [linear, knn, zeroshot]
    zero_shot_prompts:
      benign: [a benign lesion, no suspicious features]
      malignant: [a malignant tumour, a suspicious mass]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Literal

import yaml

from evaluation.probes.selection import ClassWeight, SelectOn
from foundations.registry import domains

Protocol = Literal[
    "linear",
    "knn",
    "label_efficiency",
    "finetune",
    "similarity",
    "anomaly",
    "retrieval",
    "zeroshot",
]
PROTOCOLS: tuple[Protocol, ...] = (
    "linear",
    "knn",
    "label_efficiency",
    "finetune",
    "similarity",
    "anomaly",
    "retrieval",
    "zeroshot",
)
FROZEN_PROTOCOLS: tuple[Protocol, ...] = ("linear", "knn", "label_efficiency")


@dataclass(frozen=True)
class Benchmark:
    """One evaluation task.

    Attributes:
        name: Unique name, e.g. ``"toy-shapes"``.
        datamodule: ``{"class_path": ..., "init_args": {...}}`` of a datamodule implementing
            ``foundations.data.LabelledSplits``.
        description: One line for listings and reports.
        task: ``"multiclass"``, ``"binary"`` (adds AUROC) or ``"multilabel"`` (labels are
            ``[N, C]`` 0/1; the linear probe becomes one-vs-rest scored by mAP and micro-F1,
            the other protocols do not apply).
        split: How the datamodule's train/val/test were made (reported verbatim), e.g.
            ``"random"``, ``"grouped by star"``, ``"spatial blocks of 16 px"``.
        protocols: Protocols to run: ``linear``, ``knn`` and ``label_efficiency`` on frozen
            embeddings (the default), and ``finetune`` (slow: trains each model end to end,
            and the same architecture from scratch with the same label budget),
            ``similarity`` (precision@10 of test queries searched among training embeddings,
            by class), ``anomaly`` (needs ``anomaly_classes``), ``retrieval`` (multimodal
            checkpoints: recall@k between every pair of modalities on the test split) and
            ``zeroshot`` (needs ``zero_shot_prompts``; image-text alignment checkpoints:
            classification of the test split by similarity to the class prompts, without
            labels; other models are skipped).
        label_fractions: Fractions of training labels for the label-efficiency protocol.
        seeds: Seeds for the label subsets.
        raw_baseline: Also probe the flattened raw inputs (tensor modalities only).
        classical_baseline: Import path of ``fn(datamodule) -> {split: (X, y)}``: the field's
            hand-made features, probed like an encoder; or a list of such paths, each its own
            candidate (a standard baseline next to a stronger one).
        classical_classifier: ``"gradient_boosting"`` adds a gradient-boosted-trees probe
            (full labels and label efficiency) on the classical features, as the field's
            classical pipelines do; ``"linear"`` (default) uses the shared probes only.
        primary_metric: Metric of the headline table and the label-efficiency plot.
        joint_embedding: For multimodal checkpoints (``MultiModalAlignment``), also probe the
            embedding of the whole sample: every modality's encoder side by side, missing
            modalities zeroed and flagged (candidate ``"<model> (all modalities)"``, with its
            random-init twin).
        balanced_probes: For imbalanced classes scored by ``primary_metric: macro_f1``: the
            linear and boosted-trees probes weight classes inversely to their training
            frequency and choose their hyper-parameter on validation macro-F1 rather than
            accuracy, so that no candidate is judged by a probe tuned to the common classes.
        finetune_fractions: Label fractions of the fine-tuning protocol (seed 0).
        finetune_epochs: Epochs of each fine-tuning run.
        anomaly_classes: Classes treated as anomalies by the ``anomaly`` protocol: a kNN
            detector is fitted on the training embeddings of the other classes and scored by
            AUROC on the whole test split.
        zero_shot_prompts: Text prompts per class name for the ``zeroshot`` protocol, in
            class-index order (checked against the datamodule's ``class_names`` at run time);
            each class's embedding is the mean over its prompts.
    """

    name: str
    datamodule: Mapping[str, Any]
    description: str = ""
    task: Literal["multiclass", "binary", "multilabel"] = "multiclass"
    split: str = "random"
    protocols: tuple[Protocol, ...] = FROZEN_PROTOCOLS
    label_fractions: tuple[float, ...] = (0.01, 0.1, 1.0)
    seeds: tuple[int, ...] = (0, 1, 2)
    raw_baseline: bool = True
    classical_baseline: str | tuple[str, ...] | None = None
    classical_classifier: Literal["linear", "gradient_boosting"] = "linear"
    primary_metric: str = "accuracy"
    balanced_probes: bool = False
    joint_embedding: bool = False
    finetune_fractions: tuple[float, ...] = (0.1, 1.0)
    finetune_epochs: int = 10
    anomaly_classes: tuple[int, ...] = ()
    zero_shot_prompts: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def probe_select_on(self) -> SelectOn:
        """Validation metric of the linear and boosted-trees probes (``balanced_probes``)."""
        return "macro_f1" if self.balanced_probes else "accuracy"

    @property
    def classical_baselines(self) -> tuple[str, ...]:
        """Import paths of the classical feature functions (``classical_baseline``)."""
        if self.classical_baseline is None:
            return ()
        if isinstance(self.classical_baseline, str):
            return (self.classical_baseline,)
        return tuple(self.classical_baseline)

    @property
    def probe_class_weight(self) -> ClassWeight:
        """Class weighting of the linear and boosted-trees probes (``balanced_probes``)."""
        return "balanced" if self.balanced_probes else None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], name: str | None = None) -> Benchmark:
        """Build from a plain dict, rejecting unknown keys and protocols by name.

        Raises:
            ValueError: Naming the benchmark and the offending key or value.
        """
        data = dict(data)
        label = name or data.get("name", "<unnamed>")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"benchmark {label!r}: unknown keys {unknown}; known: {sorted(known)}")
        if name is not None:
            data["name"] = name
        if "name" not in data or "datamodule" not in data:
            raise ValueError(f"benchmark {label!r} needs `name` and `datamodule`")
        if "class_path" not in data["datamodule"]:
            raise ValueError(f"benchmark {label!r}: datamodule needs a `class_path`")
        keys = ("protocols", "label_fractions", "seeds", "finetune_fractions", "anomaly_classes")
        for key in keys:
            if key in data:
                data[key] = tuple(data[key])
        if isinstance(data.get("classical_baseline"), Sequence) and not isinstance(
            data["classical_baseline"], str
        ):
            data["classical_baseline"] = tuple(data["classical_baseline"])
            names = [classical_name(str(path)) for path in data["classical_baseline"]]
            if len(set(names)) < len(names):
                raise ValueError(
                    f"benchmark {label!r}: classical baselines need distinct function names "
                    f"(each names its candidate), got {names}"
                )
        bad = [p for p in data.get("protocols", ()) if p not in PROTOCOLS]
        if bad:
            raise ValueError(f"benchmark {label!r}: unknown protocols {bad}; known: {PROTOCOLS}")
        if "anomaly" in data.get("protocols", ()) and not data.get("anomaly_classes"):
            raise ValueError(f"benchmark {label!r}: the anomaly protocol needs anomaly_classes")
        if "zero_shot_prompts" in data:
            data["zero_shot_prompts"] = _prompts(label, data["zero_shot_prompts"])
        if "zeroshot" in data.get("protocols", ()) and not data.get("zero_shot_prompts"):
            raise ValueError(
                f"benchmark {label!r}: the zeroshot protocol needs zero_shot_prompts "
                "(class name -> list of prompts, in class-index order)"
            )
        if data.get("task") == "multilabel":
            extra = [p for p in data.get("protocols", FROZEN_PROTOCOLS) if p != "linear"]
            if extra:
                raise ValueError(
                    f"benchmark {label!r}: multilabel tasks support the linear protocol only, "
                    f"not {extra}"
                )
        return cls(**data)

    @classmethod
    def from_yaml(cls, path: Path) -> Benchmark:
        """Read a user's benchmark file.

        Raises:
            ValueError: Naming the file when it is not a YAML mapping or is malformed.
        """
        try:
            data = yaml.safe_load(path.read_text())
        except yaml.YAMLError as error:
            raise ValueError(f"{path}: not valid YAML ({error})") from error
        if not isinstance(data, dict):
            raise ValueError(f"{path}: a benchmark file must be a YAML mapping")
        try:
            return cls.from_dict(data)
        except (TypeError, ValueError) as error:
            raise ValueError(f"{path}: {error}") from error


def classical_name(path: str) -> str:
    """The function name of a classical baseline's import path, which names its candidate
    (``"classical: <name>"``)."""
    return path.rsplit(".", 1)[-1]


def _prompts(label: str, value: Any) -> dict[str, tuple[str, ...]]:
    """Validated ``zero_shot_prompts``: at least two classes, each with a list of strings."""
    if not isinstance(value, Mapping):
        raise ValueError(
            f"benchmark {label!r}: zero_shot_prompts must map class names to lists of prompts, "
            f"got {type(value).__name__}"
        )
    prompts: dict[str, tuple[str, ...]] = {}
    for name, texts in value.items():
        if (
            isinstance(texts, str)
            or not isinstance(texts, Sequence)
            or not texts
            or not all(isinstance(text, str) and text.strip() for text in texts)
        ):
            raise ValueError(
                f"benchmark {label!r}: zero_shot_prompts[{name!r}] must be a non-empty list of "
                f"non-empty strings, got {texts!r}"
            )
        prompts[str(name)] = tuple(texts)
    if value and len(prompts) < 2:
        raise ValueError(
            f"benchmark {label!r}: zero_shot_prompts needs at least two classes, "
            f"got {list(prompts)}"
        )
    return prompts


def registered_benchmarks() -> dict[str, Benchmark]:
    """Every benchmark of every installed domain, by name."""
    found = {}
    for plugin in domains().values():
        for name, spec in plugin.benchmarks.items():
            found[name] = spec if isinstance(spec, Benchmark) else Benchmark.from_dict(spec, name)
    return found


def find_benchmark(name_or_path: str) -> Benchmark:
    """A registered benchmark by name, or a user's benchmark YAML file.

    Raises:
        KeyError: Listing the registered names when neither matches.
    """
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml") and path.is_file():
        return Benchmark.from_yaml(path)
    available = registered_benchmarks()
    if name_or_path not in available:
        raise KeyError(
            f"no benchmark {name_or_path!r} and no such YAML file; registered: "
            f"{', '.join(sorted(available)) or 'none'}"
        )
    return available[name_or_path]
