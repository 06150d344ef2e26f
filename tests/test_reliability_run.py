"""`splifft run` refuses what cannot work before any work starts, in one line each.

One test (or two) per case of the reliability issue: output collisions (1), templates without
`{stem}` (2), overlap bounds (9), missing devices (12), chunk and batch limits (14), a folder run
with bad files (16), pipes, and output folders left empty by a failed run.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import splifft_plugin_hpss
import torch

from splifft.cli import main
from splifft_core.config import InferenceConfig
from splifft_core.errors import ConfigError, DownloadError
from splifft_core.plugins import PluginHost
from splifft_core.separator import check_chunking, resolve_device
from tests.fake_plugins import identity

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "examples" / "tones_and_clicks.flac"
RATE = 44100
GAIN = ["-m", "identity-test-gain", "-q"]


@pytest.fixture
def hosts(plugin_host: Callable[..., PluginHost]) -> PluginHost:
    return plugin_host(splifft_plugin_hpss, identity)


def noise(path: Path, seconds: float = 0.2, seed: int = 0) -> Path:
    data = 0.1 * np.random.default_rng(seed).standard_normal((int(seconds * RATE), 2))
    subtype = "PCM_24" if path.suffix == ".flac" else "FLOAT"
    sf.write(str(path), data.astype(np.float32), RATE, subtype=subtype)
    return path


def relative_files(folder: Path) -> list[str]:
    if not folder.exists():
        return []
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


def one_error(args: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    code = main(args)
    err = capsys.readouterr().err.strip()
    assert code == 1, err
    assert len(err.splitlines()) == 1, err
    assert err.startswith("splifft: error: ")
    return err


# -- 1: two inputs, one track name ---------------------------------------------------------------


def test_folder_run_keeps_subfolders_so_same_named_tracks_do_not_collide(
    hosts: PluginHost, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    album = tmp_path / "album"
    for disc in ("CD1", "CD2"):
        (album / disc).mkdir(parents=True)
    noise(album / "CD1" / "01.wav", seed=1)
    noise(album / "CD2" / "01.wav", seed=2)
    out = tmp_path / "separated"
    assert main(["run", str(album), "-o", str(out), *GAIN]) == 0, capsys.readouterr().err
    assert relative_files(out) == [
        f"{disc}/01/{stem}.flac"
        for disc in ("CD1", "CD2")
        for stem in ("drums", "instrum", "vocals")
    ]
    one, _ = sf.read(str(out / "CD1" / "01" / "vocals.flac"))
    two, _ = sf.read(str(out / "CD2" / "01" / "vocals.flac"))
    assert not np.allclose(one, two)  # neither replaced the other


def test_song_wav_beside_song_flac_is_refused_before_any_work(
    hosts: PluginHost, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    wav, flac = noise(tmp_path / "song.wav"), noise(tmp_path / "song.flac", seed=1)
    out = tmp_path / "out"
    err = one_error(["run", str(wav), str(flac), "-o", str(out), *GAIN], capsys)
    assert str(wav) in err and str(flac) in err and str(out / "song") in err
    assert "{input_ext}" in err
    assert not out.exists()
    # the same pair found in a folder: refused too
    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copy(wav, folder / "song.wav")
    shutil.copy(flac, folder / "song.flac")
    err = one_error(["run", str(folder), "-o", str(out), *GAIN], capsys)
    assert "would both write" in err and not out.exists()
    # the suggested template tells them apart
    template = ["--filename", "{track}-{input_ext}/{stem}.{ext}"]
    assert main(["run", str(wav), str(flac), "-o", str(out), *template, *GAIN]) == 0
    assert relative_files(out) == [
        f"song-{ext}/{stem}.flac"
        for ext in ("flac", "wav")
        for stem in ("drums", "instrum", "vocals")
    ]


def test_a_second_run_over_the_same_folder_does_not_take_earlier_stems_as_inputs(
    hosts: PluginHost,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    noise(tmp_path / "song.wav")
    for _ in range(2):
        assert main(["run", ".", "-o", "separated", *GAIN]) == 0, capsys.readouterr().err
    assert relative_files(tmp_path) == [
        *(f"separated/song/{stem}.flac" for stem in ("drums", "instrum", "vocals")),
        "song.wav",
    ]


def test_same_named_files_given_one_by_one_are_refused(
    hosts: PluginHost, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for disc in ("CD1", "CD2"):
        (tmp_path / disc).mkdir()
        noise(tmp_path / disc / "01.wav")
    out = tmp_path / "out"
    args = [str(tmp_path / "CD1" / "01.wav"), str(tmp_path / "CD2" / "01.wav")]
    err = one_error(["run", *args, "-o", str(out), *GAIN], capsys)
    assert all(a in err for a in args) and "common folder" in err
    assert not out.exists()


# -- 2: a template without {stem} ----------------------------------------------------------------


def test_template_without_stem_is_refused_before_any_work(
    hosts: PluginHost, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    song = noise(tmp_path / "song.wav")
    out = tmp_path / "out"
    err = one_error(
        ["run", str(song), "-o", str(out), "--filename", "{track}.{ext}", *GAIN], capsys
    )
    assert "'{track}.{ext}'" in err and "put {stem} in it" in err
    assert not out.exists()
    # one stem needs no {stem}
    args = ["run", str(song), "-o", str(out), "--filename", "{track}.{ext}", "--stems", "vocals"]
    assert main([*args, *GAIN]) == 0, capsys.readouterr().err
    assert relative_files(out) == ["song.flac"]


# -- 9: overlap bounds ---------------------------------------------------------------------------


@pytest.mark.parametrize("overlap", ["0.999999", "nan", "1", "-0.1", "inf"])
def test_overlap_must_be_a_number_up_to_099(
    hosts: PluginHost, tmp_path: Path, capsys: pytest.CaptureFixture[str], overlap: str
) -> None:
    out = tmp_path / "out"
    err = one_error(["run", str(EXAMPLE), "-o", str(out), "--overlap", overlap, "-q"], capsys)
    assert "overlap_ratio: must be a number in [0, 0.99]" in err
    assert "less than 1" not in err
    assert not out.exists()


def test_overlap_099_runs_and_an_explicit_hop_under_one_percent_is_refused(
    hosts: PluginHost, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    song = noise(tmp_path / "song.wav", seconds=0.1)
    args = ["run", str(song), "-o", str(tmp_path / "out"), "--overlap", "0.99", *GAIN]
    assert main(args) == 0, capsys.readouterr().err
    assert InferenceConfig(overlap_ratio=0.99).hop_size(4096) == 40
    with pytest.raises(ConfigError, match=r"hop size 1 is under 1 % of the chunk size 4096"):
        check_chunking(
            identity.GainParams(chunk_size=4096),
            InferenceConfig(hop_size_override=1),
            channels=2,
            num_stems=1,
            device=torch.device("cpu"),
        )


# -- 12: devices that are not there --------------------------------------------------------------


def test_cuda_and_mps_on_a_torch_without_them_give_one_line(
    hosts: PluginHost,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(torch.version, "cuda", None)
    monkeypatch.setattr(torch.version, "hip", None, raising=False)
    monkeypatch.setattr(torch.backends.mps, "is_built", lambda: False)
    out = tmp_path / "out"
    for device in ("cuda", "cuda:7"):
        err = one_error(["run", str(EXAMPLE), "-o", str(out), "--device", device, "-q"], capsys)
        assert f"device '{device}': this torch build has no CUDA (torch {torch.__version__})" in err
        assert err.endswith("use --device cpu")
    err = one_error(["run", str(EXAMPLE), "-o", str(out), "--device", "mps", "-q"], capsys)
    assert "device 'mps': this torch build has no MPS" in err
    assert not out.exists()


def test_cuda_index_beyond_the_gpus_names_the_count(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.version, "cuda", "12.8")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    with pytest.raises(
        ConfigError, match=r"'cuda:7': this machine has 2 CUDA GPUs \(cuda:0 … cuda:1\)"
    ):
        resolve_device("cuda:7")
    assert resolve_device("cuda:1") == torch.device("cuda:1")
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 0)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ConfigError, match="no CUDA GPU is visible"):
        resolve_device("cuda")


# -- 14: chunk and batch sizes -------------------------------------------------------------------


@pytest.mark.parametrize("chunk", ["1", "100", "4095"])
def test_chunk_below_the_models_minimum_is_refused(
    hosts: PluginHost, tmp_path: Path, capsys: pytest.CaptureFixture[str], chunk: str
) -> None:
    out = tmp_path / "out"
    err = one_error(
        [
            "run",
            str(EXAMPLE),
            "-m",
            "hpss-fitzgerald-median",
            "-o",
            str(out),
            "--chunk-size",
            chunk,
            "-q",
        ],
        capsys,
    )
    assert f"chunk size {chunk} is too small: at least 4096 samples" in err
    assert "n_fft = 2048" in err  # the default HPSS model's STFT
    assert not out.exists()
    # a model without an STFT: the floor
    song = noise(tmp_path / "song.wav")
    err = one_error(["run", str(song), "-o", str(out), "--chunk-size", "512", *GAIN], capsys)
    assert "chunk size 512 is too small: at least 1024 samples" in err


@pytest.mark.parametrize(
    "option", [["--chunk-size", "100000000000"], ["--batch-size", "100000000"]]
)
def test_chunk_times_batch_beyond_memory_is_refused(
    hosts: PluginHost, tmp_path: Path, capsys: pytest.CaptureFixture[str], option: list[str]
) -> None:
    out = tmp_path / "out"
    err = one_error(
        ["run", str(EXAMPLE), "-m", "hpss-fitzgerald-median", "-o", str(out), *option, "-q"], capsys
    )
    assert " × batch size " in err and "needs at least" in err and "on cpu, which has" in err
    assert "use a smaller --batch-size or --chunk-size" in err
    assert not out.exists()


@pytest.mark.parametrize(
    "failure",
    [
        RuntimeError(
            "[enforce fail] DefaultCPUAllocator: not enough memory: you tried to allocate"
        ),
        torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB"),
        MemoryError(),
    ],
)
def test_allocation_failure_mid_run_is_one_line(
    hosts: PluginHost,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    failure: BaseException,
) -> None:
    def out_of_memory(*args: object, **kwargs: object) -> object:
        raise failure

    monkeypatch.setattr("splifft_core.separator.stitch_stream", out_of_memory)
    song = noise(tmp_path / "song.wav")
    out = tmp_path / "out"
    err = one_error(["run", str(song), "-o", str(out), *GAIN], capsys)
    assert "out of memory on cpu with chunk size 4096 × batch size 2" in err
    assert "use a smaller --batch-size or --chunk-size" in err
    assert not out.exists()


# -- 16: a folder with bad files -----------------------------------------------------------------


def test_folder_run_separates_every_good_file_and_names_each_bad_one(
    hosts: PluginHost, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    noise(folder / "a.wav")
    (folder / "b.wav").write_text("not audio at all\n" * 20)
    (folder / "c.flac").write_bytes(b"")
    noise(folder / "d.wav", seed=1)
    out = tmp_path / "out"
    code = main(["run", str(folder), "-o", str(out), *GAIN])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1
    assert relative_files(out) == [
        f"{track}/{stem}.flac" for track in ("a", "d") for stem in ("drums", "instrum", "vocals")
    ]
    assert err[0].startswith(f"splifft: error: {folder / 'b.wav'}: not a readable audio file")
    assert (
        err[1] == f"splifft: error: {folder / 'c.flac'}: not a readable audio file (file is empty)"
    )
    assert (
        err[2] == f"splifft: error: 2 of 4 inputs failed (each named above); 2 separated into {out}"
    )
    assert len(err) == 3


# -- pipes and empty output folders ------------------------------------------------------------


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes here")
def test_a_pipe_is_not_a_regular_file(
    hosts: PluginHost, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pipe = tmp_path / "song.flac"
    os.mkfifo(pipe)  # what `<(cat song.flac)` hands over; opening it would block
    err = one_error(["run", str(pipe), "-o", str(tmp_path / "out"), "-q"], capsys)
    assert err == (
        f"splifft: error: {pipe}: not a regular file (pipes and devices are not supported; "
        "save it to a file first)"
    )
    assert not (tmp_path / "out").exists()


def test_a_failed_run_leaves_no_empty_output_folders(
    hosts: PluginHost,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import splifft_core.api as api
    from splifft_core.errors import AudioError

    song = noise(tmp_path / "song.wav")
    out = tmp_path / "deep" / "out"

    def offline(*args: object, **kwargs: object) -> object:
        raise DownloadError("model.ckpt: not in the cache and HF_HUB_OFFLINE is set")

    with monkeypatch.context() as patch:
        patch.setattr(api, "load", offline)
        one_error(["run", str(song), "-o", str(out), *GAIN], capsys)
    assert not (tmp_path / "deep").exists()

    def failing(*args: object, **kwargs: object) -> object:
        raise AudioError("song.wav: simulated decoder failure")

    monkeypatch.setattr("splifft_core.separator.stitch_stream", failing)
    one_error(["run", str(song), "-o", str(out), *GAIN], capsys)
    assert not (tmp_path / "deep").exists()
    # a folder that was there before stays, and so does what is in it
    out.mkdir(parents=True)
    (out / "keep.txt").write_text("mine")
    one_error(["run", str(song), "-o", str(out), *GAIN], capsys)
    assert relative_files(out) == ["keep.txt"]
