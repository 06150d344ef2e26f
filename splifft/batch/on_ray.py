"""`separate_many(..., ray=True)`: the batch as a Ray Data pipeline.

The pending tracks become a dataset; `map_batches` sends them through an actor pool in which
each actor loads the model once (`num_gpus` per actor, as many actors as asked or as the
cluster has room for) and separates one track per call: fetch it (object storage), stream it
through the engine as `splifft run` does, publish the stems and write the track's record from
the actor itself, so that a driver killed mid-job loses no finished track. Ray is imported only
here (`pip install "splifft[ray]"`).
"""

from __future__ import annotations

import dataclasses
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from splifft.batch import BatchOptions, TrackRecord, separate_track
from splifft.batch.locations import BatchInput
from splifft.batch.records import Output
from splifft_core.errors import ConfigError


class SeparateTracks:
    """The actor: one model, loaded once; each call separates its rows' tracks."""

    def __init__(self, model: str, options: dict[str, Any], output: str, settings: str) -> None:
        import splifft_core.api as api

        self.options = BatchOptions(**options)
        self.separator = api.load_separator(model, **self.options.load_options())
        self.output = Output(output)
        self.settings = settings
        self.scratch = Path(tempfile.mkdtemp(prefix="splifft-ray-"))

    def __call__(self, batch: dict[str, Any]) -> dict[str, list[str]]:
        records = []
        for location, subfolder in zip(batch["location"], batch["subfolder"], strict=True):
            item = BatchInput(str(location), str(subfolder))
            record = separate_track(
                self.separator, item, self.output, self.options, self.settings, self.scratch
            )
            records.append(record.model_dump_json())
        return {"record": records}


def run_on_ray(
    items: list[BatchInput],
    output: str,
    options: BatchOptions,
    settings: str,
    model: str,
    *,
    address: str | None = None,
    workers: int | None = None,
    gpus_per_worker: float = 0.0,
    cpus_per_worker: float = 1.0,
    on_record: Callable[[TrackRecord], None] = lambda record: None,
) -> list[TrackRecord]:
    try:
        import ray
    except ImportError:
        raise ConfigError("--ray needs Ray: pip install 'splifft[ray]'") from None
    if not ray.is_initialized():
        ray.init(address=address, ignore_reinit_error=True, log_to_driver=False)
    if workers is None:
        resources = ray.cluster_resources()  # type: ignore[no-untyped-call]
        if gpus_per_worker > 0:
            workers = max(1, int(resources.get("GPU", 0) // gpus_per_worker))
        else:
            workers = max(1, int(resources.get("CPU", 1) // max(cpus_per_worker, 1e-3)))
    rows = [{"location": i.location, "subfolder": i.subfolder} for i in items]
    dataset = ray.data.from_items(rows, override_num_blocks=len(rows))
    separated = dataset.map_batches(
        SeparateTracks,
        fn_constructor_kwargs={
            "model": model,
            "options": dataclasses.asdict(options),
            "output": output,
            "settings": settings,
        },
        batch_size=1,
        concurrency=min(workers, len(rows)),
        num_gpus=gpus_per_worker,
        num_cpus=cpus_per_worker,
    )
    records: list[TrackRecord] = []
    for row in separated.iter_rows():
        record = TrackRecord.model_validate_json(row["record"])
        records.append(record)
        on_record(record)
    return records
