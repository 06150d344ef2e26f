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


class _FormReader:
    """python-multipart's callbacks: the file part to disk, text fields kept (small)."""

    def __init__(
        self,
        destination: Path,
        file_field: str,
        on_file: Callable[[dict[str, str]], None] | None,
    ) -> None:
        self.destination = destination
        self.file_field = file_field
        self.on_file = on_file
        self.upload = Upload()
        self.errors: list[UploadError] = []
        self.ended = False
        self.headers: dict[bytes, bytes] = {}
        self.header_field = bytearray()
        self.header_value = bytearray()
        self.part_name: str | None = None
        self.part_value = bytearray()
        self.file: IO[bytes] | None = None
        """The open file while its part streams."""

    def callbacks(self) -> dict[str, Callable[..., None]]:
        return {
            "on_part_begin": self.on_part_begin,
            "on_part_data": self.on_part_data,
            "on_part_end": self.on_part_end,
            "on_header_field": self.on_header_field,
            "on_header_value": self.on_header_value,
            "on_header_end": self.on_header_end,
            "on_headers_finished": self.on_headers_finished,
            "on_end": self.on_end,
        }

    def on_end(self) -> None:
        self.ended = True

    def on_part_begin(self) -> None:
        self.headers.clear()
        self.part_name, self.part_value = None, bytearray()

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self.header_field += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self.header_value += data[start:end]

    def on_header_end(self) -> None:
        self.headers[bytes(self.header_field).lower()] = bytes(self.header_value)
        self.header_field, self.header_value = bytearray(), bytearray()

    def on_headers_finished(self) -> None:
        _, options = parse_options_header(self.headers.get(b"content-disposition", b""))
        name = options.get(b"name", b"").decode("utf-8", "replace")
        filename = options.get(b"filename")
        upload = self.upload
        self.part_name = name
        if name == self.file_field and filename is not None:
            if upload.path is not None:
                self.errors.append(UploadError(400, "one file per job: send several jobs"))
                return
            upload.file_name = filename.decode("utf-8", "replace")
            if self.on_file is not None and upload.fields:
                try:
                    self.on_file(dict(upload.fields))
                except UploadError as exc:
                    self.errors.append(exc)
                    return
            upload.path = self.destination
            self.file = self.destination.open("xb")
        elif filename is not None:
            self.errors.append(
                UploadError(400, f"unexpected file field {name!r} (use {self.file_field!r})")
            )
        elif len(upload.fields) >= MAX_FIELDS:
            self.errors.append(UploadError(400, "too many form fields"))

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self.errors:
            return
        chunk = data[start:end]
        if self.file is not None:
            self.file.write(chunk)
            self.upload.size += len(chunk)
            return
        self.part_value += chunk
        if len(self.part_value) > MAX_FIELD_BYTES:
            self.errors.append(UploadError(400, f"form field {self.part_name!r} is too long"))

    def on_part_end(self) -> None:
        if self.file is not None:
            self.close()
        elif self.part_name and not self.errors:
            self.upload.fields[self.part_name] = self.part_value.decode("utf-8", "replace")
        self.part_name = None

    def close(self) -> None:
        if self.file is not None:
            self.file.close()
            self.file = None


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
    form = _FormReader(destination, file_field, on_file)
    parser = MultipartParser(boundary, form.callbacks())  # type: ignore[arg-type]
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
            if form.errors:
                raise form.errors[0]
        try:
            parser.finalize()
        except Exception as exc:
            raise UploadError(400, f"malformed multipart form: {exc}") from None
    finally:
        form.close()
    if form.errors:
        raise form.errors[0]
    if not form.ended:
        raise UploadError(400, "the upload was cut short (no closing multipart boundary)")
    return form.upload
