"""Write any datamodule's split into LitData shards: ``write_shards(datamodule, "DIR")``.

Samples are read by a plain ``torch`` DataLoader (``num_workers`` processes decode files in
parallel, in a fixed order) and written by one LitData ``BinaryWriter`` in this process.
``litdata.optimize`` is not used: it spawns fresh interpreters that must unpickle the whole
dataset, and its workers write interleaved chunks, so the shard contents would depend on the
worker count; here they depend only on the source and ``seed``.
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Mapping
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np
import torch
from litdata.streaming.writer import BinaryWriter
from torch.utils.data import DataLoader, Dataset

from foundations.data.splits import Split
from foundations.data.streaming.manifest import MANIFEST_NAME, is_remote, write_manifest
from foundations.data.streaming.schema import SampleSchema, normalise

DEFAULT_CHUNK_BYTES = "64MB"


def split_dataset(datamodule: Any, split: Split) -> Dataset[Any]:
    """The map-style dataset of one split of a set-up datamodule.

    Looks at ``datamodule.splits[split]`` (:class:`~foundations.data.LabelledSplitsDataModule`)
    and then at the attribute named after the split (``datamodule.train``).

    Raises:
        ValueError: When the datamodule has no such split, or it has no length.
    """
    splits = getattr(datamodule, "splits", None)
    dataset = splits.get(split) if isinstance(splits, Mapping) else None
    if dataset is None:
        dataset = getattr(datamodule, split, None)
    if dataset is None:
        raise ValueError(f"{type(datamodule).__name__} has no {split!r} split after setup()")
    if not hasattr(dataset, "__len__") or not hasattr(dataset, "__getitem__"):
        raise ValueError(
            f"the {split!r} split of {type(datamodule).__name__} is not a map-style dataset "
            "(it needs __len__ and __getitem__)"
        )
    return dataset


def datamodule_source(datamodule: Any) -> dict[str, Any]:
    """``{"class_path", "init_args"}`` of a datamodule, from its saved hyperparameters."""
    cls = type(datamodule)
    hparams = dict(getattr(datamodule, "hparams", {}) or {})
    return {"class_path": f"{cls.__module__}.{cls.__qualname__}", "init_args": hparams}


def _first(batch: Any) -> Any:
    return batch


def write_shards(
    datamodule: Any,
    output: str | Path,
    split: Split = "train",
    chunk_bytes: str | int = DEFAULT_CHUNK_BYTES,
    num_workers: int = 0,
    shuffle: bool | None = None,
    seed: int = 0,
    source: Mapping[str, Any] | None = None,
    overwrite: bool = False,
) -> Path:
    """Write every sample of one split of ``datamodule`` into ``output/split``.

    The datamodule is prepared and set up here (``prepare_data()``, ``setup("fit")``). Each
    sample must be a (nested) dict of tensors, numpy arrays, str, bool, int and float with the
    same keys, kinds, dtypes and ranks in every sample; values and dtypes come back exactly.

    Args:
        datamodule: Any datamodule whose split is a map-style dataset (``.splits[split]`` or
            ``.train``/``.val``/``.test``), e.g. a domain's recipe ``data:``.
        output: Root folder of the shard set; this split goes to ``output/split``.
        split: ``train``, ``val`` or ``test``.
        chunk_bytes: Target shard size (``"64MB"`` or bytes).
        num_workers: DataLoader processes reading the source (decoding files).
        shuffle: Write in a permutation drawn from ``seed``, so every shard is a random sample
            of the source (sources are often ordered by class, scene or patient); default True
            for ``train`` and False otherwise (evaluation keeps the source order).
        seed: Seed of the permutation.
        source: What produced the data, for the manifest; default the datamodule's class and
            hyperparameters.
        overwrite: Replace an existing split folder instead of failing.

    Returns:
        The split folder.

    Raises:
        ValueError: On a remote ``output``, an empty split, or an unsupported sample.
        FileExistsError: When the split folder exists and ``overwrite`` is False.
    """
    if is_remote(str(output)):
        raise ValueError(
            f"write shards to a local folder and copy it to {output} with your storage's tool"
        )
    folder = Path(output) / split
    if folder.exists() and any(folder.iterdir()):
        if not overwrite:
            raise FileExistsError(
                f"{folder} exists and is not empty (pass overwrite=True, or --overwrite)"
            )
        shutil.rmtree(folder)
    datamodule.prepare_data()
    datamodule.setup("fit")
    dataset = split_dataset(datamodule, split)
    size = len(dataset)  # type: ignore[arg-type]
    if size == 0:
        raise ValueError(f"the {split!r} split of {type(datamodule).__name__} is empty")
    shuffle = split == "train" if shuffle is None else shuffle
    order = (
        torch.randperm(size, generator=torch.Generator().manual_seed(seed)).tolist()
        if shuffle
        else list(range(size))
    )
    loader = DataLoader(
        dataset, batch_size=None, sampler=order, num_workers=num_workers, collate_fn=_first
    )
    folder.mkdir(parents=True, exist_ok=True)
    writer = BinaryWriter(str(folder), chunk_bytes=chunk_bytes)
    schema: SampleSchema | None = None
    for position, sample in enumerate(loader):
        sample = normalise(sample)
        if schema is None:
            schema = SampleSchema.of(sample)
        else:
            schema.check(sample, order[position])
        writer.add_item(position, sample)
    writer.done()
    writer.merge()
    assert schema is not None
    write_manifest(
        folder,
        {
            "split": split,
            "count": size,
            "source": dict(source) if source is not None else datamodule_source(datamodule),
            "shuffled": shuffle,
            "seed": seed,
            "chunk_bytes": chunk_bytes,
            "backend": {"name": "litdata", "version": version("litdata")},
            "versions": {
                "python": sys.version.split()[0],
                "torch": torch.__version__,
                "numpy": np.__version__,
            },
            "schema": schema.to_json(),
        },
    )
    return folder


__all__ = ["DEFAULT_CHUNK_BYTES", "MANIFEST_NAME", "split_dataset", "write_shards"]
