"""The sample schema of a shard set: every leaf of a nested sample, its kind, dtype and shape.

LitData flattens a sample once, from the first one written, and then writes every later
sample's leaves blindly in that order and with that format (a 1-D tensor, for example, is
stored without a header, its dtype taken from the first sample). A later sample with another
key, kind or dtype would therefore be written wrongly without an error. :class:`SampleSchema`
checks each sample against the first before it reaches the writer, records which dimensions
vary, and is what the manifest stores.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import torch

LeafKind = Literal["tensor", "ndarray", "str", "bool", "int", "float"]

# Dtypes LitData's tensor and numpy serializers can store (litdata.constants mappings).
TENSOR_DTYPES = {
    torch.float16,
    torch.float32,
    torch.float64,
    torch.complex64,
    torch.complex128,
    torch.uint8,
    torch.int8,
    torch.int16,
    torch.int32,
    torch.int64,
    torch.bool,
    torch.uint16,
}
# Numpy dtypes LitData's numpy serializers can store (native byte order).
NUMPY_DTYPES = {
    np.dtype(name)
    for name in (
        "bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
        "float16", "float32", "float64", "complex64", "complex128",
    )
}  # fmt: skip


class SampleSchemaError(ValueError):
    """A sample that cannot be written, or that does not match the first sample."""


@dataclass
class LeafSpec:
    """One leaf of a sample.

    Attributes:
        kind: ``tensor``, ``ndarray``, ``str``, ``bool``, ``int`` or ``float``.
        dtype: The tensor or array dtype (``"float32"``), None for Python scalars and strings.
        shape: Shape of the first sample; a dimension that varies between samples is None.
    """

    kind: LeafKind
    dtype: str | None = None
    shape: list[int | None] | None = None

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "dtype": self.dtype, "shape": self.shape}


def _dtype_name(dtype: torch.dtype | np.dtype) -> str:
    return str(dtype).removeprefix("torch.")


def leaf_spec(value: Any, path: str) -> LeafSpec:
    """The spec of one leaf.

    Raises:
        SampleSchemaError: For a type or dtype the shards cannot hold exactly.
    """
    if isinstance(value, torch.Tensor):
        if value.dtype not in TENSOR_DTYPES:
            raise SampleSchemaError(
                f"sample key {path!r}: tensors of dtype {value.dtype} cannot be sharded "
                f"(supported: {sorted(_dtype_name(d) for d in TENSOR_DTYPES)}); cast it first"
            )
        return LeafSpec("tensor", _dtype_name(value.dtype), list(value.shape))
    if isinstance(value, np.ndarray):
        if value.dtype not in NUMPY_DTYPES or value.ndim == 0:
            raise SampleSchemaError(
                f"sample key {path!r}: numpy arrays of dtype {value.dtype} and rank "
                f"{value.ndim} cannot be sharded; cast it first"
            )
        return LeafSpec("ndarray", _dtype_name(value.dtype), list(value.shape))
    if isinstance(value, str):
        return LeafSpec("str")
    if isinstance(value, bool):  # before int: bool is an int
        return LeafSpec("bool")
    if isinstance(value, int):
        return LeafSpec("int")
    if isinstance(value, float):
        return LeafSpec("float")
    raise SampleSchemaError(
        f"sample key {path!r} holds a {type(value).__name__}; shards hold tensors, numpy "
        "arrays, str, bool, int and float (nested in dicts), never pickled objects"
    )


def normalise(sample: Any) -> Any:
    """The sample ready for the writer: detached contiguous CPU tensors, tuples as lists, and
    numpy scalars and 0-d arrays as 0-d tensors of the same dtype (LitData would pickle them);
    everything else unchanged."""
    if isinstance(sample, Mapping):
        return {key: normalise(value) for key, value in sample.items()}
    if isinstance(sample, list | tuple):
        return [normalise(value) for value in sample]
    if isinstance(sample, torch.Tensor):
        return sample.detach().cpu().contiguous()
    if isinstance(sample, np.generic) or (isinstance(sample, np.ndarray) and sample.ndim == 0):
        array = np.asarray(sample)
        try:
            return torch.from_numpy(array.reshape(()).copy())
        except TypeError:  # a dtype torch lacks: leave it for leaf_spec to refuse
            return array
    if isinstance(sample, np.ndarray):
        return np.ascontiguousarray(sample)
    return sample


def iter_leaves(sample: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """``(path, value)`` of every leaf, paths joined with ``/`` (``image/wavelengths``).

    Raises:
        SampleSchemaError: When a key is not a string (LitData's pytree needs str keys).
    """
    if isinstance(sample, Mapping):
        for key, value in sample.items():
            if not isinstance(key, str):
                raise SampleSchemaError(f"sample key {key!r} under {prefix or '/'} is not a str")
            yield from iter_leaves(value, f"{prefix}/{key}" if prefix else key)
    elif isinstance(sample, list):
        for i, value in enumerate(sample):
            yield from iter_leaves(value, f"{prefix}/{i}" if prefix else str(i))
    else:
        yield prefix, sample


@dataclass
class SampleSchema:
    """The leaves of the first sample; :meth:`check` holds every later one to them.

    Attributes:
        leaves: ``{path: LeafSpec}`` in the sample's order.
    """

    leaves: dict[str, LeafSpec] = field(default_factory=dict)

    @classmethod
    def of(cls, sample: Any) -> SampleSchema:
        """The schema of one (normalised) sample.

        Raises:
            SampleSchemaError: When the sample is not a dict or holds an unsupported leaf.
        """
        if not isinstance(sample, Mapping):
            raise SampleSchemaError(f"a sample must be a dict, got {type(sample).__name__}")
        return cls({path: leaf_spec(value, path) for path, value in iter_leaves(sample)})

    def check(self, sample: Any, index: int) -> None:
        """Raise unless ``sample`` has the same keys, kinds, dtypes and ranks; widen shapes.

        Args:
            sample: A normalised sample.
            index: Its position in the source, for the error message.

        Raises:
            SampleSchemaError: Naming the sample and the first differing key.
        """
        other = SampleSchema.of(sample)
        if list(other.leaves) != list(self.leaves):
            raise SampleSchemaError(
                f"sample {index} has keys {list(other.leaves)}, the first sample had "
                f"{list(self.leaves)}; every sample of a shard set must have the same keys"
            )
        for path, spec in other.leaves.items():
            first = self.leaves[path]
            if (spec.kind, spec.dtype) != (first.kind, first.dtype) or (
                spec.shape is not None
                and first.shape is not None
                and len(spec.shape) != len(first.shape)
            ):
                raise SampleSchemaError(
                    f"sample {index}, key {path!r}: {spec.to_json()} differs from the first "
                    f"sample's {first.to_json()} (kind, dtype and rank must not change)"
                )
            if spec.shape is not None and first.shape is not None:
                first.shape = [
                    a if a == b else None for a, b in zip(first.shape, spec.shape, strict=True)
                ]

    def to_json(self) -> dict[str, dict[str, Any]]:
        return {path: spec.to_json() for path, spec in self.leaves.items()}
