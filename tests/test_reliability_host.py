"""Reliability of the host side: hostile yaml, non-regular files, plugins that exit or collide,
an unwritable SPLIFFT_HOME, and the weaker cases (config values, checkpoints at import, hostile
pickles, short estimates). Each test reproduces one case of docs/troubleshooting.md.

Cases that used to hang run in a subprocess with a timeout, so that a regression fails instead
of blocking the test session.
"""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
import textwrap
import time
import tomllib
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf
import torch

from splifft.cli import main
from splifft_core import paths
from splifft_core.errors import CheckpointError, ConfigError, MsstConfigError
from splifft_core.hookspecs import hookimpl
from splifft_core.plugins import PluginHost
from tests.fake_plugins import identity, msst_gain
from tests.helpers import REPO, splifft_env
from tests.hub_server import identity_manifest, running_hub, sha256, write_user_manifest

EXAMPLE = REPO / "examples" / "tones_and_clicks.flac"


def cli(
    args: list[str], site: Path | None = None, env: dict[str, str] | None = None, timeout: int = 120
) -> subprocess.CompletedProcess[str]:
    """`python -m splifft ARGS` with installed plugins autoloaded (and those on `site`)."""
    return subprocess.run(
        [sys.executable, "-m", "splifft", *args],
        capture_output=True,
        text=True,
        env=splifft_env([site] if site else [], env),
        cwd=REPO,
        timeout=timeout,
    )


def install(site: Path, distribution: str, version: str, module: str, source: str) -> None:
    """A distribution with one `splifft` entry point (`module`) on a path entry."""
    site.mkdir(parents=True, exist_ok=True)
    (site / f"{module}.py").write_text(textwrap.dedent(source))
    info = site / f"{distribution.replace('-', '_')}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {distribution}\nVersion: {version}\n"
    )
    (info / "entry_points.txt").write_text(f"[splifft]\n{module} = {module}\n")


GAIN_CONFIG = """
audio: {chunk_size: 2048, sample_rate: 44100, num_channels: 2, min_mean_abs: 0.0}
model:
  gains: !!python/tuple [0.5, 2.0]
training: {instruments: [vocals, other], batch_size: 8, lr: 1.0e-4}
inference: {num_overlap: 4, batch_size: 3}
"""


def gain_config(tmp_path: Path, text: str = GAIN_CONFIG) -> Path:
    path = tmp_path / "config_gain.yaml"
    path.write_text(textwrap.dedent(text))
    return path


def gain_checkpoint(tmp_path: Path, gains: tuple[float, ...] = (0.5, 2.0)) -> Path:
    path = tmp_path / "gain.ckpt"
    torch.save({"state_dict": {"gains": torch.tensor(gains)}}, path)
    return path


def one_line(text: str) -> str:
    lines = text.strip().splitlines()
    assert len(lines) == 1, text
    return lines[0]


# -- 7. a yaml bomb -------------------------------------------------------------------------------

BILLION_LAUGHS = """\
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
model: {dim: *h}
"""


def test_msst_yaml_bomb_is_refused_at_once(tmp_path: Path) -> None:
    config = tmp_path / "bomb.yaml"
    config.write_text(BILLION_LAUGHS)
    assert len(BILLION_LAUGHS) < 500
    ckpt = gain_checkpoint(tmp_path)
    started = time.monotonic()
    result = cli(["import-msst", str(config), str(ckpt)], timeout=60)
    assert time.monotonic() - started < 60
    assert result.returncode == 1
    line = one_line(result.stderr)
    assert f"{config}: refusing the config: its aliases expand it by more than" in line
    assert len(line) < 300 and "lol" not in line


def test_self_referring_alias_and_deep_nesting_are_refused(tmp_path: Path) -> None:
    from splifft_core.msst import load_msst_yaml

    recursive = tmp_path / "recursive.yaml"
    recursive.write_text("model: &m {inner: *m}\n")
    with pytest.raises(MsstConfigError, match=r"an alias refers to itself \(line 1\)"):
        load_msst_yaml(recursive)
    deep = tmp_path / "deep.yaml"
    deep.write_text("model: " + "[" * 5000 + "]" * 5000 + "\n")
    with pytest.raises(MsstConfigError, match="nested too deeply"):
        load_msst_yaml(deep)


def test_a_few_aliases_still_load(tmp_path: Path) -> None:
    from splifft_core.msst import load_msst_yaml

    path = tmp_path / "aliases.yaml"
    path.write_text("common: &c {batch_size: 2}\ninference: *c\ntraining: {<<: *c, lr: 1.0}\n")
    config = load_msst_yaml(path)
    assert config["inference"] == {"batch_size": 2}
    assert config["training"] == {"batch_size": 2, "lr": 1.0}


def test_quoted_config_values_are_cut_short() -> None:
    from splifft_core.msst_config import check_model_type, inference_settings, short

    huge: Any = ["lol"] * 9
    for _ in range(6):
        huge = [huge] * 9  # 9**7 leaves, shared: quick to build, slow to print whole
    assert len(short(huge)) <= 80
    started = time.monotonic()
    with pytest.raises(MsstConfigError) as error:
        check_model_type({"training": {"model_type": huge}}, "bs_roformer")
    assert len(str(error.value)) < 200
    with pytest.raises(MsstConfigError) as error:
        inference_settings({"num_overlap": huge})
    assert len(str(error.value)) < 200
    assert time.monotonic() - started < 5


# -- 8. a FIFO among the user's manifests ----------------------------------------------------------


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this platform")
def test_fifo_in_user_manifests_is_skipped_and_reported() -> None:
    folder = paths.user_manifests_dir()
    folder.mkdir(parents=True)
    fifo = folder / "hpss-evil-fifo.json"
    os.mkfifo(fifo)
    paths.cache_dir().mkdir(parents=True)
    os.mkfifo(paths.cache_dir() / "recorded-digests.json")

    result = cli(["ls"], env={"SPLIFFT_PLUGINS": "hpss"}, timeout=60)
    assert result.returncode == 0, result.stderr
    assert f"warning: {fifo}: cannot read manifest: not a regular file (a FIFO)" in result.stderr
    assert "hpss-fitzgerald-median" in result.stdout

    result = cli(["info", "hpss-evil-fifo"], env={"SPLIFFT_PLUGINS": "hpss"}, timeout=60)
    assert result.returncode == 1
    assert "not a regular file (a FIFO)" in one_line(result.stderr)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this platform")
def test_fifo_as_config_file_is_one_line() -> None:
    paths.config_dir().mkdir(parents=True)
    os.mkfifo(paths.config_file())
    result = cli(["config"], env={"SPLIFFT_PLUGINS": "hpss"}, timeout=60)
    assert result.returncode == 1
    line = one_line(result.stderr)
    assert str(paths.config_file()) in line and "not a regular file (a FIFO)" in line


# -- 10. plugins that exit ----------------------------------------------------------------------


def exiting_plugins(site: Path) -> None:
    install(site, "exit-plugin", "1.0", "exit_plugin", "import sys\nsys.exit(3)\n")
    install(
        site,
        "hook-exit-plugin",
        "2.0",
        "hook_exit_plugin",
        """
        from splifft_core.hookspecs import hookimpl

        @hookimpl
        def splifft_architectures():
            raise SystemExit(4)
        """,
    )
    install(
        site,
        "base-plugin",
        "3.0",
        "base_plugin",
        """
        from splifft_core.hookspecs import hookimpl

        class Oops(BaseException):
            pass

        @hookimpl
        def splifft_architectures():  # a generator: its code runs when the host reads it
            yield from ()
            raise Oops("not an Exception")
        """,
    )


def test_plugins_that_exit_are_failures_not_exits(tmp_path: Path) -> None:
    site = tmp_path / "site"
    exiting_plugins(site)
    env = {"SPLIFFT_PLUGINS": "hpss,exit_plugin,hook_exit_plugin,base_plugin"}

    result = cli(["plugins", "--json"], site, env)
    assert result.returncode == 0, result.stderr
    listing = json.loads(result.stdout)
    failed = {f["name"]: (f["stage"], f["error"]) for f in listing["failed"]}
    assert failed == {
        "exit_plugin": ("import", "SystemExit: 3"),
        "hook_exit_plugin": ("splifft_architectures", "SystemExit: 4"),
        "base_plugin": ("splifft_architectures", "Oops: not an Exception"),
    }
    assert [p["name"] for p in listing["plugins"]] == ["hpss"]

    result = cli(["ls"], site, env)
    assert result.returncode == 0, result.stderr
    assert "plugin 'exit_plugin' (exit-plugin 1.0) failed at import: SystemExit: 3" in result.stderr
    assert "hpss-fitzgerald-median" in result.stdout

    out = tmp_path / "out"
    result = cli(
        ["run", str(EXAMPLE), "-m", "hpss-fitzgerald-median", "-o", str(out), "-q"], site, env
    )
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in (out / "tones_and_clicks").iterdir()) == [
        "harmonic.flac",
        "percussive.flac",
    ]


def test_a_hook_raising_system_exit_is_isolated_but_ctrl_c_is_not() -> None:
    host = PluginHost()
    exiting = types.ModuleType("exiting")

    @hookimpl
    def splifft_architectures() -> list[object]:
        raise SystemExit("bye")

    @hookimpl
    def splifft_manifests() -> list[object]:
        raise SystemExit(2)

    exiting.splifft_architectures = splifft_architectures  # type: ignore[attr-defined]
    exiting.splifft_manifests = splifft_manifests  # type: ignore[attr-defined]
    host.register(exiting, "exiting")
    host.register(identity, "identity")
    assert set(host.architectures()) == {"identity"}
    assert [p for p, _ in host.manifests()] == ["identity"]
    assert [(f.name, f.stage, f.error) for f in host.failures] == [
        ("exiting", "splifft_architectures", "SystemExit: bye"),
        ("exiting", "splifft_manifests", "SystemExit: 2"),
    ]

    interrupted = PluginHost()
    stopping = types.ModuleType("stopping")

    @hookimpl(specname="splifft_manifests")
    def interrupt() -> list[object]:
        raise KeyboardInterrupt

    stopping.splifft_manifests = interrupt  # type: ignore[attr-defined]
    interrupted.register(stopping, "stopping")
    with pytest.raises(KeyboardInterrupt):
        interrupted.manifests()


# -- 11. two plugins providing one architecture ------------------------------------------------------

EVIL = """
from splifft_core.hookspecs import hookimpl
from splifft_core.models import ArchitectureSpec
from tests.fake_plugins.identity import IDENTITY, GainParams

HPSS = ArchitectureSpec(name="hpss", params_model=GainParams, model_factory="evil_plugin:boom")


def boom(params):
    raise RuntimeError("the evil network")


@hookimpl
def splifft_architectures():
    return [HPSS, IDENTITY]
"""

CONFLICT = (
    "architecture 'hpss' is provided by both splifft-plugin-hpss 0.1.0 and evil-plugin 1.0: "
    "uninstall one"
)


def test_a_name_two_plugins_provide_is_withheld_from_both(tmp_path: Path) -> None:
    site = tmp_path / "site"
    install(site, "evil-plugin", "1.0", "evil_plugin", EVIL)
    env = {"SPLIFFT_PLUGINS": "hpss,evil_plugin"}

    result = cli(
        ["run", str(EXAMPLE), "-m", "hpss-fitzgerald-median", "-o", str(tmp_path / "out"), "-q"],
        site,
        env,
    )
    assert result.returncode == 1
    assert one_line(result.stderr) == (
        f"splifft: error: model 'hpss-fitzgerald-median': {CONFLICT}"
    )

    result = cli(["plugins", "--json"], site, env)
    assert result.returncode == 0, result.stderr
    listing = json.loads(result.stdout)
    assert listing["failed"] == []
    (conflict,) = listing["conflicts"]
    assert conflict["architecture"] == "hpss"
    assert {p["distribution"] for p in conflict["providers"]} == {
        "splifft-plugin-hpss",
        "evil-plugin",
    }
    plugins = {p["name"]: p for p in listing["plugins"]}
    assert plugins["evil_plugin"]["architectures"] == ["identity"]
    assert plugins["evil_plugin"]["conflicting"] == ["hpss"]
    assert plugins["hpss"]["conflicting"] == ["hpss"]

    table = cli(["plugins"], site, env)
    assert "hpss (conflict)" in table.stdout and "conflicts" in table.stdout
    assert "uninstall one" in table.stderr

    # the evil plugin's other architecture keeps working
    home = Path(os.environ["SPLIFFT_HOME"])
    manifests = home / "data" / "manifests"
    manifests.mkdir(parents=True)
    data = identity_manifest("identity-user-other", [])
    (manifests / "identity-user-other.json").write_text(json.dumps(data))
    out = tmp_path / "other"
    result = cli(
        ["run", str(EXAMPLE), "-m", "identity-user-other", "-o", str(out), "-q"], site, env
    )
    assert result.returncode == 0, result.stderr
    assert (out / "tones_and_clicks").is_dir()


def test_conflict_names_the_expected_distribution_first() -> None:
    from splifft_core.errors import PluginError

    host = PluginHost()
    twin = types.ModuleType("twin")
    twin.splifft_architectures = identity.splifft_architectures  # type: ignore[attr-defined]
    host.register(twin, "twin", distribution="twin-dist", version="2.0")
    host.register(identity, "identity", distribution="fake-identity", version="0.3.0")
    assert host.architectures() == {}
    with pytest.raises(PluginError) as error:
        host.architecture("identity", "fake-identity")
    assert str(error.value) == (
        "architecture 'identity' is provided by both fake-identity 0.3.0 and twin-dist 2.0: "
        "uninstall one"
    )
    strict = PluginHost(strict=True)
    strict.register(twin, "twin")
    strict.register(identity, "identity")
    with pytest.raises(PluginError, match="SPLIFFT_STRICT_PLUGINS"):
        strict.architectures()


# -- 13. an unwritable SPLIFFT_HOME ------------------------------------------------------------


@pytest.fixture
def home_under_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """SPLIFFT_HOME below a regular file: every folder in it fails with NotADirectoryError."""
    blocker = tmp_path / "file.txt"
    blocker.write_text("not a folder")
    monkeypatch.setenv("SPLIFFT_HOME", str(blocker / "home"))
    return blocker


def read_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every rename (the commit of an atomic write) fails as on a read-only file system."""

    def refuse(src: object, dst: object) -> None:
        raise OSError(errno.EROFS, "Read-only file system", str(dst))

    monkeypatch.setattr(os, "replace", refuse)


def test_config_with_an_unwritable_home_is_one_line(
    home_under_a_file: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert main(["config", "default_model", "hpss-fitzgerald-median"]) == 1
    line = one_line(capsys.readouterr().err)
    assert f"{paths.config_file()}: cannot write config ({home_under_a_file} is a file" in line
    assert main(["config"]) == 0  # showing still works

    monkeypatch.setenv("SPLIFFT_HOME", str(home_under_a_file.parent / "home"))
    read_only(monkeypatch)
    assert main(["config", "default_model", "hpss-fitzgerald-median"]) == 1
    line = one_line(capsys.readouterr().err)
    assert f"{paths.config_file()}: cannot write config (Read-only file system)" in line
    assert not list(paths.config_dir().iterdir())  # no temporary file left


def test_import_msst_with_an_unwritable_home_is_one_line(
    plugin_host: Callable[..., PluginHost],
    home_under_a_file: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    plugin_host(identity, msst_gain)
    config, ckpt = gain_config(tmp_path), gain_checkpoint(tmp_path)
    assert main(["import-msst", str(config), str(ckpt)]) == 1
    line = one_line(capsys.readouterr().err)
    assert "cannot write manifest" in line and f"{home_under_a_file} is a file" in line

    monkeypatch.setenv("SPLIFFT_HOME", str(tmp_path / "home"))
    read_only(monkeypatch)
    assert main(["import-msst", str(config), str(ckpt)]) == 1
    line = one_line(capsys.readouterr().err)
    assert str(paths.user_manifests_dir()) in line
    assert "cannot write manifest (Read-only file system)" in line


def test_pull_with_an_unwritable_cache_is_one_line(
    plugin_host: Callable[..., PluginHost],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    plugin_host(identity)
    weights = b"weights" * 100
    with running_hub() as hub:
        hub.plain["gain.ckpt"] = weights
        resource = {"kind": "url", "url": hub.url("gain.ckpt"), "filename": "gain.ckpt"}
        write_user_manifest(
            identity_manifest("identity-test-ro", [{**resource, "sha256": sha256(weights)}])
        )
        write_user_manifest(identity_manifest("identity-test-nodigest", [resource]))

        cache = paths.cache_dir()
        cache.parent.mkdir(parents=True, exist_ok=True)
        cache.write_text("a file where the cache folder should be")
        assert main(["pull", "identity-test-ro"]) == 1
        line = one_line(capsys.readouterr().err)
        assert "model 'identity-test-ro': " in line and "cannot write the download cache" in line
        assert f"{cache} is a file, not a folder" in line
        cache.unlink()

        with monkeypatch.context() as patched:
            read_only(patched)
            assert main(["pull", "identity-test-ro"]) == 1
        line = one_line(capsys.readouterr().err)
        assert "gain.ckpt: cannot write (Read-only file system)" in line

        # a digest that cannot be recorded is a message; the download itself is fine
        records = paths.cache_dir() / "recorded-digests.json"
        records.mkdir(parents=True)
        assert main(["pull", "identity-test-nodigest"]) == 0
        captured = capsys.readouterr()
        assert captured.out.startswith("identity-test-nodigest: ")
        assert f"cannot be recorded: {records}: cannot write recorded digests" in captured.err


def test_unreadable_digest_records_are_ignored_and_unwritable_ones_reported() -> None:
    from splifft_core import hub
    from splifft_core.manifest import Manifest, UrlResource

    records = paths.cache_dir() / "recorded-digests.json"
    records.mkdir(parents=True)
    assert hub.recorded_digests() == {}
    manifest = Manifest.model_validate(identity_manifest("identity-test-rec", []))
    file = paths.cache_dir() / "w.ckpt"
    file.write_bytes(b"x")
    resource = UrlResource(kind="url", url="http://127.0.0.1/w.ckpt", filename="w.ckpt")
    notes: list[str] = []
    assert hub.verify(manifest, resource, file, notes.append) == sha256(b"x")
    (note,) = notes
    assert f"cannot be recorded: {records}: cannot write recorded digests" in note


# -- WEAK (a): config values ----------------------------------------------------------------------


def test_config_value_with_a_newline_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["config", "default_model", "x\ny = 1"]) == 1
    line = one_line(capsys.readouterr().err)
    assert "default_model 'x\\ny = 1' contains control characters" in line
    assert not paths.config_file().exists()
    assert main(["config", "default_model", "Not An Id"]) == 1
    assert "must be a model identifier" in one_line(capsys.readouterr().err)


def test_config_is_written_by_a_toml_library(capsys: pytest.CaptureFixture[str]) -> None:
    value = 'C:\\models\\my "best" model.json'
    assert main(["config", "default_model", value]) == 0
    assert tomllib.loads(paths.config_file().read_text()) == {"default_model": value}
    assert main(["config", "default_model"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == value


def test_a_broken_config_is_one_line_and_config_repairs_it(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from splifft_core.user_config import default_model

    config = paths.config_file()
    config.parent.mkdir(parents=True)
    config.write_text('default_model = "x\ny = 1"\n')  # what the old writer produced
    with pytest.raises(ConfigError, match="not valid TOML") as error:
        default_model()
    assert str(config) in str(error.value) and "\n" not in str(error.value)
    assert main(["config"]) == 1
    line = one_line(capsys.readouterr().err)
    assert str(config) in line and "splifft config default_model ID" in line

    assert main(["config", "default_model", "hpss-fitzgerald-median"]) == 0
    err = capsys.readouterr().err
    assert f"moved it to {config}.broken" in one_line(err)
    assert default_model() == "hpss-fitzgerald-median"
    assert (config.parent / "config.toml.broken").read_text().startswith("default_model")

    config.write_text('default_model = "bad\\u0007value"\n')  # valid TOML, invalid value
    with pytest.raises(ConfigError, match="control characters"):
        default_model()


# -- WEAK (b): the checkpoint is checked at import ----------------------------------------------


class _Exploit:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (os.system, (f"touch {self.marker}",))


def test_import_msst_checks_the_checkpoint(
    plugin_host: Callable[..., PluginHost], tmp_path: Path
) -> None:
    from splifft_core.msst import import_msst

    plugin_host(identity, msst_gain)
    config = gain_config(tmp_path)
    wrong = gain_checkpoint(tmp_path, gains=(1.0, 2.0, 3.0))
    with pytest.raises(CheckpointError, match=r"'gains' has shape \(3,\), the model expects \(2,"):
        import_msst(config, wrong)

    marker = tmp_path / "pwned"
    hostile = tmp_path / "hostile.ckpt"
    torch.save({"gains": torch.tensor([0.5, 2.0]), "extra": _Exploit(marker)}, hostile)
    with pytest.raises(CheckpointError) as error:
        import_msst(config, hostile)
    assert str(error.value) == (
        f"{hostile}: not a plain-tensor checkpoint (it would run pickled code); refused"
    )
    assert not marker.exists()

    garbage = tmp_path / "garbage.ckpt"
    garbage.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(CheckpointError, match=str(garbage)):
        import_msst(config, garbage)
    assert not paths.user_manifests_dir().exists() or not any(paths.user_manifests_dir().iterdir())


def test_import_msst_checks_a_checkpoint_through_the_plugins_loader(
    plugin_host: Callable[..., PluginHost], tmp_path: Path
) -> None:
    splifft_plugin_demucs = pytest.importorskip("splifft_plugin_demucs")
    from splifft_core.msst import import_msst

    plugin_host(splifft_plugin_demucs)
    config = REPO / "tests" / "fixtures" / "msst" / "config_htdemucs.yaml"
    garbage = tmp_path / "htdemucs.th"
    garbage.write_bytes(b"not a checkpoint at all")
    with pytest.raises(CheckpointError, match=str(garbage)) as error:
        import_msst(config, garbage)
    assert "weights_only" not in str(error.value)


# -- WEAK (c): a hostile pickle's message -----------------------------------------------------------


def test_hostile_pickle_message_gives_no_unsafe_advice(tmp_path: Path) -> None:
    from splifft_core.checkpoint import read_state_dict

    marker = tmp_path / "pwned"
    path = tmp_path / "evil.ckpt"
    torch.save({"state_dict": {"w": torch.ones(2)}, "hook": _Exploit(marker)}, path)
    with pytest.raises(CheckpointError) as error:
        read_state_dict(path)
    assert str(error.value) == (
        f"{path}: not a plain-tensor checkpoint (it would run pickled code); refused"
    )
    assert "weights_only" not in str(error.value)
    assert not marker.exists()


# -- WEAK (d): an estimate shorter than its reference ----------------------------------------------


def test_eval_warns_about_an_estimate_shorter_than_its_reference(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from splifft_core.evaluation import evaluate_estimates

    rate = 8000
    rng = np.random.default_rng(0)
    reference = (0.1 * rng.standard_normal((rate, 2))).astype(np.float32)
    refs, ests = tmp_path / "refs" / "t1", tmp_path / "ests" / "t1"
    refs.mkdir(parents=True)
    ests.mkdir(parents=True)
    sf.write(str(refs / "vocals.wav"), reference, rate, subtype="FLOAT")
    sf.write(str(refs / "mixture.wav"), reference, rate, subtype="FLOAT")
    sf.write(str(ests / "vocals.wav"), reference[: rate // 2], rate, subtype="FLOAT")

    result = evaluate_estimates(tmp_path / "ests", tmp_path / "refs", ["sdr"])
    assert result.warnings == [
        f"{ests / 'vocals.wav'}: {rate // 2} samples, shorter than {refs / 'vocals.wav'} "
        f"({rate} samples); scored the first {rate // 2} samples only"
    ]
    code = main(
        [
            "eval",
            "--estimates",
            str(tmp_path / "ests"),
            "--references",
            str(tmp_path / "refs"),
            "--metrics",
            "sdr",
            "--json",
        ]
    )
    assert code == 0
    captured = capsys.readouterr()
    assert f"warning: {ests / 'vocals.wav'}: {rate // 2} samples, shorter than" in captured.err
    assert json.loads(captured.out)["warnings"] == result.warnings
