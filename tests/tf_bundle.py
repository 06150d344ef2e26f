"""An independent writer of TensorFlow V2 checkpoints (tensor bundles) for tests.

A LevelDB table with prefix-compressed keys and restart points, hand-encoded protobufs and a
bitwise crc32c: it shares no code with `splifft_core.tf_checkpoint`, the reader it tests.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np


def bitwise_crc32c(data: bytes, crc: int = 0) -> int:
    crc ^= 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def masked(crc: int) -> int:
    rotated = ((crc >> 15) | (crc << 17)) & 0xFFFFFFFF
    return (rotated + 0xA282EAD8) & 0xFFFFFFFF


def varint(n: int) -> bytes:
    n &= (1 << 64) - 1  # negative int32/int64 values are ten-byte varints
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def pb_varint(number: int, value: int) -> bytes:
    return varint(number << 3) + varint(value)


def pb_bytes(number: int, value: bytes) -> bytes:
    return varint(number << 3 | 2) + varint(len(value)) + value


def pb_fixed32(number: int, value: int) -> bytes:
    return varint(number << 3 | 5) + struct.pack("<I", value)


DTYPES = {
    "float32": 1,
    "float64": 2,
    "int32": 3,
    "uint8": 4,
    "int16": 5,
    "int8": 6,
    "complex64": 8,
    "int64": 9,
    "bool": 10,
    "uint16": 17,
    "complex128": 18,
    "float16": 19,
    "uint32": 22,
    "uint64": 23,
}


def header_proto(
    num_shards: int, big_endian: bool = False, producer: int = 1, min_consumer: int = 0
) -> bytes:
    version = pb_varint(1, producer) + (pb_varint(2, min_consumer) if min_consumer else b"")
    return (
        pb_varint(1, num_shards) + (pb_varint(2, 1) if big_endian else b"") + pb_bytes(3, version)
    )


def shape_proto(shape: tuple[int, ...]) -> bytes:
    return b"".join(pb_bytes(2, pb_varint(1, size) if size else b"") for size in shape)


def entry_proto(
    dtype: int, shape: tuple[int, ...], shard: int, offset: int, size: int, crc: int
) -> bytes:
    # proto3 leaves out zero scalars, as TensorFlow's writer does
    return b"".join(
        [
            pb_varint(1, dtype),
            pb_bytes(2, shape_proto(shape)),
            pb_varint(3, shard) if shard else b"",
            pb_varint(4, offset) if offset else b"",
            pb_varint(5, size) if size else b"",
            pb_fixed32(6, masked(crc)),
        ]
    )


def string_tensor_bytes(values: list[bytes], big_endian: bool = False) -> tuple[bytes, int]:
    """TensorFlow's string tensor layout and its crc32c."""
    order = ">" if big_endian else "<"
    lengths = b"".join(varint(len(v)) for v in values)
    crc = bitwise_crc32c(b"".join(struct.pack(order + "I", len(v)) for v in values))
    checksum = struct.pack(order + "I", masked(crc))
    crc = bitwise_crc32c(checksum, crc)
    strings = b"".join(values)
    return lengths + checksum + strings, bitwise_crc32c(strings, crc)


def block(entries: list[tuple[bytes, bytes]], restart_interval: int) -> bytes:
    out = bytearray()
    restarts = []
    previous = b""
    for i, (key, value) in enumerate(entries):
        if i % restart_interval == 0:
            restarts.append(len(out))
            shared = 0
        else:
            shared = next(
                (j for j, (a, b) in enumerate(zip(previous, key, strict=False)) if a != b),
                min(len(previous), len(key)),
            )
        out += varint(shared) + varint(len(key) - shared) + varint(len(value))
        out += key[shared:] + value
        previous = key
    if not restarts:
        restarts = [0]
    out += b"".join(struct.pack("<I", r) for r in restarts) + struct.pack("<I", len(restarts))
    return bytes(out)


def table(
    entries: list[tuple[bytes, bytes]],
    per_block: int = 3,
    restart_interval: int = 2,
    first_block_kind: int = 0,
) -> bytes:
    """A LevelDB table: data blocks, an (empty) metaindex, the index, the footer. The first
    block's compression-type byte is `first_block_kind` (its contents are never compressed)."""
    out = bytearray()

    def put(contents: bytes, kind: int = 0) -> bytes:
        handle = varint(len(out)) + varint(len(contents))
        trailer = bytes([kind])
        out.extend(
            contents + trailer + struct.pack("<I", masked(bitwise_crc32c(contents + trailer)))
        )
        return handle

    index = []
    for start in range(0, len(entries), per_block):
        chunk = entries[start : start + per_block]
        kind = first_block_kind if start == 0 else 0
        index.append((chunk[-1][0], put(block(chunk, restart_interval), kind)))
    metaindex = put(block([], 1))
    index_handle = put(block(index, 1))
    footer = (metaindex + index_handle).ljust(40, b"\0") + struct.pack("<Q", 0xDB4775248B80FB57)
    return bytes(out + footer)


@dataclass
class Bundle:
    """Tensors to write, each with its shard; the writer's knobs."""

    tensors: dict[str, np.ndarray]
    shards: dict[str, int] = field(default_factory=dict)
    num_shards: int = 2
    big_endian: bool = False
    alignment: int = 8
    per_block: int = 3
    restart_interval: int = 2
    first_block_kind: int = 0
    header: bytes | None = None
    entry_override: dict[str, bytes] = field(default_factory=dict)

    def write(self, prefix: Path) -> None:
        data = [bytearray() for _ in range(self.num_shards)]
        entries: list[tuple[bytes, bytes]] = []
        for i, (name, array) in enumerate(sorted(self.tensors.items())):
            shard = self.shards.get(name, i % self.num_shards)
            if array.dtype == object:
                raw, crc = string_tensor_bytes(list(array.reshape(-1)), self.big_endian)
                dtype = 7
            else:
                order: Literal["<", ">"] = ">" if self.big_endian else "<"
                raw = array.astype(array.dtype.newbyteorder(order)).tobytes()
                crc = bitwise_crc32c(raw)
                dtype = DTYPES[array.dtype.name]
            out = data[shard]
            out += b"\0" * (-len(out) % self.alignment)
            offset = len(out)
            out += raw
            value = entry_proto(dtype, array.shape, shard, offset, len(raw), crc)
            entries.append((name.encode(), self.entry_override.get(name, value)))
        header = (
            self.header
            if self.header is not None
            else header_proto(self.num_shards, self.big_endian)
        )
        Path(f"{prefix}.index").write_bytes(
            table(
                [(b"", header), *entries],
                self.per_block,
                self.restart_interval,
                self.first_block_kind,
            )
        )
        for shard, contents in enumerate(data):
            Path(f"{prefix}.data-{shard:05d}-of-{self.num_shards:05d}").write_bytes(contents)
