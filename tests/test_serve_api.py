"""`splifft serve`'s API through an ASGI test client: upload → poll → download, events, cancel,
restart, retention, and every bad input (each a JSON error, nothing left behind)."""

from __future__ import annotations

import io
import json
import threading
import time
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf
from fastapi.testclient import TestClient

from splifft.cli import main
from splifft.server.app import ServerConfig, create_app, session_value
from splifft.server.jobs import Job, JobStore, Retention, display_name
from splifft.server.workers import Loaded, separate_job
from splifft_core.plugins import PluginHost
from tests.hub_server import StandInHub

TOKEN = "studio-token-123456"
MODEL = "probe-test-a"


@pytest.fixture
def probe_host(plugin_host: Callable[..., PluginHost]) -> PluginHost:
    from tests.fake_plugins import probe, probe_models

    return plugin_host(probe, probe_models)


def song_bytes(seconds: float = 1.0, rate: int = 44100, fmt: str = "FLAC") -> bytes:
    rng = np.random.default_rng(7)
    t = np.arange(int(seconds * rate)) / rate
    audio = np.stack([np.sin(2 * np.pi * 220 * t), np.sin(2 * np.pi * 331 * t)], axis=1) * 0.3
    audio += rng.normal(0, 0.01, audio.shape)
    buffer = io.BytesIO()
    sf.write(buffer, audio.astype(np.float32), rate, format=fmt)
    return buffer.getvalue()


@pytest.fixture
def jobs_dir(tmp_path: Path) -> Path:
    return tmp_path / "jobs"


def client_for(config: ServerConfig, runner: Any = separate_job) -> TestClient:
    return TestClient(create_app(config, runner), base_url="http://127.0.0.1")


@pytest.fixture
def client(probe_host: PluginHost, jobs_dir: Path) -> Iterator[TestClient]:
    with client_for(ServerConfig(jobs_dir=jobs_dir, devices=("cpu",))) as c:
        yield c


def submit(
    client: TestClient,
    data: bytes,
    name: str = "song.flac",
    **fields: str,
) -> Any:
    form = {"model": MODEL, **fields}
    return client.post("/api/jobs", data=form, files={"file": (name, data, "audio/flac")})


def upload_raw(client: TestClient, data: bytes, file_name: str) -> Any:
    """A form whose file name goes out byte for byte (httpx would percent-encode quotes)."""
    boundary = "rawboundary"
    quoted = file_name.replace("\\", "\\\\").replace('"', '\\"')
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="model"\r\n\r\n{MODEL}\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
            f'filename="{quoted}"\r\n\r\n'
        ).encode()
        + data
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return client.post(
        "/api/jobs",
        content=body,
        headers={"content-type": f"multipart/form-data; boundary={boundary}"},
    )


def wait_for(client: TestClient, job_id: str, *states: str, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job: dict[str, Any] = client.get(f"/api/jobs/{job_id}").json()
        if job["state"] in states:
            return job
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} never reached {states}: {job}")


def leftovers(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*")) if root.exists() else []


# -- the happy path -------------------------------------------------------------------------


def test_upload_poll_download_equals_splifft_run(
    client: TestClient, tmp_path: Path, jobs_dir: Path
) -> None:
    data = song_bytes(2.0)
    created = submit(client, data, "My Song.flac")
    assert created.status_code == 202, created.text
    job = created.json()
    assert created.headers["location"] == f"/api/jobs/{job['id']}"
    assert (job["state"], job["name"], job["model"]) == ("queued", "My Song.flac", MODEL)
    done = wait_for(client, job["id"], "done", "failed")
    assert done["state"] == "done", done
    assert [s["stem"] for s in done["stems"]] == ["vocals", "instrumental"]
    # the same song through `splifft run`: the server's stems are the engine's, bit for bit
    song = tmp_path / "My Song.flac"
    song.write_bytes(data)
    assert main(["run", str(song), "-m", MODEL, "-o", str(tmp_path / "cli"), "-q"]) == 0
    for stem in done["stems"]:
        response = client.get(stem["url"])
        assert response.status_code == 200
        assert response.headers["content-type"] == "audio/flac"
        assert response.headers["content-disposition"].startswith("inline;")
        served, rate = sf.read(io.BytesIO(response.content))
        expected, _ = sf.read(tmp_path / "cli" / "My Song" / f"{stem['stem']}.flac")
        assert rate == 44100 and served.shape == expected.shape == (88200, 2)
        np.testing.assert_array_equal(served, expected)
        assert len(response.content) == stem["size"]
        attachment = client.get(stem["url"], params={"download": 1})
        assert attachment.headers["content-disposition"] == (
            f'attachment; filename="My Song ({stem["stem"]}).flac"; '
            f"filename*=UTF-8''My%20Song%20%28{stem['stem']}%29.flac"
        )
        # byte ranges, so that the page's audio elements can seek
        part = client.get(stem["url"], headers={"Range": "bytes=100-1099"})
        assert part.status_code == 206
        assert part.headers["content-range"] == f"bytes 100-1099/{stem['size']}"
        assert part.content == response.content[100:1100]
    archive = client.get(done["zip_url"])
    assert archive.status_code == 200 and archive.headers["content-type"] == "application/zip"
    assert 'filename="My Song.zip"' in archive.headers["content-disposition"]
    with zipfile.ZipFile(io.BytesIO(archive.content)) as z:
        assert z.namelist() == ["My Song/vocals.flac", "My Song/instrumental.flac"]
        for stem in done["stems"]:
            assert z.read(f"My Song/{stem['stem']}.flac") == client.get(stem["url"]).content
    # the input is gone once the job ended; the stems and the record stay
    folder = jobs_dir / job["id"]
    assert sorted(p.name for p in folder.iterdir()) == ["job.json", "stems", "stems.zip"]
    listed = client.get("/api/jobs").json()
    assert [j["id"] for j in listed] == [job["id"]]


def test_options_reach_the_engine(client: TestClient) -> None:
    job = submit(client, song_bytes(), stems="vocals", format="mp3", bitrate="128k").json()
    done = wait_for(client, job["id"], "done", "failed")
    assert done["state"] == "done", done
    (stem,) = done["stems"]
    response = client.get(stem["url"])
    assert stem["stem"] == "vocals" and response.headers["content-type"] == "audio/mpeg"
    import av

    with av.open(io.BytesIO(response.content)) as container:
        audio = container.streams.audio[0]
        assert audio.codec.canonical_name == "mp3" and audio.bit_rate == 128000


def test_events_stream_progress_until_done(client: TestClient) -> None:
    job = submit(client, song_bytes(3.0)).json()
    events: list[dict[str, Any]] = []
    with client.stream("GET", f"/api/jobs/{job['id']}/events") as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        kind = None
        for line in response.iter_lines():
            if line.startswith("event: "):
                kind = line[7:]
            elif line.startswith("data: ") and kind == "job":
                events.append(json.loads(line[6:]))
    assert events[-1]["state"] == "done" and events[-1]["progress"] == 1.0
    progress = [e["progress"] for e in events]
    assert progress == sorted(progress)
    assert {e["state"] for e in events} <= {"queued", "running", "done"}


# -- cancel, delete, restart --------------------------------------------------------------------


class Gate:
    """A runner around the real one that holds each job at its first check until released."""

    def __init__(self) -> None:
        self.reached = threading.Event()
        self.release = threading.Event()
        self.calls: list[str] = []

    def __call__(
        self, job: Job, store: JobStore, device: str, loaded: Loaded, check: Callable[[], None]
    ) -> Any:
        self.calls.append(job.id)
        first = [True]

        def gated() -> None:
            if first[0]:
                first[0] = False
                self.reached.set()
                self.release.wait(30)
            check()

        return separate_job(job, store, device, loaded, gated)


def test_cancel_a_running_job_stops_between_blocks(probe_host: PluginHost, jobs_dir: Path) -> None:
    gate = Gate()
    with client_for(ServerConfig(jobs_dir=jobs_dir, devices=("cpu",)), gate) as client:
        running = submit(client, song_bytes(2.0)).json()
        assert gate.reached.wait(30)
        queued = submit(client, song_bytes(1.0)).json()
        assert client.get(f"/api/jobs/{queued['id']}").json()["state"] == "queued"
        # a queued job is cancelled at once, its input removed
        answer = client.delete(f"/api/jobs/{queued['id']}")
        assert answer.json() == {"id": queued["id"], "state": "cancelled"}
        assert not any((jobs_dir / queued["id"]).glob("input*"))
        # a running one stops at its next check, between two batches of chunks
        answer = client.delete(f"/api/jobs/{running['id']}")
        assert answer.json() == {"id": running["id"], "state": "running"}
        gate.release.set()
        ended = wait_for(client, running["id"], "cancelled", "done", "failed")
        assert ended["state"] == "cancelled" and ended["stems"] == []
        assert gate.calls == [running["id"]]  # the cancelled queued job never ran
        for job_id in (running["id"], queued["id"]):
            assert sorted(p.name for p in (jobs_dir / job_id).iterdir()) == ["job.json"]
        assert not [p for p in leftovers(jobs_dir) if p.name.endswith(".part")]
        # deleting an ended job removes it and its files
        assert client.delete(f"/api/jobs/{running['id']}").json()["state"] == "deleted"
        assert client.get(f"/api/jobs/{running['id']}").status_code == 404
        assert not (jobs_dir / running["id"]).exists()


def test_restart_keeps_finished_jobs_and_resumes_queued_ones(
    probe_host: PluginHost, jobs_dir: Path
) -> None:
    config = ServerConfig(jobs_dir=jobs_dir, devices=("cpu",))
    with client_for(config) as client:
        finished = submit(client, song_bytes()).json()
        wait_for(client, finished["id"], "done")
        stem_url = client.get(f"/api/jobs/{finished['id']}").json()["stems"][0]["url"]
        before = client.get(stem_url).content
    gate = Gate()
    with client_for(config, gate) as client:
        interrupted = submit(client, song_bytes()).json()
        assert gate.reached.wait(30)
        # the server stops while the job runs (the gate opens once the stop has begun): the job
        # goes back to the queue, its partial files go
        threading.Timer(0.5, gate.release.set).start()
    assert json.loads((jobs_dir / interrupted["id"] / "job.json").read_text())["state"] == "queued"
    assert not (jobs_dir / interrupted["id"] / "stems").exists()
    with client_for(config) as client:
        jobs = {j["id"]: j for j in client.get("/api/jobs").json()}
        assert jobs[finished["id"]]["state"] == "done"
        assert client.get(stem_url).content == before
        resumed = wait_for(client, interrupted["id"], "done", "failed")
        assert resumed["state"] == "done", resumed


def test_retention_removes_old_and_oversized_ended_jobs(tmp_path: Path) -> None:
    store = JobStore(tmp_path / "jobs", Retention(max_age_s=100, max_bytes=4000))
    now = time.time()

    def make(name: str, state: str, finished: float | None, size: int) -> str:
        with store.incoming() as (job_id, staging):
            (staging / "stems").mkdir()
            (staging / "stems" / "a.flac").write_bytes(b"x" * size)
            job = Job(
                id=job_id, name=name, model=MODEL, input_file="input.flac", state=state,
                created=(finished or now) - 1, finished=finished,
            )  # fmt: skip
            store.admit(job, staging)
        return job_id

    old = make("old", "done", now - 200, 10)
    big_old = make("big", "failed", now - 50, 5000)
    recent = make("recent", "done", now - 10, 1000)
    active = make("active", "running", None, 1000)
    removed = store.prune(now)
    # age first (old), then size: 7000 B > 4000, so the oldest ended (big) goes, and then the
    # rest (2000 B and three small records) fits
    assert removed == [old, big_old]
    assert {j.id for j in store.all()} == {recent, active}
    assert sorted(p.name for p in store.root.iterdir()) == sorted([recent, active])


# -- bad input: a one-line JSON error, nothing left behind ---------------------------------


@pytest.mark.parametrize(
    ("fields", "status", "message"),
    [
        ({"model": "nope-unknown-model"}, 400, "not in the catalogue"),
        ({"model": "../registry/hpss-fitzgerald-median.json"}, 400, "not a catalogue model"),
        ({"model": "/etc/passwd"}, 400, "not a catalogue model"),
        ({"model": "x.json"}, 400, "not a catalogue model"),
        ({"model": ""}, 400, "no model"),
        ({"stems": "drums"}, 400, "has no stem 'drums'"),
        ({"format": "stem.mp4"}, 400, "format 'stem.mp4'"),
        ({"format": "exe"}, 400, "format 'exe'"),
        ({"format": "mp3", "bitrate": "9000k"}, 400, "bitrate"),
        ({"path": "/tmp/x"}, 400, "unknown form field 'path'"),
    ],
)
def test_bad_options(
    client: TestClient, jobs_dir: Path, fields: dict[str, str], status: int, message: str
) -> None:
    response = submit(client, song_bytes(), **fields)
    assert response.status_code == status
    error = response.json()["error"]
    assert message in error and "\n" not in error
    assert leftovers(jobs_dir) == []


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("notes.mp3", b"this is not audio at all " * 40, "notes.mp3: "),
        ("empty.wav", b"", "empty.wav: the file is empty"),
        ("fake.wav", b"RIFF\x00\x10\x00\x00WAVEjunk" + bytes(500), "fake.wav: "),
    ],
)
def test_bad_files(
    client: TestClient, jobs_dir: Path, name: str, data: bytes, message: str
) -> None:
    response = submit(client, data, name)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error.startswith(message) and "\n" not in error
    assert str(jobs_dir) not in error  # the server's own paths never reach the client
    assert leftovers(jobs_dir) == []


def test_a_file_that_fails_while_separating_fails_alone(client: TestClient, jobs_dir: Path) -> None:
    good = song_bytes(2.0)
    # a valid header, then garbage: it probes fine and breaks during the decode
    broken = good[:4096] + bytes(np.random.default_rng(1).integers(0, 256, 60000, dtype=np.uint8))
    bad = submit(client, broken, "broken.flac").json()
    fine = submit(client, good).json()
    failed = wait_for(client, bad["id"], "failed", "done")
    assert failed["state"] == "failed" and failed["error"].startswith("broken.flac")
    assert str(jobs_dir) not in failed["error"]
    assert wait_for(client, fine["id"], "done", "failed")["state"] == "done"
    assert sorted(p.name for p in (jobs_dir / bad["id"]).iterdir()) == ["job.json"]


def test_form_errors(client: TestClient, jobs_dir: Path) -> None:
    cases = [
        (client.post("/api/jobs", json={"model": MODEL}), 415, "multipart/form-data"),
        (client.post("/api/jobs", data={"model": MODEL}), 415, "multipart/form-data"),
        (
            client.post("/api/jobs", data={"model": MODEL}, files={"other": ("a", b"x")}),
            400,
            "unexpected file field 'other'",
        ),
        (
            client.post(
                "/api/jobs",
                content=b"--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.flac\"\r\n\r\nabc",
                headers={"content-type": "multipart/form-data; boundary=b"},
            ),
            400,
            "cut short",
        ),
        (
            client.post(
                "/api/jobs",
                content=b"--b\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\n"
                + MODEL.encode() + b"\r\n--b--\r\n",
                headers={"content-type": "multipart/form-data; boundary=b"},
            ),
            400,
            "no file",
        ),
    ]  # fmt: skip
    for response, status, message in cases:
        assert response.status_code == status, response.text
        assert message in response.json()["error"]
    assert leftovers(jobs_dir) == []


def test_upload_limit_is_enforced_while_streaming(probe_host: PluginHost, jobs_dir: Path) -> None:
    limit = 50_000
    with client_for(ServerConfig(jobs_dir=jobs_dir, devices=("cpu",), max_upload=limit)) as client:
        data = song_bytes(2.0)
        assert len(data) > limit
        declared = submit(client, data)  # Content-Length says it: refused before reading
        assert declared.status_code == 413 and "too large" in declared.json()["error"]
        boundary = "streamed"
        head = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="model"\r\n\r\n{MODEL}\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
            f'filename="big.flac"\r\n\r\n'
        ).encode()
        sent = [0]

        def body() -> Iterator[bytes]:  # chunked: no Content-Length, counted as it arrives
            yield head
            for start in range(0, len(data), 8192):
                sent[0] += 1
                yield data[start : start + 8192]
            yield f"\r\n--{boundary}--\r\n".encode()

        streamed = client.post(
            "/api/jobs",
            content=body(),
            headers={"content-type": f"multipart/form-data; boundary={boundary}"},
        )
        assert streamed.status_code == 413 and "too large" in streamed.json()["error"]
        small = submit(client, song_bytes(0.1))
        assert small.status_code == 202
        wait_for(client, small.json()["id"], "done")
    assert [p.name for p in jobs_dir.iterdir()] == [small.json()["id"]]


def test_busy_server_refuses_with_429(client: TestClient, jobs_dir: Path) -> None:
    service = client.app.api.state.service  # type: ignore[attr-defined]
    service.uploads = service.config.max_concurrent_uploads
    response = submit(client, song_bytes())
    assert response.status_code == 429 and "too many uploads" in response.json()["error"]
    service.uploads = 0
    assert leftovers(jobs_dir) == []


def test_client_file_names_never_become_paths(client: TestClient, jobs_dir: Path) -> None:
    names = {
        "../../evil.flac": "evil.flac",
        "..\\..\\win\\evil.flac": "evil.flac",
        '/abs/quo"te;d\x07.flac': "quoted.flac",
        "": "audio",
        "....flac": "flac",
    }
    for sent, shown in names.items():
        job = upload_raw(client, song_bytes(0.2), sent).json()
        assert job["name"] == shown == display_name(sent)
        done = wait_for(client, job["id"], "done")
        disposition = client.get(done["stems"][0]["url"]).headers["content-disposition"]
        assert disposition.count('"') == 2 and "/" not in disposition.split("filename*")[0]
    # everything the server wrote is inside its jobs folder, under generated names
    for path in leftovers(jobs_dir):
        relative = path.relative_to(jobs_dir).parts
        assert relative[0] in {j["id"] for j in client.get("/api/jobs").json()}
        assert len(relative) == 1 or path.name in {
            "job.json",
            "stems",
            "vocals.flac",
            "instrumental.flac",
        }
    job_id = next(iter(client.get("/api/jobs").json()))["id"]
    for url in (
        f"/api/jobs/{job_id}/stems/..%2Fjob.json",
        f"/api/jobs/{job_id}/stems/%2E%2E",
        "/api/jobs/..%2F..%2Fetc/stems/passwd",
        "/api/jobs/....................",
        f"/api/jobs/{job_id}/stems/other",
    ):
        response = client.get(url)
        assert response.status_code == 404, url
        assert "error" in response.json()


def test_unknown_job(client: TestClient) -> None:
    for method, url in [
        ("GET", "/api/jobs/AAAAAAAAAAAAAAAA"),
        ("GET", "/api/jobs/AAAAAAAAAAAAAAAA/events"),
        ("GET", "/api/jobs/AAAAAAAAAAAAAAAA/zip"),
        ("DELETE", "/api/jobs/AAAAAAAAAAAAAAAA"),
    ]:
        response = client.request(method, url)
        assert response.status_code == 404 and response.json() == {
            "error": "no job 'AAAAAAAAAAAAAAAA'"
        }


# -- security ---------------------------------------------------------------------------------


def test_token(probe_host: PluginHost, jobs_dir: Path) -> None:
    with client_for(ServerConfig(jobs_dir=jobs_dir, token=TOKEN, devices=("cpu",))) as client:
        for headers in (
            {},
            {"Authorization": "Bearer wrong-token-000000"},
            {"Authorization": TOKEN},
        ):
            response = client.get("/api/jobs", headers=headers)
            assert response.status_code == 401
            assert response.headers["www-authenticate"] == "Bearer"
            assert "token" in response.json()["error"]
        upload = submit(client, song_bytes())
        assert upload.status_code == 401 and leftovers(jobs_dir) == []
        # the page sends a browser to the login page, which sets a cookie
        page = client.get("/", follow_redirects=False)
        assert page.status_code == 303 and page.headers["location"] == "/login"
        assert "Sign in" in client.get("/login").text
        wrong = client.post("/login", data={"token": "nope"}, follow_redirects=False)
        assert wrong.headers["location"] == "/login?failed=1" and not client.cookies
        right = client.post("/login", data={"token": TOKEN}, follow_redirects=False)
        assert right.status_code == 303
        cookie = right.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie and TOKEN not in cookie
        assert client.cookies["splifft_session"] == session_value(TOKEN)
        assert client.get("/api/jobs").status_code == 200
        assert client.get("/").status_code == 200
        client.cookies.clear()
        bearer = {"Authorization": f"Bearer {TOKEN}"}
        assert client.get("/api/jobs", headers=bearer).json() == []


def test_without_a_token_only_loopback_host_names_are_answered(client: TestClient) -> None:
    for host in ("127.0.0.1:8000", "localhost", "[::1]:8000"):
        assert client.get("/api/jobs", headers={"Host": host}).status_code == 200
    for host in ("evil.example", "192.168.1.20:8000", "127.0.0.1.evil.example"):
        response = client.get("/api/jobs", headers={"Host": host})
        assert response.status_code == 403 and "loopback" in response.json()["error"]


def test_headers_and_cors(probe_host: PluginHost, jobs_dir: Path, client: TestClient) -> None:
    page = client.get("/")
    assert page.headers["x-content-type-options"] == "nosniff"
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    preflight = {"Origin": "https://studio.example", "Access-Control-Request-Method": "POST"}
    assert (
        "access-control-allow-origin" not in client.options("/api/jobs", headers=preflight).headers
    )
    assert (
        "access-control-allow-origin"
        not in client.get("/api/jobs", headers={"Origin": "https://studio.example"}).headers
    )
    config = ServerConfig(jobs_dir=jobs_dir, devices=("cpu",), cors=("https://studio.example",))
    with client_for(config) as allowed:
        answer = allowed.options("/api/jobs", headers=preflight)
        assert answer.headers["access-control-allow-origin"] == "https://studio.example"
        other = allowed.options(
            "/api/jobs", headers={**preflight, "Origin": "https://elsewhere.example"}
        )
        assert "access-control-allow-origin" not in other.headers


# -- the catalogue and the schema -----------------------------------------------------------


def test_models_with_filters(client: TestClient) -> None:
    every = client.get("/api/models").json()
    ids = [m["identifier"] for m in every]
    assert {"probe-test-a", "probe-test-b", "ensemble-test-vocals"} <= set(ids)
    assert all(m["installed"] for m in every)
    assert "bs_roformer-lu-viperx" not in ids  # its plugin is not installed in this test
    assert "bs_roformer-lu-viperx" in [
        m["identifier"] for m in client.get("/api/models?all=1").json()
    ]
    (b,) = [m for m in every if m["identifier"] == "probe-test-b"]
    assert b["stems"] == ["vocals", "accompaniment"] and b["size"] == 0 and b["cached"]
    vocal = client.get("/api/models", params={"stem": "instrumental"}).json()
    assert [m["identifier"] for m in vocal] == ["probe-test-a"]
    assert [m["identifier"] for m in client.get("/api/models?q=probe%20test-c").json()] == [
        "probe-test-c"
    ]
    assert client.get("/api/models?task=pitch").json() == []
    bad = client.get("/api/models?cached=perhaps")
    assert bad.status_code == 400 and "cached" in bad.json()["error"]


def test_an_ensemble_preset_runs_as_a_job(client: TestClient) -> None:
    job = submit(client, song_bytes(), model="ensemble-test-vocals").json()
    done = wait_for(client, job["id"], "done", "failed")
    assert done["state"] == "done", done
    assert [s["stem"] for s in done["stems"]] == ["vocals", "instrum"]


def test_openapi_documents_every_route(client: TestClient) -> None:
    schema = client.app.api.openapi()  # type: ignore[attr-defined]
    assert set(schema["paths"]) == {
        "/api/models",
        "/api/jobs",
        "/api/jobs/{job_id}",
        "/api/jobs/{job_id}/events",
        "/api/jobs/{job_id}/stems/{stem}",
        "/api/jobs/{job_id}/zip",
    }
    assert client.get("/openapi.json").json() == schema
    assert not any(
        "422" in op["responses"] for ops in schema["paths"].values() for op in ops.values()
    )
    from tests.helpers import docs_hook

    page = docs_hook().http_api_reference(schema)
    for path, methods in schema["paths"].items():
        for method in methods:
            assert f"### `{method.upper()} {path}`" in page
    for name in ("JobView", "ModelView", "StemView", "ErrorView", "DeleteView"):
        assert f"#### {name}" in page
    post = schema["paths"]["/api/jobs"]["post"]
    form = post["requestBody"]["content"]["multipart/form-data"]["schema"]
    assert form["required"] == ["file", "model"]
    assert {"202", "400", "413", "415", "429"} <= set(post["responses"])


# -- the command ------------------------------------------------------------------------------


def test_serve_refuses_other_hosts_without_a_token(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--host", "0.0.0.0"]) == 1
    err = capsys.readouterr().err.strip()
    assert "--token" in err and len(err.splitlines()) == 1
    assert main(["serve", "--host", "0.0.0.0", "--token", "short"]) == 1
    assert "too short" in capsys.readouterr().err
    assert main(["serve", "--cors", "not an origin"]) == 1
    assert "--cors" in capsys.readouterr().err


def test_serve_options_make_the_config(monkeypatch: pytest.MonkeyPatch) -> None:
    from splifft.cli import build_parser
    from splifft.cli.serve import server_config

    monkeypatch.setenv("SPLIFFT_SERVE_TOKEN", TOKEN)
    args = build_parser().parse_args(
        ["serve", "--host", "0.0.0.0", "--max-upload", "1.5G", "--max-storage", "500M",
         "--keep-days", "2", "--device", "cpu", "--cors", "https://studio.example"]
    )  # fmt: skip
    config = server_config(args)
    assert (config.token, config.max_upload, config.devices) == (
        TOKEN,
        int(1.5 * 1024**3),
        ("cpu",),
    )
    assert config.retention == Retention(max_age_s=2 * 86400, max_bytes=500 * 1024**2)
    assert config.cors == ("https://studio.example",)


def test_a_first_job_downloads_the_weights_with_progress(
    plugin_host: Callable[..., PluginHost],
    hub: StandInHub,
    jobs_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from tests.fake_plugins import identity
    from tests.hub_server import gain_weights, identity_manifest, sha256, write_user_manifest

    plugin_host(identity)
    weights = gain_weights((0.5, 0.25))
    hub.commit("org/gain", {"model.ckpt": weights})
    resource = {"kind": "hf", "repo_id": "org/gain", "filename": "model.ckpt"}
    pinned = {**resource, "sha256": sha256(weights), "size": len(weights)}
    manifest = identity_manifest("identity-test-hub", [pinned])
    manifest.pop("plugin")
    write_user_manifest(manifest)
    stages: list[str] = []
    update = JobStore.update

    def record(self: JobStore, job_id: str, **changes: Any) -> Job:
        if "stage" in changes:
            stages.append(changes["stage"])
        return update(self, job_id, **changes)

    monkeypatch.setattr(JobStore, "update", record)
    with client_for(ServerConfig(jobs_dir=jobs_dir, devices=("cpu",))) as client:
        (row,) = client.get("/api/models", params={"q": "identity-test-hub"}).json()
        assert (row["cached"], row["size"]) == (False, len(weights))
        data = song_bytes(1.0)
        job = submit(client, data, model="identity-test-hub").json()
        done = wait_for(client, job["id"], "done", "failed")
        assert done["state"] == "done", done
        assert "downloading model.ckpt" in stages
        assert stages.index("downloading model.ckpt") < stages.index("separating")
        (row,) = client.get("/api/models", params={"q": "identity-test-hub"}).json()
        assert row["cached"]
        mixture, _ = sf.read(io.BytesIO(data))
        for stem, gain in (("vocals", 0.5), ("drums", 0.25)):
            (view,) = [s for s in done["stems"] if s["stem"] == stem]
            served, _ = sf.read(io.BytesIO(client.get(view["url"]).content))
            np.testing.assert_allclose(served, gain * mixture, atol=2e-6)  # 24-bit FLAC
