"""Our engine on one UVR case, in its own process (the project's venv python).

    python benchmarks/uvr_ours_runner.py '<job json>'

The same weights file as `uvr_peers_runner.py` made (ONNX graph or UVR `.pth`), the same WAV;
MDX-Net with audio-separator's chunking (segment = dim_t, its `overlap`, UVR's trim), VR with
the plugin's own chunked defaults (what `splifft import-uvr` and the manifests set). Prints
one JSON line like the peers' runner: the best call's wall and CPU seconds, the seconds inside
the chunk model, peak RSS. With `out_dir` the track streams from its WAV to WAV stems
(`Separator.separate_file`) instead of going through memory whole.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import soundfile as sf
import torch
from torch import Tensor, nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.uvr_vs_audio_separator import best_call
from splifft_core.config import InferenceConfig
from splifft_core.separator import Separator

RATE = 44100


class ForwardClock:
    """Seconds inside the chunk model (forward hooks)."""

    def __init__(self) -> None:
        self.seconds, self.calls, self._start = 0.0, 0, 0.0

    def attach(self, module: nn.Module) -> None:
        module.register_forward_pre_hook(self._pre)
        module.register_forward_hook(self._post)

    def _pre(self, module: nn.Module, args: tuple[Tensor, ...]) -> None:
        self._start = time.perf_counter()

    def _post(self, module: nn.Module, args: tuple[Tensor, ...], out: Any) -> None:
        self.seconds += time.perf_counter() - self._start
        self.calls += 1


def build(case: dict[str, Any], weights: str) -> Separator:
    p = case["params"]
    if case["family"] == "mdxnet":
        from splifft_plugin_mdxnet import SPEC as MDXNET

        chunk = 1024 * (p["dim_t"] - 1)
        overlap = case.get("overlap")
        inference = InferenceConfig.model_validate(
            {
                # audio-separator's `step`, or (no overlap given) UVR's "Default" overlap, what
                # `splifft import-uvr` and the manifests set
                "hop_size": chunk - p["n_fft"] if overlap is None else int((1 - overlap) * chunk),
                "window_shape": "hann", "padding_mode": "constant",
                "edge_padding": p["n_fft"] // 2, "chunk_layout": "uvr",
                "derived_stems": {"instrum": {"plus": ["mixture"], "minus": ["vocals"]}},
            }
        )  # fmt: skip
        params = {**p, "output_stem_names": ["vocals"], "denoise": False}
        return Separator.from_spec(MDXNET, params, Path(weights), inference=inference)
    from splifft_plugin_vr import SPEC as VR
    from splifft_plugin_vr.uvr import CHUNKED_INFERENCE

    params = {**p, "output_stem_names": ["instrum", "vocals"], "uvr_primary_stem": "Instrumental"}
    inference = InferenceConfig.model_validate(dict(CHUNKED_INFERENCE))
    return Separator.from_spec(VR, params, Path(weights), inference=inference)


def main() -> None:
    job = json.loads(sys.argv[1])
    torch.set_num_threads(int(job.get("threads", 2)))
    separator = build(job["case"], job["weights"])
    clock = ForwardClock()
    clock.attach(separator.model)

    def separate() -> object:
        if job.get("out_dir"):  # streamed: WAV in, WAV stems out, nothing whole in memory
            return separator.separate_file(job["audio_file"], job["out_dir"], file_format="wav")
        mix, rate = sf.read(job["audio_file"], dtype="float32", always_2d=True)
        return separator.separate(torch.from_numpy(mix.T.copy()), rate)

    print(json.dumps(best_call(separate, clock, int(job.get("calls", 1)))))


if __name__ == "__main__":
    main()
