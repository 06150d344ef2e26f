"""`splifft_core.tf_checkpoint`: TensorFlow V2 checkpoints read without TensorFlow.

The checkpoints here are written by `tests.tf_bundle` (LevelDB table with prefix-compressed
keys and restart points, hand-encoded protobufs, a bitwise crc32c), independent of the reader's
code; the real thing (Spleeter's published checkpoint) is read in the spleeter
plugin's tests.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from splifft_core import tf_checkpoint
from splifft_core.errors import CheckpointError
from splifft_core.tf_checkpoint import crc32c, mask_crc32c, read_tf_checkpoint, unmask_crc32c
from tests.tf_bundle import (
    DTYPES,
    Bundle,
    bitwise_crc32c,
    entry_proto,
    header_proto,
    masked,
    pb_bytes,
    pb_varint,
    string_tensor_bytes,
    table,
    varint,
)


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
