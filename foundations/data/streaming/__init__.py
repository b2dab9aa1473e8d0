"""Sharded streaming datasets (LitData): write any datamodule's split, stream it back.

``write_shards(datamodule, "DIR")`` (or ``foundations data shard``) writes ``DIR/train``;
:class:`StreamingDataModule` reads it from a folder or an object store.
"""

from foundations.data.streaming.datamodule import StreamingDataModule
from foundations.data.streaming.dataset import BufferedStreamingDataset
from foundations.data.streaming.manifest import (
    FORMAT_VERSION,
    MANIFEST_NAME,
    ShardFormatError,
    read_manifest,
)
from foundations.data.streaming.schema import SampleSchema, SampleSchemaError
from foundations.data.streaming.writer import write_shards

__all__ = [
    "FORMAT_VERSION",
    "MANIFEST_NAME",
    "BufferedStreamingDataset",
    "SampleSchema",
    "SampleSchemaError",
    "ShardFormatError",
    "StreamingDataModule",
    "read_manifest",
    "write_shards",
]
