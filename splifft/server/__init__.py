"""`splifft serve`: the web app (one page and a JSON API) over the separation engine.

- `splifft.server.jobs`: the job records, their folders under `SPLIFFT_HOME` and the retention rule;
- `splifft.server.workers`: the queue and one worker thread per device;
- `splifft.server.upload`: the streamed multipart upload, its limits enforced as bytes arrive;
- `splifft.server.app`: the ASGI app (FastAPI): routes, token check, the page's files.

Nothing here is imported by `splifft --help`; FastAPI and uvicorn come with `splifft[serve]`.
"""
