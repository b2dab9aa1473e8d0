"""The machine-readable model card (``card.json``) and the JSON rules every hub file follows."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

from foundations.hub.errors import CardError
from foundations.hub.names import check_file_name, check_name, check_version

#: Version of the on-disk format (layout, ``index.json`` and ``card.json`` schemas). Readers
#: refuse a newer major format rather than misreading it.
FORMAT_VERSION = 1

CARD_FILE = "card.json"
INDEX_FILE = "index.json"
WEIGHTS_FILE = "model.safetensors"
README_FILE = "README.md"

_REQUIRED = ("format_version", "name", "version", "architecture", "files")


def to_json(data: Any) -> Any:
    """``data`` with tuples as lists and anything else non-JSON as its ``str``."""
    if isinstance(data, dict):
        return {str(key): to_json(value) for key, value in data.items()}
    if isinstance(data, list | tuple):
        return [to_json(value) for value in data]
    if data is None or isinstance(data, bool | int | float | str):
        return data
    if hasattr(data, "tolist"):  # tensors and arrays
        return to_json(data.tolist())
    return str(data)


def dumps(data: Any) -> bytes:
    """Canonical JSON bytes (sorted keys, two-space indent, UTF-8, trailing newline)."""
    return (json.dumps(to_json(data), indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()


def loads(data: bytes, source: str) -> dict[str, Any]:
    """Parse a JSON object from a hub file.

    Raises:
        CardError: Naming ``source`` when the bytes are not a UTF-8 JSON object.
    """
    try:
        value = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise CardError(f"{source}: not valid UTF-8 JSON ({error})") from error
    if not isinstance(value, dict):
        raise CardError(f"{source}: expected a JSON object, got {type(value).__name__}")
    return value


def check_format(data: dict[str, Any], source: str) -> None:
    """Refuse files written in a format this version cannot read.

    Raises:
        CardError: Naming ``source`` and both format versions.
    """
    version = data.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise CardError(f"{source}: missing integer 'format_version'")
    if version > FORMAT_VERSION:
        raise CardError(
            f"{source}: format_version {version} is newer than this foundations reads "
            f"({FORMAT_VERSION}); upgrade foundations"
        )


@dataclass
class Card:
    """Everything needed to rebuild, trust and judge one model version.

    Attributes:
        name: Model name (a single safe path component).
        version: Version string.
        architecture: ``{"class_path", "init_args"}`` of the encoder, nested the same way for
            its tokenizer: enough to rebuild it with no other file.
        embedding_dim: Width of the pooled embedding.
        modality: What the encoder reads: ``name`` (the sample key), ``tokenizer`` (class
            path), ``channels``, ``input_size``, ``patch_size``, physical metadata
            (``bands``, ``wavelengths_um``, ``spacing_mm``, ``time_unit``) and ``details``
            (the tokenizer's physical init arguments as given).
        normalisation: How inputs must be scaled before the encoder (``mean``, ``std``,
            ``scale``, ``window``, ... as recorded), ``{}`` when the data module does it.
        training: Method, its hyper-parameters, data module config, steps, or the source of
            an imported model.
        evaluation: Benchmark name -> summary of a ``foundations eval`` ``results.json``.
        licence: SPDX identifier or free text.
        parent: Where the weights came from: checkpoint file and its sha256, a hub model, or
            an imported public checkpoint.
        files: File name -> ``{"sha256", "size"}`` for every file of the version but the card.
        created: UTC ISO-8601 time of the push.
        software: Versions of foundations and torch that wrote it.
        description: One paragraph for humans.
        format_version: :data:`FORMAT_VERSION` when written.
    """

    name: str
    version: str
    architecture: dict[str, Any]
    embedding_dim: int
    modality: dict[str, Any] = field(default_factory=dict)
    normalisation: dict[str, Any] = field(default_factory=dict)
    training: dict[str, Any] = field(default_factory=dict)
    evaluation: dict[str, Any] = field(default_factory=dict)
    licence: str = "unspecified"
    parent: dict[str, Any] | None = None
    files: dict[str, dict[str, Any]] = field(default_factory=dict)
    created: str = ""
    software: dict[str, str] = field(default_factory=dict)
    description: str = ""
    format_version: int = FORMAT_VERSION

    def to_bytes(self) -> bytes:
        """``card.json`` content."""
        return dumps(asdict(self))

    @classmethod
    def from_bytes(cls, data: bytes, source: str) -> Card:
        """Parse and validate ``card.json``.

        Raises:
            CardError: Naming ``source`` on bad JSON, a newer format, a missing field or a
                malformed architecture or file table.
            UnsafeFileError: When the card names an unsafe file, model name or version.
        """
        raw = loads(data, source)
        check_format(raw, source)
        missing = [key for key in _REQUIRED if key not in raw]
        if missing:
            raise CardError(f"{source}: missing fields {missing}")
        check_name(raw["name"])
        check_version(raw["version"])
        architecture = raw["architecture"]
        if not isinstance(architecture, dict) or not isinstance(
            architecture.get("class_path"), str
        ):
            raise CardError(f"{source}: 'architecture' must be {{'class_path', 'init_args'}}")
        files = raw["files"]
        if not isinstance(files, dict) or WEIGHTS_FILE not in files:
            raise CardError(f"{source}: 'files' must list {WEIGHTS_FILE} with its sha256")
        for file_name, entry in files.items():
            check_file_name(file_name)
            sha = entry.get("sha256") if isinstance(entry, dict) else None
            if not (isinstance(sha, str) and len(sha) == 64):
                raise CardError(f"{source}: file {file_name!r} has no 64-hex-digit sha256")
        known = set(cls.__dataclass_fields__)
        return cls(**{key: value for key, value in raw.items() if key in known})
