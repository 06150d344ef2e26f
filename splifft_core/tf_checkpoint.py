"""Reading TensorFlow's V2 checkpoints (tensor bundles) without TensorFlow.

A checkpoint `PREFIX` (what `tf.train.Saver` / `tf.train.Checkpoint` name `model`, `ckpt-3`, …)
is the files `PREFIX.index` and `PREFIX.data-0000S-of-0000N`:

- `PREFIX.index` is a LevelDB-style sorted table (TensorFlow's `core/lib/io/table`): data blocks
  of prefix-compressed entries with restart points, a metaindex block, an index block whose
  values are the data blocks' handles, and a 48-byte footer (the metaindex and index handles,
  varint offset and size each, zero-padded to 40 bytes, then the magic 0xdb4775248b80fb57). Each
  block is followed by a compression-type byte and the masked crc32c of block and type byte.
- Its values are serialized protobufs: the empty key holds a `BundleHeaderProto` (number of data
  shards, endianness, format version), every other key (a variable's name) a `BundleEntryProto`:
  dtype, shape, shard, byte offset and size in that shard, masked crc32c of those bytes.
- `PREFIX.data-…` shards hold the tensors' raw bytes, row-major, in the header's byte order.

Everything is decoded here by hand (protobuf wire format, crc32c Castagnoli) with numpy only:
`read_tf_checkpoint(prefix)` returns the variables as numpy arrays, every block and tensor
checksum verified. Anything malformed (missing or truncated file, bad magic, bad checksum,
unsupported compression or dtype, partitioned variables) is a one-line `CheckpointError` naming
the file.
"""

from __future__ import annotations

import functools
import math
import os
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from splifft_core.errors import CheckpointError

__all__ = ["crc32c", "data_filename", "mask_crc32c", "read_tf_checkpoint", "unmask_crc32c"]

TABLE_MAGIC = 0xDB4775248B80FB57
"""The last 8 bytes of a LevelDB / TensorFlow table (little-endian)."""
FOOTER_SIZE = 48
"""Two BlockHandles (at most 2 × 10 bytes each), zero-padded to 40 bytes, then the magic."""
BLOCK_TRAILER_SIZE = 5
"""After each block: the compression-type byte and the masked crc32c of block + type byte."""

BUNDLE_VERSION = 1
"""The tensor bundle format version this reader implements (TensorFlow's kTensorBundleVersion)."""

_NUMERIC_DTYPES: dict[int, str] = {
    1: "f4",  # DT_FLOAT
    2: "f8",  # DT_DOUBLE
    3: "i4",  # DT_INT32
    4: "u1",  # DT_UINT8
    5: "i2",  # DT_INT16
    6: "i1",  # DT_INT8
    8: "c8",  # DT_COMPLEX64
    9: "i8",  # DT_INT64
    10: "?",  # DT_BOOL
    17: "u2",  # DT_UINT16
    18: "c16",  # DT_COMPLEX128
    19: "f2",  # DT_HALF
    22: "u4",  # DT_UINT32
    23: "u8",  # DT_UINT64
}
DT_STRING = 7
_UNSUPPORTED_DTYPES = {
    11: "qint8",
    12: "quint8",
    13: "qint32",
    14: "bfloat16",
    15: "qint16",
    16: "quint16",
    20: "resource",
    21: "variant",
}

# ---------------------------------------------------------------------------------------------
# crc32c (Castagnoli), reflected polynomial 0x82F63B78.
#
# CRC arithmetic is linear over GF(2): processing `n` zero bytes is a linear map `Z_n` of the
# 32-bit register, and the register after `A + B` is `Z_len(B)(register after A) ^ raw(B)`, where
# `raw` starts from a zero register. So a long buffer is cut into N lanes of equal length whose
# raw CRCs numpy computes side by side (four bytes per step, through two 16-bit tables), and the
# lanes are folded pairwise with the matching `Z` operators. Leading zero bytes do not change a
# raw CRC, so a buffer is zero-padded in front to fill the lanes. Operators are 32 columns (the
# images of the 32 one-bit registers).
# ---------------------------------------------------------------------------------------------

_POLY = 0x82F63B78
_MASK_DELTA = 0xA282EAD8
_U32 = 0xFFFFFFFF
_VECTOR_MIN_BYTES = 1024
"""Below this, the byte-at-a-time loop is faster than numpy's per-step overhead."""
_MAX_LANES = 65536
_MIN_LANE_WORDS = 16

Operator = tuple[int, ...]
ByteOrder = Literal["<", ">"]


def _make_byte_table() -> tuple[int, ...]:
    table = []
    for n in range(256):
        c = n
        for _ in range(8):
            c = (c >> 1) ^ (_POLY if c & 1 else 0)
        table.append(c)
    return tuple(table)


_BYTE_TABLE = _make_byte_table()


def _apply(op: Operator, value: int) -> int:
    result = 0
    bit = 0
    while value:
        if value & 1:
            result ^= op[bit]
        value >>= 1
        bit += 1
    return result


def _compose(outer: Operator, inner: Operator) -> Operator:
    return tuple(_apply(outer, column) for column in inner)


@functools.cache
def _zeros_power(log2_bytes: int) -> Operator:
    """The operator of 2**log2_bytes zero bytes."""
    if log2_bytes == 0:
        return tuple(_BYTE_TABLE[(1 << k) & 0xFF] ^ ((1 << k) >> 8) for k in range(32))
    half = _zeros_power(log2_bytes - 1)
    return _compose(half, half)


def _shift_zeros(register: int, nbytes: int) -> int:
    """The register after `nbytes` zero bytes."""
    level = 0
    while nbytes:
        if nbytes & 1:
            register = _apply(_zeros_power(level), register)
        nbytes >>= 1
        level += 1
    return register


@functools.lru_cache(maxsize=256)
def _zeros_operator(nbytes: int) -> Operator:
    op: Operator = tuple(1 << k for k in range(32))
    level = 0
    while nbytes:
        if nbytes & 1:
            op = _compose(_zeros_power(level), op)
        nbytes >>= 1
        level += 1
    return op


def _column_table(columns: Operator) -> npt.NDArray[np.int64]:
    """`table[v]` = the operator's image of `v`, for `v` below `2 ** len(columns)`."""
    table = np.zeros(1, np.int64)
    for column in columns:
        table = np.concatenate([table, table ^ column])
    return table


@functools.lru_cache(maxsize=256)
def _byte_tables(nbytes: int) -> tuple[npt.NDArray[np.int64], ...]:
    """`Z_nbytes` as four 256-entry tables, one per byte of the register."""
    op = _zeros_operator(nbytes)
    return tuple(_column_table(op[8 * j : 8 * j + 8]) for j in range(4))


@functools.cache
def _word_tables() -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """`Z_4` as two 65536-entry tables (low and high half of the register)."""
    op = _zeros_operator(4)
    return _column_table(op[:16]), _column_table(op[16:])


def _raw_crc_vectorised(data: npt.NDArray[np.uint8]) -> int:
    """The register after `data` from a zero register."""
    n = data.size
    words = -(-n // 4)
    lanes = 1
    while lanes * 2 <= _MAX_LANES and words // (lanes * 2) >= _MIN_LANE_WORDS:
        lanes *= 2
    lane_words = -(-words // lanes)
    padded = 4 * lanes * lane_words
    buffer = np.zeros(padded, np.uint8)
    buffer[padded - n :] = data
    grid = buffer.view("<u4").reshape(lanes, lane_words)
    low_table, high_table = _word_tables()
    state = np.zeros(lanes, np.int64)
    mixed = np.empty(lanes, np.int64)
    low = np.empty(lanes, np.int64)
    high = np.empty(lanes, np.int64)
    for j in range(lane_words):
        np.bitwise_xor(state, grid[:, j], out=mixed)
        np.bitwise_and(mixed, 0xFFFF, out=low)
        np.right_shift(mixed, 16, out=mixed)
        np.take(low_table, low, out=state)
        np.take(high_table, mixed, out=high)
        np.bitwise_xor(state, high, out=state)
    segment = 4 * lane_words
    while state.size > 1:
        t0, t1, t2, t3 = _byte_tables(segment)
        left = state[0::2]
        state = (
            t0[left & 0xFF]
            ^ t1[(left >> 8) & 0xFF]
            ^ t2[(left >> 16) & 0xFF]
            ^ t3[left >> 24]
            ^ state[1::2]
        )
        segment *= 2
    return int(state[0])


def crc32c(data: bytes | bytearray | memoryview | npt.NDArray[Any], crc: int = 0) -> int:
    """The crc32c (Castagnoli) of `data`, continuing `crc` (the crc32c of what came before).

    Like TensorFlow's `crc32c::Extend(crc, data)`: `crc32c(b + c) == crc32c(c, crc32c(b))`.
    An array is taken as its raw bytes (C order).
    """
    if isinstance(data, np.ndarray):
        raw = np.ascontiguousarray(data).reshape(-1).view(np.uint8)
    else:
        raw = np.frombuffer(data, np.uint8)
    register = crc ^ _U32
    if raw.size < _VECTOR_MIN_BYTES:
        table = _BYTE_TABLE
        for byte in raw.tobytes():
            register = table[(register ^ byte) & 0xFF] ^ (register >> 8)
    else:
        register = _shift_zeros(register, raw.size) ^ _raw_crc_vectorised(raw)
    return register ^ _U32


def mask_crc32c(crc: int) -> int:
    """The masked form TensorFlow and LevelDB store (a crc of data holding crcs stays strong)."""
    return ((((crc >> 15) | (crc << 17)) & _U32) + _MASK_DELTA) & _U32


def unmask_crc32c(masked: int) -> int:
    rotated = (masked - _MASK_DELTA) & _U32
    return ((rotated >> 17) | (rotated << 15)) & _U32


# ---------------------------------------------------------------------------------------------
# Varints and the protobuf wire format
# ---------------------------------------------------------------------------------------------


class _MalformedError(Exception):
    """A decoding failure; the caller turns it into a `CheckpointError` naming the file."""


def _varint(buf: bytes, pos: int, limit: int | None = None) -> tuple[int, int]:
    end = len(buf) if limit is None else limit
    result = 0
    shift = 0
    while True:
        if pos >= end:
            raise _MalformedError("truncated varint")
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7
        if shift >= 70:
            raise _MalformedError("varint longer than 10 bytes")


def _fields(message: bytes) -> Iterator[tuple[int, int | bytes]]:
    """(field number, value) of a serialized protobuf message: an int for varint and fixed
    fields, bytes for length-delimited ones."""
    pos = 0
    end = len(message)
    while pos < end:
        tag, pos = _varint(message, pos)
        number, wire = tag >> 3, tag & 7
        if number == 0:
            raise _MalformedError("protobuf field number 0")
        value: int | bytes
        if wire == 0:
            value, pos = _varint(message, pos)
        elif wire == 1:
            if pos + 8 > end:
                raise _MalformedError("truncated fixed64 field")
            value = int.from_bytes(message[pos : pos + 8], "little")
            pos += 8
        elif wire == 2:
            length, pos = _varint(message, pos)
            if pos + length > end:
                raise _MalformedError("truncated length-delimited field")
            value = message[pos : pos + length]
            pos += length
        elif wire == 5:
            if pos + 4 > end:
                raise _MalformedError("truncated fixed32 field")
            value = int.from_bytes(message[pos : pos + 4], "little")
            pos += 4
        else:
            raise _MalformedError(f"unsupported protobuf wire type {wire}")
        yield number, value


def _int(value: int | bytes, name: str) -> int:
    """A varint field as a signed 64-bit integer (int32 / int64 / enum)."""
    if not isinstance(value, int):
        raise _MalformedError(f"field {name} is not a varint")
    value &= (1 << 64) - 1
    return value - (1 << 64) if value >= 1 << 63 else value


def _message(value: int | bytes, name: str) -> bytes:
    if not isinstance(value, bytes):
        raise _MalformedError(f"field {name} is not a message")
    return value


def _repeated_ints(value: int | bytes, name: str) -> list[int]:
    """A repeated integer field's values, packed or not."""
    if isinstance(value, int):
        return [_int(value, name)]
    values = []
    pos = 0
    while pos < len(value):
        item, pos = _varint(value, pos)
        values.append(_int(item, name))
    return values


@dataclass(frozen=True)
class _Header:
    num_shards: int
    big_endian: bool
    producer: int
    min_consumer: int
    bad_consumers: tuple[int, ...]


@dataclass(frozen=True)
class _Entry:
    dtype: int
    shape: tuple[int, ...]
    shard_id: int
    offset: int
    size: int
    masked_crc: int | None
    sliced: bool


def _parse_header(message: bytes) -> _Header:
    num_shards = 0
    endianness = 0
    producer = min_consumer = 0
    bad: list[int] = []
    for number, value in _fields(message):
        if number == 1:
            num_shards = _int(value, "num_shards")
        elif number == 2:
            endianness = _int(value, "endianness")
        elif number == 3:
            for vnumber, vvalue in _fields(_message(value, "version")):
                if vnumber == 1:
                    producer = _int(vvalue, "version.producer")
                elif vnumber == 2:
                    min_consumer = _int(vvalue, "version.min_consumer")
                elif vnumber == 3:
                    bad.extend(_repeated_ints(vvalue, "version.bad_consumers"))
    if endianness not in (0, 1):
        raise _MalformedError(f"unknown endianness {endianness} in the bundle header")
    return _Header(num_shards, endianness == 1, producer, min_consumer, tuple(bad))


def _parse_shape(message: bytes) -> tuple[int, ...]:
    dims: list[int] = []
    for number, value in _fields(message):
        if number == 2:
            size = 0
            for dnumber, dvalue in _fields(_message(value, "shape.dim")):
                if dnumber == 1:
                    size = _int(dvalue, "shape.dim.size")
            if size < 0:
                raise _MalformedError(f"unknown dimension ({size}) in a stored shape")
            dims.append(size)
        elif number == 3 and _int(value, "shape.unknown_rank"):
            raise _MalformedError("a stored shape of unknown rank")
    return tuple(dims)


def _parse_entry(message: bytes) -> _Entry:
    dtype = shard_id = offset = size = 0
    shape: tuple[int, ...] = ()
    masked_crc: int | None = None
    sliced = False
    for number, value in _fields(message):
        if number == 1:
            dtype = _int(value, "dtype")
        elif number == 2:
            shape = _parse_shape(_message(value, "shape"))
        elif number == 3:
            shard_id = _int(value, "shard_id")
        elif number == 4:
            offset = _int(value, "offset")
        elif number == 5:
            size = _int(value, "size")
        elif number == 6:
            if not isinstance(value, int):
                raise _MalformedError("field crc32c is not a fixed32")
            masked_crc = value
        elif number == 7:
            sliced = True
    if offset < 0 or size < 0 or shard_id < 0:
        raise _MalformedError("negative offset, size or shard id")
    return _Entry(dtype, shape, shard_id, offset, size, masked_crc, sliced)


# ---------------------------------------------------------------------------------------------
# The sorted table (`PREFIX.index`)
# ---------------------------------------------------------------------------------------------


def _block_handle(buf: bytes, pos: int, limit: int | None = None) -> tuple[int, int, int]:
    offset, pos = _varint(buf, pos, limit)
    size, pos = _varint(buf, pos, limit)
    return offset, size, pos


def _read_block(table: bytes, offset: int, size: int, what: str) -> bytes:
    end = offset + size
    if end + BLOCK_TRAILER_SIZE > len(table) - FOOTER_SIZE:
        raise _MalformedError(f"{what} lies past the end of the file (truncated?)")
    kind = table[end]
    stored = int.from_bytes(table[end + 1 : end + 5], "little")
    if unmask_crc32c(stored) != crc32c(memoryview(table)[offset : end + 1]):
        raise _MalformedError(f"{what} fails its crc32c check (corrupted)")
    if kind == 1:
        raise _MalformedError(f"{what} is snappy-compressed, which this reader does not support")
    if kind != 0:
        raise _MalformedError(f"{what} has unknown compression type {kind}")
    return table[offset:end]


def _block_entries(block: bytes, what: str) -> Iterator[tuple[bytes, bytes]]:
    """A block's (key, value) pairs: entries `shared, unshared, value length (varints), key
    suffix, value`, each key sharing `shared` bytes with the previous one; then the restart
    offsets (uint32, entries storing their whole key) and their count (uint32)."""
    if len(block) < 4:
        raise _MalformedError(f"{what} is shorter than its restart count")
    num_restarts = int.from_bytes(block[-4:], "little")
    limit = len(block) - 4 - 4 * num_restarts
    if num_restarts == 0 or limit < 0:
        raise _MalformedError(f"{what} has an invalid restart count ({num_restarts})")
    restarts = struct.unpack_from(f"<{num_restarts}I", block, limit)
    full_key_starts = set()
    key = b""
    pos = 0
    while pos < limit:
        start = pos
        shared, pos = _varint(block, pos, limit)
        unshared, pos = _varint(block, pos, limit)
        value_length, pos = _varint(block, pos, limit)
        if shared > len(key) or pos + unshared + value_length > limit:
            raise _MalformedError(f"{what} has an entry running past its end")
        if shared == 0:
            full_key_starts.add(start)
        key = key[:shared] + block[pos : pos + unshared]
        pos += unshared
        yield key, block[pos : pos + value_length]
        pos += value_length
    if limit == 0:
        full_key_starts.add(0)  # an empty block still has its one restart at 0
    if any(r not in full_key_starts for r in restarts) or list(restarts) != sorted(set(restarts)):
        raise _MalformedError(f"{what} has restart points that are not entry starts")


def _table_entries(table: bytes) -> Iterator[tuple[bytes, bytes]]:
    """Every (key, value) of a table, in key order."""
    if len(table) < FOOTER_SIZE:
        raise _MalformedError(f"{len(table)} bytes, shorter than a table footer (truncated?)")
    footer = table[-FOOTER_SIZE:]
    if int.from_bytes(footer[-8:], "little") != TABLE_MAGIC:
        raise _MalformedError("bad magic number (not a TensorFlow checkpoint index, or truncated)")
    meta_offset, meta_size, pos = _block_handle(footer, 0, FOOTER_SIZE - 8)
    index_offset, index_size, _ = _block_handle(footer, pos, FOOTER_SIZE - 8)
    # The metaindex names filter blocks, which TensorFlow never writes: checked, not used.
    metaindex = _read_block(table, meta_offset, meta_size, "the metaindex block")
    for _ in _block_entries(metaindex, "the metaindex block"):
        pass
    index = _read_block(table, index_offset, index_size, "the index block")
    previous: bytes | None = None
    for number, (_, handle) in enumerate(_block_entries(index, "the index block")):
        offset, size, end = _block_handle(handle, 0)
        if end != len(handle):
            raise _MalformedError("the index block holds an invalid block handle")
        what = f"data block {number}"
        block = _read_block(table, offset, size, what)
        for key, value in _block_entries(block, what):
            if previous is not None and key <= previous:
                raise _MalformedError(f"{what} has keys out of order")
            previous = key
            yield key, value


# ---------------------------------------------------------------------------------------------
# The bundle
# ---------------------------------------------------------------------------------------------


def data_filename(prefix: Path, shard: int, num_shards: int) -> Path:
    """The shard file `PREFIX.data-0000S-of-0000N`."""
    return Path(f"{prefix}.data-{shard:05d}-of-{num_shards:05d}")


def read_tf_checkpoint(prefix: Path) -> dict[str, np.ndarray]:
    """The variables of the TensorFlow V2 checkpoint `prefix` (the path without `.index`) as
    numpy arrays (native byte order, TensorFlow's layout and dtype), keyed by variable name in
    the checkpoint's (sorted) order. String tensors come back as object arrays of bytes.

    Every block's and tensor's crc32c is verified. Raises `CheckpointError` (one line, naming
    the offending file) for anything missing, truncated, corrupted or not supported.
    """
    prefix = Path(prefix)
    if prefix.name.endswith(".index") and not Path(f"{prefix}.index").exists():
        prefix = Path(str(prefix)[: -len(".index")])
    index_path = Path(f"{prefix}.index")
    try:
        table = index_path.read_bytes()
    except FileNotFoundError:
        raise CheckpointError(f"{index_path}: TensorFlow checkpoint index not found") from None
    except OSError as exc:
        raise CheckpointError(f"{index_path}: cannot be read ({exc.strerror})") from None

    header: _Header | None = None
    entries: dict[str, _Entry] = {}
    try:
        for key, value in _table_entries(table):
            if header is None:
                if key != b"":
                    raise _MalformedError("no bundle header (the first key is not empty)")
                header = _parse_header(value)
                continue
            name = key.decode("utf-8", errors="backslashreplace")
            try:
                entries[name] = _parse_entry(value)
            except _MalformedError as exc:
                raise _MalformedError(f"entry {name!r}: {exc}") from None
        if header is None:
            raise _MalformedError("empty table (no bundle header)")
        _check_header(header)
        for name, entry in entries.items():
            _check_entry(name, entry, header)
    except _MalformedError as exc:
        raise CheckpointError(f"{index_path}: {exc}") from None

    by_shard: dict[int, list[tuple[str, _Entry]]] = {}
    for name, entry in entries.items():
        by_shard.setdefault(entry.shard_id, []).append((name, entry))
    arrays: dict[str, np.ndarray] = {}
    for shard, items in sorted(by_shard.items()):
        path = data_filename(prefix, shard, header.num_shards)
        arrays.update(_read_shard(path, sorted(items, key=lambda i: i[1].offset), header))
    return {name: arrays[name] for name in entries}


def _check_header(header: _Header) -> None:
    if header.producer < 0:
        raise _MalformedError(f"bundle format producer version {header.producer} is invalid")
    if header.min_consumer > BUNDLE_VERSION:
        raise _MalformedError(
            f"bundle format version {header.producer} (for readers of version "
            f"{header.min_consumer} or newer) is not supported; this reader is version "
            f"{BUNDLE_VERSION}"
        )
    if BUNDLE_VERSION in header.bad_consumers:
        raise _MalformedError(
            f"bundle format version {header.producer} is not supported by readers of version "
            f"{BUNDLE_VERSION} (its header says so)"
        )
    if header.num_shards < 0:
        raise _MalformedError(f"invalid number of shards ({header.num_shards})")


def _check_entry(name: str, entry: _Entry, header: _Header) -> None:
    if entry.sliced:
        raise _MalformedError(
            f"{name!r} is a partitioned (sliced) variable, which is not supported"
        )
    if entry.dtype in _UNSUPPORTED_DTYPES:
        raise _MalformedError(
            f"{name!r} has dtype {_UNSUPPORTED_DTYPES[entry.dtype]}, not supported"
        )
    if entry.dtype not in _NUMERIC_DTYPES and entry.dtype != DT_STRING:
        raise _MalformedError(f"{name!r} has unknown dtype enum {entry.dtype}")
    if entry.shard_id >= header.num_shards:
        raise _MalformedError(
            f"{name!r} lies in shard {entry.shard_id} of a {header.num_shards}-shard checkpoint"
        )
    if entry.dtype != DT_STRING:
        expected = math.prod(entry.shape) * np.dtype(_NUMERIC_DTYPES[entry.dtype]).itemsize
        if entry.size != expected:
            raise _MalformedError(
                f"{name!r} has {entry.size} bytes, its shape {list(entry.shape)} needs {expected}"
            )
    if entry.masked_crc is None and entry.size > 0:
        raise _MalformedError(f"{name!r} has no crc32c")


def _read_shard(
    path: Path, items: list[tuple[str, _Entry]], header: _Header
) -> Iterator[tuple[str, np.ndarray]]:
    order: ByteOrder = ">" if header.big_endian else "<"
    try:
        handle = path.open("rb")
    except FileNotFoundError:
        raise CheckpointError(f"{path}: checkpoint data shard not found") from None
    except OSError as exc:
        raise CheckpointError(f"{path}: cannot be read ({exc.strerror})") from None
    with handle:
        file_size = os.fstat(handle.fileno()).st_size
        for name, entry in items:
            if entry.offset + entry.size > file_size:
                raise CheckpointError(
                    f"{path}: {name!r} ends past the end of the file (truncated?)"
                )
            buffer = bytearray(entry.size)
            handle.seek(entry.offset)
            if handle.readinto(buffer) != entry.size:
                raise CheckpointError(
                    f"{path}: {name!r} ends past the end of the file (truncated?)"
                )
            expected_crc = unmask_crc32c(entry.masked_crc or 0)
            if entry.dtype == DT_STRING:
                try:
                    array, crc = _decode_strings(buffer, entry.shape, order)
                except _MalformedError as exc:
                    raise CheckpointError(f"{path}: {name!r}: {exc}") from None
            else:
                crc = crc32c(buffer)
                stored = np.dtype(_NUMERIC_DTYPES[entry.dtype]).newbyteorder(order)
                array = np.frombuffer(buffer, stored).reshape(entry.shape)
                if not stored.isnative:
                    array = array.astype(stored.newbyteorder("="))
            if entry.size and crc != expected_crc:
                raise CheckpointError(f"{path}: {name!r} fails its crc32c check (corrupted)")
            yield name, array


def _decode_strings(
    buffer: bytearray, shape: tuple[int, ...], order: ByteOrder
) -> tuple[np.ndarray, int]:
    """A string tensor and its crc32c. Stored as the varint lengths, the masked crc32c of the
    lengths, then the strings' bytes; the tensor's crc32c covers the lengths as uint32 (uint64
    from 4 GiB on) in the writer's byte order, the stored length checksum and the strings."""
    count = math.prod(shape)
    array = np.empty(count, dtype=object)
    if not buffer:  # as TensorFlow's reader: no bytes at all are empty strings
        array[:] = [b""] * count
        return array.reshape(shape), 0
    if count + 4 > len(buffer):
        raise _MalformedError(f"{len(buffer)} bytes cannot hold {count} strings")
    data = bytes(buffer)
    lengths = []
    pos = 0
    crc = 0
    for _ in range(count):
        length, pos = _varint(data, pos)
        lengths.append(length)
        crc = crc32c(struct.pack(order + ("I" if length <= _U32 else "Q"), length), crc)
    if pos + 4 > len(data):
        raise _MalformedError("string lengths run past the tensor's bytes")
    stored = int.from_bytes(data[pos : pos + 4], "big" if order == ">" else "little")
    if unmask_crc32c(stored) != crc:
        raise _MalformedError("string lengths fail their crc32c check (corrupted)")
    crc = crc32c(data[pos : pos + 4], crc)
    pos += 4
    if pos + sum(lengths) != len(data):
        raise _MalformedError("string lengths do not add up to the tensor's size")
    crc = crc32c(data[pos:], crc)
    for i, length in enumerate(lengths):
        array[i] = data[pos : pos + length]
        pos += length
    return array.reshape(shape), crc
