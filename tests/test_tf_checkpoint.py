"""`splifft_core.tf_checkpoint`: TensorFlow V2 checkpoints read without TensorFlow.

The checkpoints here are written by a tiny writer of this file's own (LevelDB table with
prefix-compressed keys and restart points, hand-encoded protobufs, a bitwise crc32c), independent
of the reader's code; the real thing (Spleeter's published checkpoint) is read in the spleeter
plugin's tests.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import pytest

from splifft_core import tf_checkpoint
from splifft_core.errors import CheckpointError
from splifft_core.tf_checkpoint import crc32c, mask_crc32c, read_tf_checkpoint, unmask_crc32c

# ---------------------------------------------------------------------------------------------
# An independent writer
# ---------------------------------------------------------------------------------------------


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


def sample_tensors() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(7)
    strings = np.empty(3, dtype=object)
    strings[:] = [b"checkpoint", b"", b"\x00\xff bytes"]
    return {
        "unet/conv2d/kernel": rng.standard_normal((5, 5, 2, 16)).astype(np.float32),
        "unet/conv2d/bias": rng.standard_normal(16).astype(np.float32),
        "unet/conv2d_1/kernel": rng.standard_normal((3, 3, 16, 8)).astype(np.float32),
        "unet/conv2d_1/bias": np.zeros(8, np.float32),
        "unet/batch_normalization/gamma": rng.standard_normal(16).astype(np.float64),
        "unet/batch_normalization/moving_variance": rng.random(16).astype(np.float16),
        "counts/int32": rng.integers(-(2**31), 2**31, (2, 3, 4), dtype=np.int32),
        "counts/int64": rng.integers(-(2**63), 2**63 - 1, (7,), dtype=np.int64),
        "counts/uint8": rng.integers(0, 256, (300,), dtype=np.uint8),
        "counts/int16": np.array([-1, 2, -3], np.int16),
        "flags": np.array([True, False, True, True]),
        "complex": (rng.standard_normal(4) + 1j * rng.standard_normal(4)).astype(np.complex64),
        "global_step": np.array(12345, np.int64),
        "empty": np.zeros((0, 3), np.float32),
        "names": strings,
    }


def assert_same(read: dict[str, np.ndarray], expected: dict[str, np.ndarray]) -> None:
    assert list(read) == sorted(expected)
    for name, array in expected.items():
        got = read[name]
        assert got.dtype == array.dtype.newbyteorder("="), name
        assert got.dtype.isnative, name
        assert got.shape == array.shape, name
        if array.dtype == object:
            assert got.tolist() == array.tolist(), name
        else:
            assert got.tobytes() == array.astype(got.dtype).tobytes(), name


@pytest.fixture
def written(tmp_path: Path) -> tuple[Path, dict[str, np.ndarray]]:
    tensors = sample_tensors()
    prefix = tmp_path / "model"
    Bundle(tensors).write(prefix)
    return prefix, tensors


def expect_error(prefix: Path, names: str | Path, *fragments: str) -> str:
    with pytest.raises(CheckpointError) as caught:
        read_tf_checkpoint(prefix)
    message = str(caught.value)
    assert "\n" not in message
    assert str(names) in message, message
    for fragment in fragments:
        assert fragment in message, message
    return message


# ---------------------------------------------------------------------------------------------
# crc32c
# ---------------------------------------------------------------------------------------------


def test_crc32c_known_values() -> None:
    assert crc32c(b"") == 0
    assert crc32c(b"123456789") == 0xE3069283
    # RFC 3720 (iSCSI), B.4
    assert crc32c(bytes(32)) == 0x8A9136AA
    assert crc32c(b"\xff" * 32) == 0x62A8AB43
    assert crc32c(bytes(range(32))) == 0x46DD794E
    assert crc32c(bytes(range(31, -1, -1))) == 0x113FDB5C


@pytest.mark.parametrize("size", [1023, 1024, 1025, 1027, 4096 + 3, 70001])
def test_crc32c_vectorised_matches_bitwise(size: int) -> None:
    data = np.random.default_rng(size).integers(0, 256, size, dtype=np.uint8).tobytes()
    assert crc32c(data) == bitwise_crc32c(data)
    assert crc32c(np.frombuffer(data, np.uint8)) == bitwise_crc32c(data)
    assert crc32c(data[size // 3 :], crc32c(data[: size // 3])) == bitwise_crc32c(data)


def test_crc32c_with_the_lane_count_capped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tf_checkpoint, "_MAX_LANES", 4)
    data = np.random.default_rng(3).integers(0, 256, 5000, dtype=np.uint8).tobytes()
    assert crc32c(data) == bitwise_crc32c(data)


def test_crc32c_of_arrays_is_of_their_bytes() -> None:
    array = np.arange(600, dtype=np.float32).reshape(20, 30)
    assert crc32c(array) == bitwise_crc32c(array.tobytes())
    assert crc32c(array.T) == bitwise_crc32c(np.ascontiguousarray(array.T).tobytes())


def test_mask_round_trip() -> None:
    for crc in (0, 1, 0xE3069283, 0xFFFFFFFF, 0x80000000):
        assert mask_crc32c(crc) == masked(crc)
        assert unmask_crc32c(mask_crc32c(crc)) == crc


# ---------------------------------------------------------------------------------------------
# Reading
# ---------------------------------------------------------------------------------------------


def test_reads_every_tensor_exactly(written: tuple[Path, dict[str, np.ndarray]]) -> None:
    prefix, tensors = written
    read = read_tf_checkpoint(prefix)
    assert_same(read, tensors)
    assert read["unet/conv2d/kernel"].flags.writeable


def test_prefix_may_name_the_index(written: tuple[Path, dict[str, np.ndarray]]) -> None:
    prefix, tensors = written
    assert_same(read_tf_checkpoint(Path(f"{prefix}.index")), tensors)


@pytest.mark.parametrize(
    ("per_block", "restart_interval"), [(1, 1), (2, 1), (3, 2), (4, 3), (100, 16), (100, 1)]
)
def test_block_layouts(tmp_path: Path, per_block: int, restart_interval: int) -> None:
    tensors = sample_tensors()
    Bundle(tensors, per_block=per_block, restart_interval=restart_interval).write(tmp_path / "m")
    assert_same(read_tf_checkpoint(tmp_path / "m"), tensors)


def test_one_shard_and_unaligned_offsets(tmp_path: Path) -> None:
    tensors = sample_tensors()
    Bundle(tensors, num_shards=1, alignment=1).write(tmp_path / "m")
    assert_same(read_tf_checkpoint(tmp_path / "m"), tensors)


def test_many_dtypes_and_shapes(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    tensors: dict[str, np.ndarray] = {}
    for name in DTYPES:
        array = rng.integers(0, 200, (3, 2)).astype(name)
        tensors[f"t/{name}"] = array
        tensors[f"t/{name}/scalar"] = np.array(array[0, 0])
    Bundle(tensors, num_shards=3).write(tmp_path / "m")
    assert_same(read_tf_checkpoint(tmp_path / "m"), tensors)


def test_big_endian_bundle(tmp_path: Path) -> None:
    tensors = sample_tensors()
    Bundle(tensors, big_endian=True).write(tmp_path / "m")
    read = read_tf_checkpoint(tmp_path / "m")
    assert_same(read, tensors)


def test_header_only(tmp_path: Path) -> None:
    Bundle({}, num_shards=1).write(tmp_path / "m")
    assert read_tf_checkpoint(tmp_path / "m") == {}


def test_string_tensors(tmp_path: Path) -> None:
    empty_strings = np.empty((2, 2), dtype=object)
    empty_strings[:] = [[b"", b""], [b"", b""]]
    none = np.empty((0,), dtype=object)
    long = np.empty((1,), dtype=object)
    long[0] = bytes(range(256)) * 20
    tensors = {"empty_strings": empty_strings, "none": none, "long": long}
    Bundle(tensors, num_shards=1).write(tmp_path / "m")
    assert_same(read_tf_checkpoint(tmp_path / "m"), tensors)


def test_string_tensor_without_bytes_is_empty_strings(tmp_path: Path) -> None:
    strings = np.empty(2, dtype=object)
    strings[:] = [b"", b""]
    entry = entry_proto(7, (2,), 0, 0, 0, 0)
    Bundle({"s": strings}, num_shards=1, entry_override={"s": entry}).write(tmp_path / "m")
    assert read_tf_checkpoint(tmp_path / "m")["s"].tolist() == [b"", b""]


def test_large_tensor_uses_the_vectorised_crc(tmp_path: Path) -> None:
    big = np.random.default_rng(0).standard_normal((64, 1000)).astype(np.float32)
    Bundle({"big": big}, num_shards=1).write(tmp_path / "m")
    assert np.array_equal(read_tf_checkpoint(tmp_path / "m")["big"], big)


# ---------------------------------------------------------------------------------------------
# Malformed input: one line naming the file
# ---------------------------------------------------------------------------------------------


def index_of(prefix: Path) -> Path:
    return Path(f"{prefix}.index")


def test_missing_index(tmp_path: Path) -> None:
    expect_error(tmp_path / "nothing", index_of(tmp_path / "nothing"), "not found")


def test_truncated_index(written: tuple[Path, dict[str, np.ndarray]]) -> None:
    prefix, _ = written
    data = index_of(prefix).read_bytes()
    index_of(prefix).write_bytes(data[:20])
    expect_error(prefix, index_of(prefix), "truncated")
    index_of(prefix).write_bytes(data[:-1])
    expect_error(prefix, index_of(prefix), "magic")


def test_bad_magic(written: tuple[Path, dict[str, np.ndarray]]) -> None:
    prefix, _ = written
    data = bytearray(index_of(prefix).read_bytes())
    data[-1] ^= 0x01
    index_of(prefix).write_bytes(bytes(data))
    expect_error(prefix, index_of(prefix), "magic")


def test_corrupted_block(written: tuple[Path, dict[str, np.ndarray]]) -> None:
    prefix, _ = written
    data = bytearray(index_of(prefix).read_bytes())
    data[10] ^= 0x40  # inside the first data block
    index_of(prefix).write_bytes(bytes(data))
    expect_error(prefix, index_of(prefix), "data block 0", "crc32c")


def test_every_index_truncation_and_byte_flip_is_caught(
    written: tuple[Path, dict[str, np.ndarray]],
) -> None:
    """A changed index either reads exactly as before (footer padding, unused bits) or fails
    with a one-line `CheckpointError`; nothing else escapes."""
    prefix, tensors = written
    data = index_of(prefix).read_bytes()
    for cut in range(len(data)):
        index_of(prefix).write_bytes(data[:cut])
        expect_error(prefix, index_of(prefix))
    for position in range(len(data)):
        flipped = bytearray(data)
        flipped[position] ^= 0x10
        index_of(prefix).write_bytes(bytes(flipped))
        try:
            read = read_tf_checkpoint(prefix)
        except CheckpointError as exc:
            assert "\n" not in str(exc)
            assert str(index_of(prefix)) in str(exc)
        else:
            assert_same(read, tensors)


@pytest.mark.parametrize(("kind", "fragment"), [(1, "snappy"), (4, "compression type 4")])
def test_compressed_blocks_are_refused(tmp_path: Path, kind: int, fragment: str) -> None:
    Bundle(sample_tensors(), first_block_kind=kind).write(tmp_path / "m")
    expect_error(tmp_path / "m", index_of(tmp_path / "m"), "data block 0", fragment)


def test_missing_shard(written: tuple[Path, dict[str, np.ndarray]]) -> None:
    prefix, _ = written
    shard = Path(f"{prefix}.data-00001-of-00002")
    shard.unlink()
    expect_error(prefix, shard, "not found")


def test_truncated_shard(written: tuple[Path, dict[str, np.ndarray]]) -> None:
    prefix, _ = written
    shard = Path(f"{prefix}.data-00000-of-00002")
    shard.write_bytes(shard.read_bytes()[:-1])
    expect_error(prefix, shard, "truncated")


def test_entry_past_the_end_of_its_shard(tmp_path: Path) -> None:
    huge = entry_proto(1, (1 << 40,), 0, 0, 4 << 40, 0)  # never allocated
    Bundle({"x": np.zeros(3, np.float32)}, num_shards=1, entry_override={"x": huge}).write(
        tmp_path / "m"
    )
    expect_error(tmp_path / "m", tmp_path / "m.data-00000-of-00001", "'x'", "truncated")


def test_corrupted_tensor(written: tuple[Path, dict[str, np.ndarray]]) -> None:
    prefix, _ = written
    for shard in (0, 1):
        path = Path(f"{prefix}.data-{shard:05d}-of-00002")
        original = path.read_bytes()
        data = bytearray(original)
        data[-2] ^= 0x01
        path.write_bytes(bytes(data))
        expect_error(prefix, path, "crc32c")
        path.write_bytes(original)


def test_corrupted_string_lengths(tmp_path: Path) -> None:
    strings = np.empty(2, dtype=object)
    strings[:] = [b"abc", b"de"]
    raw, _ = string_tensor_bytes(list(strings))
    bad = bytes([raw[0] + 1]) + raw[1:]  # a wrong length, with a matching tensor crc
    entry = entry_proto(7, (2,), 0, 0, len(bad), bitwise_crc32c(bad))
    bundle = Bundle({"s": strings}, num_shards=1, entry_override={"s": entry})
    bundle.write(tmp_path / "m")
    Path(f"{tmp_path / 'm'}.data-00000-of-00001").write_bytes(bad)
    expect_error(tmp_path / "m", tmp_path / "m.data-00000-of-00001", "'s'", "lengths")


@pytest.mark.parametrize(
    ("entry", "fragment"),
    [
        (entry_proto(1, (3,), 0, 0, 8, 0), "has 8 bytes, its shape [3] needs 12"),
        (entry_proto(14, (3,), 0, 0, 6, 0), "bfloat16"),
        (entry_proto(99, (3,), 0, 0, 6, 0), "unknown dtype enum 99"),
        (entry_proto(1, (3,), 5, 0, 12, 0), "shard 5 of a 2-shard"),
        (entry_proto(1, (3,), 0, 0, 12, 0) + pb_bytes(7, b""), "partitioned"),
        (pb_varint(1, 1) + pb_bytes(2, pb_bytes(2, pb_varint(1, -1))), "unknown dimension"),
        (pb_varint(1, 1) + pb_bytes(2, pb_varint(3, 1)), "unknown rank"),
        (pb_varint(1, 1) + b"\x12\x05ab", "truncated length-delimited"),
        (pb_varint(1, 1) + b"\x0b", "wire type 3"),
        (b"\x08\xff\xff", "truncated varint"),
    ],
)
def test_bad_entries(tmp_path: Path, entry: bytes, fragment: str) -> None:
    Bundle({"x": np.zeros(3, np.float32)}, entry_override={"x": entry}).write(tmp_path / "m")
    expect_error(tmp_path / "m", index_of(tmp_path / "m"), "'x'", fragment)


@pytest.mark.parametrize(
    ("header", "fragment"),
    [
        (header_proto(1, min_consumer=2), "not supported"),
        (pb_varint(1, 1) + pb_varint(2, 5), "endianness"),
        (pb_varint(1, 1) + pb_bytes(3, pb_varint(1, 1) + pb_varint(3, 1)), "not supported"),
        (pb_varint(1, 1) + pb_bytes(3, pb_bytes(3, varint(0) + varint(1))), "not supported"),
    ],
)
def test_bad_headers(tmp_path: Path, header: bytes, fragment: str) -> None:
    Bundle({}, num_shards=1, header=header).write(tmp_path / "m")
    expect_error(tmp_path / "m", index_of(tmp_path / "m"), fragment)


def test_no_header(tmp_path: Path) -> None:
    entry = entry_proto(1, (1,), 0, 0, 4, bitwise_crc32c(bytes(4)))
    index_of(tmp_path / "m").write_bytes(table([(b"a", entry)]))
    expect_error(tmp_path / "m", index_of(tmp_path / "m"), "no bundle header")
    index_of(tmp_path / "m").write_bytes(table([]))
    expect_error(tmp_path / "m", index_of(tmp_path / "m"), "no bundle header")


def test_keys_out_of_order(tmp_path: Path) -> None:
    entry = entry_proto(1, (1,), 0, 0, 4, bitwise_crc32c(bytes(4)))
    index_of(tmp_path / "m").write_bytes(
        table([(b"", header_proto(1)), (b"b", entry), (b"a", entry)], per_block=2)
    )
    expect_error(tmp_path / "m", index_of(tmp_path / "m"), "out of order")
