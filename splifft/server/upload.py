"""A streamed `multipart/form-data` upload: the file part goes straight to disk, the size limit
is enforced as the bytes arrive (a `Content-Length` beyond it is refused before any is read),
and text fields are small and few."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from python_multipart.multipart import MultipartParser, parse_options_header

MAX_FIELD_BYTES = 4096
MAX_FIELDS = 16


class UploadError(Exception):
    """A bad upload; `status` is the HTTP status to answer with."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class Upload:
    """What the form held: its text fields, and the one file part (written to `path`)."""

    fields: dict[str, str] = field(default_factory=dict)
    file_name: str | None = None
    """The client's file name, as sent (never used as a path)."""
    path: Path | None = None
    size: int = 0


def boundary_of(content_type: str | None) -> bytes:
    kind, options = parse_options_header(content_type or "")
    if kind != b"multipart/form-data" or not options.get(b"boundary"):
        raise UploadError(415, "expected a multipart/form-data upload (a file field and options)")
    return options[b"boundary"]


async def receive_upload(
    content_type: str | None,
    content_length: str | None,
    body: AsyncIterator[bytes],
    destination: Path,
    max_bytes: int,
    file_field: str = "file",
    on_file: Callable[[dict[str, str]], None] | None = None,
) -> Upload:
    """Parse the form from `body`, writing the `file_field` part to `destination`.

    `on_file(fields)` sees the text fields sent before the file, when the file part begins; an
    `UploadError` it raises ends the upload there (a bad option costs no upload).

    Raises `UploadError` (413 when the body passes `max_bytes`, 400 for a malformed form); the
    caller removes `destination`'s folder on any error.
    """
    boundary = boundary_of(content_type)
    if content_length is not None:
        try:
            declared = int(content_length)
        except ValueError:
            raise UploadError(400, "Content-Length is not a number") from None
        if declared > max_bytes:
            raise UploadError(413, f"upload too large: {declared} bytes, the limit is {max_bytes}")
    upload = Upload()
    state: dict[str, object] = {"name": None, "filename": None, "value": bytearray()}
    header: dict[str, bytearray] = {"field": bytearray(), "value": bytearray()}
    headers: dict[bytes, bytes] = {}
    out: list[IO[bytes]] = []
    errors: list[UploadError] = []

    def on_end() -> None:
        state["ended"] = True

    def on_part_begin() -> None:
        headers.clear()
        state.update(name=None, filename=None, value=bytearray())

    def on_header_field(data: bytes, start: int, end: int) -> None:
        header["field"] += data[start:end]

    def on_header_value(data: bytes, start: int, end: int) -> None:
        header["value"] += data[start:end]

    def on_header_end() -> None:
        headers[bytes(header["field"]).lower()] = bytes(header["value"])
        header["field"], header["value"] = bytearray(), bytearray()

    def on_headers_finished() -> None:
        _, options = parse_options_header(headers.get(b"content-disposition", b""))
        name = options.get(b"name", b"").decode("utf-8", "replace")
        filename = options.get(b"filename")
        state["name"] = name
        if name == file_field and filename is not None:
            if upload.path is not None:
                errors.append(UploadError(400, "one file per job: send several jobs"))
                return
            upload.file_name = filename.decode("utf-8", "replace")
            if on_file is not None and upload.fields:
                try:
                    on_file(dict(upload.fields))
                except UploadError as exc:
                    errors.append(exc)
                    return
            upload.path = destination
            out.append(destination.open("xb"))
            state["filename"] = upload.file_name
        elif filename is not None:
            errors.append(UploadError(400, f"unexpected file field {name!r} (use {file_field!r})"))
        elif len(upload.fields) >= MAX_FIELDS:
            errors.append(UploadError(400, "too many form fields"))

    def on_part_data(data: bytes, start: int, end: int) -> None:
        if errors:
            return
        chunk = data[start:end]
        if state["filename"] is not None:
            out[-1].write(chunk)
            upload.size += len(chunk)
            return
        value = state["value"]
        assert isinstance(value, bytearray)
        value += chunk
        if len(value) > MAX_FIELD_BYTES:
            errors.append(UploadError(400, f"form field {state['name']!r} is too long"))

    def on_part_end() -> None:
        if state["filename"] is not None:
            out[-1].close()
        elif state["name"] and not errors:
            value = state["value"]
            assert isinstance(value, bytearray)
            upload.fields[str(state["name"])] = value.decode("utf-8", "replace")
        state.update(name=None, filename=None)

    parser = MultipartParser(
        boundary,
        {
            "on_part_begin": on_part_begin,
            "on_part_data": on_part_data,
            "on_part_end": on_part_end,
            "on_header_field": on_header_field,
            "on_header_value": on_header_value,
            "on_header_end": on_header_end,
            "on_headers_finished": on_headers_finished,
            "on_end": on_end,
        },
    )
    received = 0
    try:
        async for chunk in body:
            received += len(chunk)
            if received > max_bytes:
                raise UploadError(413, f"upload too large: the limit is {max_bytes} bytes")
            try:
                parser.write(chunk)
            except Exception as exc:  # python-multipart's parse errors
                raise UploadError(400, f"malformed multipart form: {exc}") from None
            if errors:
                raise errors[0]
        try:
            parser.finalize()
        except Exception as exc:
            raise UploadError(400, f"malformed multipart form: {exc}") from None
    finally:
        for f in out:
            f.close()
    if errors:
        raise errors[0]
    if not state.get("ended"):
        raise UploadError(400, "the upload was cut short (no closing multipart boundary)")
    return upload
