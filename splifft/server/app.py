"""The ASGI app of `splifft serve`: the page, its files and the JSON API.

Every error is `{"error": "one line"}` with its HTTP status. Clients may only name catalogue
models (identifiers, never paths or manifests); stored files get generated names; with a token
set, every route but the login page needs it (`Authorization: Bearer TOKEN`, or the cookie the
login page sets); without one, only requests addressed to a loopback host name are answered
(a page elsewhere cannot reach the server through DNS rebinding).
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import ipaddress
import logging
import re
import time
import zipfile
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import parse_qs, quote

import anyio
from fastapi import FastAPI, Query, Request
from fastapi import Path as PathParam
from fastapi.exceptions import RequestValidationError
from fastapi.responses import (
    FileResponse,
    HTMLResponse,
    JSONResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ConfigDict
from starlette.exceptions import HTTPException as StarletteHTTPException

from splifft.server.jobs import (
    ACTIVE,
    ENDED,
    JOB_ID,
    Job,
    JobState,
    JobStore,
    Retention,
    display_name,
    input_file_name,
)
from splifft.server.upload import UploadError, receive_upload
from splifft.server.workers import Runner, Workers, separate_job
from splifft_core import __version__
from splifft_core.errors import SplifftError

log = logging.getLogger("splifft.server")

STATIC = Path(__file__).resolve().parent / "static"
SESSION_COOKIE = "splifft_session"
LOOPBACK_NAMES = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})
WEB_FORMATS = ("flac", "wav", "mp3", "m4a", "alac", "opus", "ogg")
"""The output formats a job may ask for: one file per stem (not `stem.mp4`)."""
MEDIA_TYPES = {
    "flac": "audio/flac",
    "wav": "audio/wav",
    "mp3": "audio/mpeg",
    "m4a": "audio/mp4",
    "opus": "audio/ogg",
    "ogg": "audio/ogg",
}
_IDENTIFIER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$")
GiB = 1024**3
JobId = Annotated[str, PathParam(description="the job's `id`")]


@dataclass(frozen=True)
class ServerConfig:
    """`splifft serve`'s options."""

    host: str = "127.0.0.1"
    port: int = 8000
    token: str | None = None
    devices: tuple[str, ...] = ("auto",)
    """One worker per device."""
    jobs_dir: Path | None = None
    """`None`: `jobs/` in splifft's data folder (under `SPLIFFT_HOME` when set)."""
    max_upload: int = 2 * GiB
    max_concurrent_uploads: int = 4
    max_queued: int = 100
    retention: Retention = field(default_factory=Retention)
    cors: tuple[str, ...] = ()


# -- the API's shapes (its OpenAPI schema) --------------------------------------------------------


class View(BaseModel):
    model_config = ConfigDict(use_attribute_docstrings=True)


class ErrorView(View):
    error: str
    """What is wrong, in one line."""


class ModelView(View):
    identifier: str
    """What a job's `model` field names."""
    task: str
    """`separation` (the only task jobs run), `pitch`, `notes` or `beats`."""
    architecture: str
    stems: list[str]
    """What a job may ask for (`stems`), the derived ones included."""
    outputs: list[str]
    """What a run writes: the stems, or an analysis model's files."""
    cached: bool
    """Every weight file is in the cache (a job starts without downloading)."""
    size: int | None
    """Bytes of weights (0: it has none; null: unknown before the download)."""
    metrics: dict[str, dict[str, float]]
    """Published scores per stem (`sdr`, `bleedless`, `fullness`, …)."""
    installed: bool
    """Its plugin is installed, so it can run here."""
    ensemble: str | None
    """For an ensemble preset: its type and members."""
    license: str | None
    description: str | None


class StemView(View):
    stem: str
    size: int
    """Bytes."""
    url: str
    """Plays inline; add `?download=1` for an attachment."""


class JobView(View):
    id: str
    name: str
    """The uploaded file's name, made safe (no folders, quotes or control characters)."""
    model: str
    format: str
    """The stems' file format."""
    state: JobState
    stage: str
    """What it does now: `queued`, `downloading FILE` (a model's first job), `loading model`,
    `separating`, `writing`, `cancelling`, or
    its end state."""
    progress: float
    """0 to 1."""
    error: str | None
    """Why it failed, in one line."""
    warnings: list[str]
    """What the engine said about it (stems rescaled to avoid clipping, resampled, …)."""
    stems: list[StemView]
    """Once done: each stem file."""
    zip_url: str | None
    """Once done: every stem in one zip."""
    created: float
    """Seconds since the epoch, as `started` and `finished`."""
    started: float | None
    finished: float | None


class DeleteView(View):
    id: str
    state: JobState | Literal["deleted"]
    """`cancelled` (it was queued), `running` (it stops after the current batch) or `deleted`."""


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """The documented error responses of a route (each an `ErrorView`)."""
    texts = {
        400: "bad request (the message says what)",
        401: "a token is needed",
        404: "no such job (or stem)",
        413: "the upload passes --max-upload",
        415: "not a multipart/form-data body",
        429: "too many uploads at once, or too many queued jobs",
    }
    return {code: {"model": ErrorView, "description": texts[code]} for code in (401, *codes)}


ERRORS = errors(400, 404)


# -- security: token, host names, headers --------------------------------------------------------


def session_value(token: str) -> str:
    """The login cookie: an HMAC of the token (the token itself is never stored client-side)."""
    return hmac.new(token.encode(), b"splifft session", hashlib.sha256).hexdigest()


def _headers(scope: MutableMapping[str, Any]) -> dict[str, str]:
    return {k.decode("latin-1"): v.decode("latin-1") for k, v in scope.get("headers", [])}


def _cookie(header: str, name: str) -> str | None:
    for part in header.split(";"):
        key, _, value = part.strip().partition("=")
        if key == name:
            return value
    return None


def host_name(header: str) -> str:
    """The name in a Host header, without its port (`[::1]:8000` → `[::1]`)."""
    if header.startswith("["):
        return header.split("]", 1)[0] + "]"
    return header.rsplit(":", 1)[0]


def is_loopback(host: str) -> bool:
    """`localhost` or a loopback address (`127.0.0.0/8`, `::1`, bracketed or not)."""
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.removeprefix("[").removesuffix("]")).is_loopback
    except ValueError:
        return False


class Guard:
    """ASGI middleware: the token (or, without one, a loopback Host header) and safe headers."""

    OPEN_PATHS = frozenset({"/login", "/assets/app.css"})

    def __init__(self, app: Any, token: str | None, api: FastAPI) -> None:
        self.app = app
        self.api = api
        """The FastAPI app inside (its OpenAPI schema, its state)."""
        self.token = token
        self.session = session_value(token) if token else None

    def authorized(self, headers: dict[str, str]) -> bool:
        assert self.token is not None and self.session is not None
        auth = headers.get("authorization", "")
        if auth.lower().startswith("bearer ") and hmac.compare_digest(
            auth[7:].strip().encode(), self.token.encode()
        ):
            return True
        cookie = _cookie(headers.get("cookie", ""), SESSION_COOKIE)
        return cookie is not None and hmac.compare_digest(cookie.encode(), self.session.encode())

    async def __call__(
        self,
        scope: MutableMapping[str, Any],
        receive: Callable[[], Awaitable[MutableMapping[str, Any]]],
        send: Callable[[MutableMapping[str, Any]], Awaitable[None]],
    ) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = _headers(scope)
        path: str = scope.get("path", "")
        refusal: Response | None = None
        if self.token is None:
            if not is_loopback(host_name(headers.get("host", ""))):
                refusal = JSONResponse(
                    {"error": f"Host {headers.get('host', '')!r} is not a loopback name: this "
                              "server has no token, so it answers local requests only"},
                    403,
                )  # fmt: skip
        elif path not in self.OPEN_PATHS and not self.authorized(headers):
            if path.startswith("/api/"):
                refusal = JSONResponse(
                    {"error": "a token is needed: send Authorization: Bearer TOKEN"},
                    401,
                    headers={"WWW-Authenticate": "Bearer"},
                )
            else:
                refusal = RedirectResponse("/login", 303)

        async def send_with_headers(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                extra = [
                    (b"x-content-type-options", b"nosniff"),
                    (b"referrer-policy", b"no-referrer"),
                    (b"x-frame-options", b"DENY"),
                    (
                        b"content-security-policy",
                        b"default-src 'self'; img-src 'self' data:; media-src 'self' blob:; "
                        b"frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
                    ),
                ]
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        if refusal is not None:
            await refusal(scope, receive, send_with_headers)
            return
        await self.app(scope, receive, send_with_headers)


# -- the app ---------------------------------------------------------------------------------


@dataclass
class Catalogue:
    """The registry and plugin host, read once; rows re-checked (cache state) per request."""

    context: Any = None

    def get(self) -> Any:
        if self.context is None:
            from splifft.cli.models import catalogue_context

            self.context = catalogue_context(warn=False)
        return self.context

    def rows(self) -> list[dict[str, Any]]:
        from splifft.cli.models import model_row

        ctx = self.get()
        return [model_row(entry, ctx) for entry in ctx.registry]

    def entry(self, identifier: str) -> Any:
        """The catalogue entry of a model a job may use, or a 400 naming what is wrong."""
        if not _IDENTIFIER.match(identifier) or identifier.endswith(".json"):
            raise UploadError(400, f"model {identifier!r}: not a catalogue model identifier")
        ctx = self.get()
        try:
            entry = ctx.registry.get(identifier)
        except SplifftError:
            raise UploadError(
                400, f"model {identifier!r}: not in the catalogue (GET /api/models lists them)"
            ) from None
        manifest = entry.manifest
        if manifest.task != "separation":
            raise UploadError(
                400, f"model {identifier!r} is a {manifest.task} model: jobs separate stems"
            )
        from splifft.cli.models import plugin_installed

        if not plugin_installed(manifest, ctx):
            raise UploadError(
                400, f"model {identifier!r}: its plugin is not installed on this server"
            )
        return entry


@dataclass
class Service:
    """Everything the routes share."""

    config: ServerConfig
    store: JobStore
    workers: Workers
    catalogue: Catalogue = field(default_factory=Catalogue)
    uploads: int = 0


def jobs_folder(config: ServerConfig) -> Path:
    if config.jobs_dir is not None:
        return config.jobs_dir
    from splifft_core.paths import data_dir

    return data_dir() / "jobs"


def job_view(job: Job, root: str = "") -> JobView:
    base = f"{root}/api/jobs/{job.id}"
    done = job.state == "done"
    return JobView(
        id=job.id,
        name=job.name,
        model=job.model,
        format=job.format,
        state=job.state,
        stage=job.stage,
        progress=round(job.progress, 4),
        error=job.error,
        warnings=job.warnings,
        stems=[
            StemView(stem=o.stem, size=o.size, url=f"{base}/stems/{quote(o.stem)}")
            for o in job.outputs
        ]
        if done
        else [],
        zip_url=f"{base}/zip" if done else None,
        created=job.created,
        started=job.started,
        finished=job.finished,
    )


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": message}, status, headers=headers)


def content_disposition(kind: str, name: str) -> str:
    """`inline`/`attachment` with an ASCII fallback name and the UTF-8 one (RFC 6266)."""
    ascii_name = name.encode("ascii", "replace").decode().replace("?", "_")
    return f"{kind}; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name, safe='')}"


def create_app(config: ServerConfig = ServerConfig(), runner: Runner = separate_job) -> Guard:
    """The ASGI application (FastAPI inside the `Guard` middleware)."""
    store = JobStore(jobs_folder(config), config.retention)
    service = Service(config, store, Workers(store, config.devices, runner))

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        for job in store.load():
            service.workers.submit(job.id)
        store.prune()
        service.workers.start()
        try:
            yield
        finally:
            await anyio.to_thread.run_sync(service.workers.stop)

    api = FastAPI(
        title="splifft",
        version=__version__,
        summary="Separate music into stems with the splifft model zoo.",
        description="Upload a song as a job, follow its progress, then fetch its stems. Errors "
        'are `{"error": "…"}` with their HTTP status.',
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    api.state.service = service

    def openapi() -> dict[str, Any]:
        # Request errors answer 400 with an ErrorView (see `validation_error`), not FastAPI's
        # 422 with its own shape: the schema says so.
        if api.openapi_schema is None:
            schema = FastAPI.openapi(api)
            for methods in schema["paths"].values():
                for op in methods.values():
                    op.get("responses", {}).pop("422", None)
            for name in ("HTTPValidationError", "ValidationError"):
                schema.get("components", {}).get("schemas", {}).pop(name, None)
            api.openapi_schema = schema
        return api.openapi_schema

    api.openapi = openapi  # type: ignore[method-assign]

    @api.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return _error(exc.status_code, str(exc.detail), getattr(exc, "headers", None))

    @api.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        return _error(400, f"{where}: {first.get('msg', 'invalid')}")

    def job_or_404(job_id: str) -> Job:
        job = store.get(job_id) if JOB_ID.match(job_id) else None
        if job is None:
            raise StarletteHTTPException(404, f"no job {job_id!r}")
        return job

    @api.get("/", include_in_schema=False)
    async def page() -> FileResponse:
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})

    @api.get("/login", include_in_schema=False)
    async def login_page(failed: bool = False) -> HTMLResponse:
        html = (STATIC / "login.html").read_text("utf-8")
        if failed:
            html = html.replace("<!--failed-->", '<p class="error">Wrong token.</p>')
        return HTMLResponse(html, headers={"Cache-Control": "no-cache"})

    @api.post("/login", include_in_schema=False)
    async def login(request: Request) -> Response:
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > 4096:
                return _error(413, "login form too large")
        token = parse_qs(body.decode("utf-8", "replace")).get("token", [""])[0]
        if config.token is None or not hmac.compare_digest(token.encode(), config.token.encode()):
            return RedirectResponse("/login?failed=1", 303)
        response = RedirectResponse("/", 303)
        response.set_cookie(
            SESSION_COOKIE, session_value(config.token), httponly=True, samesite="strict"
        )
        return response

    @api.get("/api/models", responses=errors(400))
    async def models(
        q: str | None = Query(None, description="words that the identifier, architecture, "
                              "description or a stem must contain"),
        task: str | None = Query(None, description="separation, pitch, notes or beats"),
        stem: str | None = Query(None, description="only models that give this stem"),
        cached: bool | None = Query(None, description="only models whose weights are (not) cached"),
        all: bool = Query(False, description="also models whose plugin is not installed"),
    ) -> list[ModelView]:  # fmt: skip
        """The model catalogue: task, stems, whether the weights are cached, size, scores."""
        rows = await anyio.to_thread.run_sync(service.catalogue.rows)
        words = (q or "").lower().split()
        out: list[ModelView] = []
        for row in rows:
            text = " ".join(
                [row["identifier"], row["architecture"], row["description"] or "", *row["stems"]]
            ).lower()
            if (
                (not all and not row["plugin_installed"])
                or (task and row["task"] != task)
                or (stem and stem not in row["stems"])
                or (cached is not None and row["cached"] != cached)
                or any(w not in text for w in words)
            ):
                continue
            out.append(
                ModelView(
                    identifier=row["identifier"],
                    task=row["task"],
                    architecture=row["architecture"],
                    stems=row["stems"],
                    outputs=row["outputs"],
                    cached=row["cached"],
                    size=row["size"] if row["has_weights"] else 0,
                    metrics=row["metrics"],
                    installed=row["plugin_installed"],
                    ensemble=row["ensemble"],
                    license=row["license"],
                    description=row["description"],
                )
            )
        return out

    @api.get("/api/jobs", responses=errors())
    async def jobs(request: Request) -> list[JobView]:
        """Every job the server keeps, oldest first."""
        root = request.scope.get("root_path", "")
        return [job_view(j, root) for j in store.all()]

    @api.post(
        "/api/jobs",
        status_code=202,
        responses={
            202: {"model": JobView, "description": "queued (`Location`: the job's URL)"},
            **errors(400, 413, 415, 429),
        },
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {
                    "multipart/form-data": {
                        "schema": {
                            "type": "object",
                            "required": ["file", "model"],
                            "properties": {
                                "file": {
                                    "type": "string",
                                    "format": "binary",
                                    "description": "the audio file",
                                },
                                "model": {
                                    "type": "string",
                                    "description": "a catalogue model identifier",
                                },
                                "stems": {
                                    "type": "string",
                                    "description": "comma-separated stems (default: all)",
                                },
                                "format": {
                                    "type": "string",
                                    "enum": list(WEB_FORMATS),
                                    "default": "flac",
                                },
                                "bitrate": {
                                    "type": "string",
                                    "description": "lossy formats, e.g. 192k",
                                },
                            },
                        },
                        "encoding": {"file": {"contentType": "audio/*, video/*"}},
                    }
                },
            }
        },
    )
    async def create_job(request: Request) -> JSONResponse:
        """Upload one file and queue its separation. Send the option fields before the file:
        they are checked as soon as the file part begins, so a bad option costs no upload."""
        if service.uploads >= config.max_concurrent_uploads:
            return _error(429, "too many uploads at once: try again when one has finished")
        if service.workers.pending() >= config.max_queued:
            return _error(429, f"{config.max_queued} jobs are queued already: try again later")
        service.uploads += 1
        try:
            with store.incoming() as (job_id, staging):
                try:
                    job = await _receive_job(request, job_id, staging)
                except UploadError as exc:
                    return _error(exc.status, str(exc))
                store.admit(job, staging)
        finally:
            service.uploads -= 1
        service.workers.submit(job.id)
        view = job_view(job, request.scope.get("root_path", ""))
        return JSONResponse(view.model_dump(), 202, headers={"Location": f"/api/jobs/{job.id}"})

    async def _receive_job(request: Request, job_id: str, staging: Path) -> Job:
        def check_options(fields: dict[str, str]) -> None:
            job_options(fields, service.catalogue)

        upload = await receive_upload(
            request.headers.get("content-type"),
            request.headers.get("content-length"),
            request.stream(),
            staging / "upload",
            config.max_upload,
            on_file=check_options,
        )
        if upload.path is None:
            raise UploadError(400, "no file: send the audio in the form field 'file'")
        options = job_options(upload.fields, service.catalogue)
        name = display_name(upload.file_name)
        if upload.size == 0:
            raise UploadError(400, f"{name}: the file is empty")
        stored = staging / input_file_name(name)
        upload.path.rename(stored)
        await anyio.to_thread.run_sync(check_audio, stored, name)
        return Job(id=job_id, name=name, input_file=stored.name, created=time.time(), **options)

    @api.get("/api/jobs/{job_id}", responses=ERRORS)
    async def get_job(job_id: JobId, request: Request) -> JobView:
        """A job's state, progress and (once done) its stems."""
        return job_view(job_or_404(job_id), request.scope.get("root_path", ""))

    @api.get(
        "/api/jobs/{job_id}/events",
        responses={**ERRORS, 200: {"content": {"text/event-stream": {}},
                                   "description": "`event: job` with a JobView, on every change"}},
        response_class=StreamingResponse,
    )  # fmt: skip
    async def job_events(job_id: JobId, request: Request) -> StreamingResponse:
        """Server-sent events: `event: job` (the job as `GET /api/jobs/{id}` gives it) on every
        change, until it ends (`event: gone` if it is deleted)."""
        job_or_404(job_id)
        root = request.scope.get("root_path", "")

        async def events() -> AsyncIterator[str]:
            yield "retry: 2000\n\n"
            last: str | None = None
            quiet_since = time.monotonic()
            while True:
                job = store.get(job_id)
                if job is None:
                    yield "event: gone\ndata: {}\n\n"
                    return
                text = job_view(job, root).model_dump_json()
                if text != last:
                    yield f"event: job\ndata: {text}\n\n"
                    last, quiet_since = text, time.monotonic()
                if job.state in ENDED:
                    return
                if time.monotonic() - quiet_since > 15:
                    yield ": keep-alive\n\n"
                    quiet_since = time.monotonic()
                if await request.is_disconnected():
                    return
                await anyio.sleep(0.2)

        return StreamingResponse(
            events(),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    @api.get(
        "/api/jobs/{job_id}/stems/{stem}",
        responses={**ERRORS, 206: {"description": "the requested byte range"},
                   200: {"content": {"audio/*": {}}, "description": "the stem file"}},
        response_class=FileResponse,
    )  # fmt: skip
    async def get_stem(
        job_id: JobId,
        stem: str = PathParam(description="a stem name of the job's `stems`"),
        download: bool = Query(False, description="as an attachment (a download), not inline"),
    ) -> FileResponse:
        """A stem's file; byte ranges are served (`Range`), so an audio element can seek."""
        job = job_or_404(job_id)
        output = next((o for o in job.outputs if o.stem == stem), None)
        if job.state != "done" or output is None:
            raise StarletteHTTPException(404, f"job {job_id!r} has no stem {stem!r}")
        path = store.stems_folder(job.id) / output.file
        ext = output.file.rpartition(".")[2]
        name = f"{_track(job)} ({stem}).{ext}"
        return FileResponse(
            path,
            media_type=MEDIA_TYPES.get(ext, "application/octet-stream"),
            headers={
                "Content-Disposition": content_disposition(
                    "attachment" if download else "inline", name
                )
            },
        )

    @api.get(
        "/api/jobs/{job_id}/zip",
        responses={**ERRORS, 200: {"content": {"application/zip": {}},
                                   "description": "every stem, in a folder named after the track"}},
        response_class=FileResponse,
    )  # fmt: skip
    async def get_zip(job_id: JobId) -> FileResponse:
        """Every stem of a finished job in one zip (made on the first request, then kept)."""
        job = job_or_404(job_id)
        if job.state != "done":
            raise StarletteHTTPException(404, f"job {job_id!r} is {job.state}: no stems yet")
        path = await anyio.to_thread.run_sync(make_zip, store, job)
        return FileResponse(
            path,
            media_type="application/zip",
            headers={
                "Content-Disposition": content_disposition("attachment", f"{_track(job)}.zip")
            },
        )

    @api.delete("/api/jobs/{job_id}", responses=ERRORS)
    async def delete_job(job_id: JobId) -> DeleteView:
        """Cancel a queued or running job (a running one stops after its current batch of
        chunks, its partial files removed); delete an ended one with its files."""
        job = job_or_404(job_id)
        if job.state in ACTIVE:
            cancelled = store.transition(
                job_id, ("queued",), state="cancelled", stage="cancelled", finished=time.time()
            )
            if cancelled is not None:
                store.input_path(cancelled).unlink(missing_ok=True)
                return DeleteView(id=job_id, state="cancelled")
            store.cancel_event(job_id).set()
            running = store.transition(job_id, ("running",), stage="cancelling")
            return DeleteView(id=job_id, state=running.state if running else "cancelled")
        store.remove(job_id)
        return DeleteView(id=job_id, state="deleted")

    api.mount("/assets", StaticFiles(directory=STATIC), name="assets")
    app: Any = api
    if config.cors:
        from starlette.middleware.cors import CORSMiddleware

        app = CORSMiddleware(
            app,
            allow_origins=list(config.cors),
            allow_methods=["GET", "POST", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "Range"],
            expose_headers=["Content-Range", "Content-Disposition", "Location"],
        )
    return Guard(app, config.token, api)


def _track(job: Job) -> str:
    stem, dot, _ = job.name.rpartition(".")
    return stem if dot and stem else job.name


def job_options(fields: dict[str, str], catalogue: Catalogue) -> dict[str, Any]:
    """A job's model, stems, format and bitrate from the form, checked (400 on a bad one)."""
    from splifft_core.audio import check_output_format
    from splifft_core.encoding import parse_bitrate

    unknown = sorted(set(fields) - {"model", "stems", "format", "bitrate"})
    if unknown:
        raise UploadError(400, f"unknown form field {unknown[0]!r} (model, stems, format, bitrate)")
    model = fields.get("model", "").strip()
    if not model:
        raise UploadError(400, "no model: send a catalogue model identifier in the field 'model'")
    manifest = catalogue.entry(model).manifest
    stems = [s.strip() for s in fields.get("stems", "").split(",") if s.strip()] or None
    for stem in stems or ():
        if stem not in manifest.all_stems:
            raise UploadError(
                400,
                f"model {model!r} has no stem {stem!r} (it gives {', '.join(manifest.all_stems)})",
            )
    file_format = fields.get("format", "flac").strip() or "flac"
    if file_format not in WEB_FORMATS:
        raise UploadError(400, f"format {file_format!r}: use one of {', '.join(WEB_FORMATS)}")
    bitrate = fields.get("bitrate", "").strip() or None
    try:
        check_output_format(file_format, None, parse_bitrate(bitrate))
    except SplifftError as exc:
        raise UploadError(400, str(exc)) from None
    return {"model": model, "stems": stems, "format": file_format, "bitrate": bitrate}


def check_audio(path: Path, name: str) -> None:
    """The upload is audio we can read, or a 400 naming the client's file."""
    from splifft_core.audio import probe

    try:
        probe(path)
    except SplifftError as exc:
        raise UploadError(400, str(exc).replace(str(path), name)) from None


def make_zip(store: JobStore, job: Job) -> Path:
    from splifft_core.atomic import atomic_path

    path = store.folder(job.id) / "stems.zip"
    if path.is_file():
        return path
    track = _track(job)
    with atomic_path(path) as temp, zipfile.ZipFile(temp, "w") as archive:
        for output in job.outputs:
            compress = zipfile.ZIP_DEFLATED if output.file.endswith(".wav") else zipfile.ZIP_STORED
            archive.write(
                store.stems_folder(job.id) / output.file,
                f"{track}/{output.file}",
                compress_type=compress,
            )
    return path


def openapi_schema() -> dict[str, Any]:
    """The API's OpenAPI document (for the docs' reference page)."""
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        app = create_app(ServerConfig(jobs_dir=Path(folder)))
        schema: dict[str, Any] = app.api.openapi()
    return schema
