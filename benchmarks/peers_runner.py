# mypy: ignore-errors
"""One peer engine on one case, in its own process (run with the peers' venv python).

    .venv-peers/bin/python benchmarks/peers_runner.py '<job json>'

Modes: `init` builds the reference network (audio-separator's MSST-vendored roformers / TFC-TDF
net, demucs' HTDemucs, splifft 0.0.9's HyperACE BS-RoFormer, the Apollo of the MSST checkout
`job["msst"]`) with seed 0 and saves its state dict, the weights every engine loads;
otherwise runs `engine` (`splifft009`: splifft 0.0.9's `InferenceEngine` waveform pipeline;
`audiosep`: audio-separator's `MDXCSeparator.demix`; `demucs`: `demucs.apply.apply_model`;
`msst`: `demix` of the MSST checkout's `utils/model_utils.py`; the HyperACE case wraps 0.0.9's
network into its waveform chunk model, STFT → masks → ISTFT) and prints one JSON line: wall
and CPU seconds of the separation call, the seconds spent inside the chunk model, and how many
chunks went through it.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import math
import sys
import time
import types
from pathlib import Path

import torch


def _load_cases() -> types.ModuleType:
    """`cases.py` by path: the repository root must stay off `sys.path` here, or `import
    splifft` would find our package instead of the installed 0.0.9."""
    path = Path(__file__).resolve().parent / "cases.py"
    spec = importlib.util.spec_from_file_location("splifft_bench_cases", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["splifft_bench_cases"] = module
    spec.loader.exec_module(module)
    return module


_cases = _load_cases()
RATE, Case, msst_config = _cases.RATE, _cases.Case, _cases.msst_config


def case_from(data: dict) -> Case:
    return Case(**{**data, "stems": tuple(data["stems"])})


def test_audio(seconds: float) -> torch.Tensor:
    n = round(seconds * RATE)
    return 0.1 * torch.randn(2, n, generator=torch.Generator().manual_seed(1))


DEVICE = torch.device("cpu")
"""Where the peers run (`job["device"]`); CUDA timings wait for the device."""
LOW_PRECISION = None
"""`torch.bfloat16` / `torch.float16` when the job asks for autocast, else None."""
MSST_DIR = None
"""The MSST checkout (`job["msst"]`): `utils/model_utils.py` and `models/look2hear`."""


def sync() -> None:
    if DEVICE.type == "cuda":
        torch.cuda.synchronize(DEVICE)


def autocast():
    return torch.autocast(DEVICE.type, LOW_PRECISION, enabled=LOW_PRECISION is not None)


class ForwardClock:
    """Seconds spent inside a module's forward (hooks; the module's own calls only)."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.calls = 0
        self.chunks = 0
        self._start = 0.0

    def attach(self, module: torch.nn.Module) -> None:
        module.register_forward_pre_hook(self._pre)
        module.register_forward_hook(self._post)

    def _pre(self, module, args) -> None:
        sync()
        self._start = time.perf_counter()
        self.chunks += int(args[0].shape[0]) if args[0].dim() == 3 else 1

    def _post(self, module, args, out) -> None:
        sync()
        self.seconds += time.perf_counter() - self._start
        self.calls += 1


def _stub_audio_separator_package() -> None:
    """`audio_separator.separator/__init__` imports onnxruntime; we only need submodules."""
    spec = importlib.util.find_spec("audio_separator")
    root = Path(next(iter(spec.submodule_search_locations))) / "separator"
    module = types.ModuleType("audio_separator.separator")
    module.__path__ = [str(root)]
    sys.modules["audio_separator.separator"] = module


def _stub_torchaudio() -> None:
    """splifft 0.0.9 imports torchaudio only for `melscale_fbanks` (no torchaudio build here):
    the same Slaney filter bank, written after torchaudio's formula."""

    def hz_to_mel(freq: float) -> float:
        f_sp, min_log_hz = 200.0 / 3, 1000.0
        min_log_mel, logstep = min_log_hz / f_sp, math.log(6.4) / 27.0
        if freq >= min_log_hz:
            return min_log_mel + math.log(freq / min_log_hz) / logstep
        return freq / f_sp

    def mel_to_hz(mels: torch.Tensor) -> torch.Tensor:
        f_sp, min_log_hz = 200.0 / 3, 1000.0
        min_log_mel, logstep = min_log_hz / f_sp, math.log(6.4) / 27.0
        freqs = f_sp * mels
        log_t = mels >= min_log_mel
        freqs[log_t] = min_log_hz * torch.exp(logstep * (mels[log_t] - min_log_mel))
        return freqs

    def melscale_fbanks(
        n_freqs, f_min, f_max, n_mels, sample_rate, norm=None, mel_scale="htk"
    ) -> torch.Tensor:
        assert mel_scale == "slaney" and norm == "slaney"
        all_freqs = torch.linspace(0, sample_rate // 2, n_freqs)
        m_pts = torch.linspace(hz_to_mel(f_min), hz_to_mel(f_max), n_mels + 2)
        f_pts = mel_to_hz(m_pts)
        f_diff = f_pts[1:] - f_pts[:-1]
        slopes = f_pts.unsqueeze(0) - all_freqs.unsqueeze(1)
        down = (-1.0 * slopes[:, :-2]) / f_diff[:-1]
        up = slopes[:, 2:] / f_diff[1:]
        fb = torch.max(torch.zeros(1), torch.min(down, up))
        enorm = 2.0 / (f_pts[2 : n_mels + 2] - f_pts[:n_mels])
        return fb * enorm.unsqueeze(0)

    torchaudio = types.ModuleType("torchaudio")
    functional = types.ModuleType("torchaudio.functional")
    functional.melscale_fbanks = melscale_fbanks
    torchaudio.functional = functional
    sys.modules["torchaudio"] = torchaudio
    sys.modules["torchaudio.functional"] = functional


def reference_network(case: Case) -> torch.nn.Module:
    if case.family == "bs_roformer":
        _stub_audio_separator_package()
        from audio_separator.separator.uvr_lib_v5.roformer.bs_roformer import BSRoformer

        return BSRoformer(**case.model)
    if case.family == "mel_roformer":
        _stub_audio_separator_package()
        from audio_separator.separator.uvr_lib_v5.roformer.mel_band_roformer import (
            MelBandRoformer,
        )

        return MelBandRoformer(**case.model)
    if case.family == "mdx23c":
        _stub_audio_separator_package()
        from audio_separator.separator.uvr_lib_v5.tfc_tdf_v3 import TFC_TDF_net
        from ml_collections import ConfigDict

        return TFC_TDF_net(ConfigDict(msst_config(case)), device="cpu")
    if case.family == "htdemucs":
        from demucs.htdemucs import HTDemucs

        return HTDemucs(samplerate=RATE, audio_channels=2, **case.model)
    if case.family == "bs_roformer_hyperace":
        params = splifft009_params(case)  # stubs torchaudio first
        from splifft.models.bs_roformer import BSRoformer

        return BSRoformer(params)
    if case.family == "apollo":
        # MSST builds `model_type: apollo` as `Apollo(**config.model)`
        sys.path.insert(0, str(Path(MSST_DIR).resolve()))
        models = importlib.import_module("models.look2hear.models")
        return models.Apollo(**case.model)
    raise ValueError(case.family)


def splifft009_params(case: Case):
    """splifft 0.0.9's `BSRoformerParams` for a roformer case (HyperACE: its v2 heads)."""
    _stub_torchaudio()
    from splifft.models import bs_roformer as sp

    model = case.model
    mel = case.family == "mel_roformer"
    bands = (
        sp.MelBandsConfig(
            kind="mel",
            stft_n_fft=model["stft_n_fft"],
            num_bands=model["num_bands"],
            sample_rate=RATE,
        )
        if mel
        else sp.FixedBandsConfig(kind="fixed")
    )
    heads = {}
    if case.family == "bs_roformer_hyperace":
        assert model["hyperace_version"] == 2
        heads["mask_estimator"] = sp.HyperAceResidualV2MaskEstimatorConfig(
            kind="hyperace_residual_v2",
            num_hyperedges=model.get("num_hyperedges"),
            num_heads=model.get("hyperace_heads", 8),
        )
    return sp.BSRoformerParams(
        chunk_size=case.chunk_size,
        output_stem_names=case.stems,
        dim=model["dim"],
        depth=model["depth"],
        band_config=bands,
        stft_hop_length=model["stft_hop_length"],
        stereo=True,
        time_transformer_depth=model["time_transformer_depth"],
        freq_transformer_depth=model["freq_transformer_depth"],
        dim_head=model["dim_head"],
        heads=model["heads"],
        norm_output=mel,
        # 0.0.9 counts MLP layers; MSST's mel variant has one more for the same depth
        mask_estimator_depth=model.get("mask_estimator_depth", 1 if mel else 2) + (1 if mel else 0),
        mlp_expansion_factor=model["mlp_expansion_factor"],
        **heads,
    )


def splifft009_network(case: Case, state: dict) -> torch.nn.Module:
    from splifft.models import bs_roformer as sp

    params = splifft009_params(case)
    network = sp.BSRoformer(params)
    result = network.load_state_dict(state, strict=False)
    unexpected = [k for k in result.unexpected_keys if not k.endswith("rotary_embed.freqs")]
    if result.missing_keys or unexpected:
        raise SystemExit(f"0.0.9 weights: missing {result.missing_keys}, unexpected {unexpected}")
    return network.eval(), params


def splifft009_config(case: Case):
    """The parts of a splifft 0.0.9 config its engine and `create_w2w_model` read."""
    ns = types.SimpleNamespace
    model = case.model
    return ns(
        waveform_chunking=ns(
            overlap_ratio=1.0 - 1.0 / case.overlap, window_shape="hann", padding_mode="reflect"
        ),
        transform=ns(
            kind="stft",
            n_fft=model["stft_n_fft"],
            hop_length=model["stft_hop_length"],
            win_length=model["stft_win_length"],
            window_shape="hann",
            normalized=False,
            conv_dtype=None,
        ),
        model=ns(chunk_size=case.chunk_size),
        inference=ns(batch_size=case.batch_size, use_autocast_dtype=LOW_PRECISION),
        masking=ns(add_sub_dtype=None, out_dtype=None),
    )


def splifft009_w2w(case: Case, network, params):
    """0.0.9's chunk model: STFT → network → mask → ISTFT, waveform in, stems out."""
    from splifft import core

    config = splifft009_config(case)
    return core.create_w2w_model(
        network,
        params.input_type,
        params.output_type,
        config.transform,
        2,
        case.chunk_size,
        config.masking,
        io_device=torch.device("cpu"),
        model_device=DEVICE,
    )


def run_splifft009(case: Case, state: dict, audio: torch.Tensor, clock: ForwardClock, warmup):
    from splifft.inference import InferenceEngine

    from splifft import core

    network, params = splifft009_network(case, state)
    network.to(DEVICE)
    config = splifft009_config(case)
    engine = InferenceEngine(
        config=config,
        model=network,
        model_params_concrete=params,
        model_device=DEVICE,
        io_device=torch.device("cpu"),
        model_input_dtype=torch.float32,
    )
    # time the chunk model as it runs (STFT → network → mask → ISTFT)
    original = core.ModelWaveformToWaveform.forward

    def timed(self, chunk):
        sync()
        start = time.perf_counter()
        out = original(self, chunk)
        sync()
        clock.seconds += time.perf_counter() - start
        clock.calls += 1
        clock.chunks += int(chunk.shape[0])
        return out

    if warmup:
        w2w = splifft009_w2w(case, network, params)
        with torch.inference_mode(), autocast():
            w2w(audio[None, :, : case.chunk_size].contiguous().to(DEVICE))
    core.ModelWaveformToWaveform.forward = timed

    def separate():
        stems = len(case.stems)
        generator = engine._stream_waveform_pipeline(
            audio, "frequency_masking", output_indices=tuple(range(stems)), num_stems=stems
        )
        try:
            while True:
                next(generator)
        except StopIteration as stop:
            return stop.value

    return separate


def run_audiosep(case: Case, network, audio: torch.Tensor, clock: ForwardClock, warmup):
    _stub_audio_separator_package()
    from audio_separator.separator.architectures.mdxc_separator import MDXCSeparator
    from ml_collections import ConfigDict

    # `demix` on a bare instance: the attributes `__init__` would set from real model files
    separator = MDXCSeparator.__new__(MDXCSeparator)
    config = msst_config(case)
    separator.logger = logging.getLogger("audio-separator")
    separator.logger.setLevel(logging.WARNING)
    separator.model_data_cfgdict = ConfigDict(config)
    separator.model_run = network
    separator.torch_device = DEVICE
    separator.pitch_shift = 0
    separator.is_roformer = case.family in ("bs_roformer", "mel_roformer")
    separator.override_model_segment_size = False
    separator.segment_size = config["inference"]["dim_t"]
    separator.overlap = case.overlap
    separator.batch_size = case.batch_size
    separator.is_torch_compiled = False
    target = config["training"]["target_instrument"]
    separator.is_primary_stem_main_target = bool(target)
    separator.primary_stem_name = target or case.stems[0]
    separator.secondary_stem_name = "residual"
    mix = audio.numpy()
    if warmup:
        with torch.no_grad(), autocast():
            network(audio[None, :, : case.chunk_size].contiguous().to(DEVICE))
    clock.attach(network)

    def separate():
        with autocast():
            return separator.demix(mix)

    return separate


def _msst_demix():
    """`demix` of the checkout's `utils/model_utils.py`, loaded by path (no `utils` package on
    `sys.path`, which other installed packages may name too)."""
    path = Path(MSST_DIR).resolve() / "utils" / "model_utils.py"
    spec = importlib.util.spec_from_file_location("msst_model_utils", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.demix


def run_msst(case: Case, model, audio: torch.Tensor, clock: ForwardClock, warmup):
    """MSST's own inference loop (`demix`, generic mode) around the chunk model `model`."""
    from ml_collections import ConfigDict

    demix = _msst_demix()
    config = msst_config(case)
    # demix's own autocast is CUDA float16; the job's precision comes from `autocast()` instead
    config["training"]["use_amp"] = False
    config = ConfigDict(config)
    model_type = "apollo" if case.family == "apollo" else "bs_roformer"  # both: generic mode
    mix = audio.numpy()
    if warmup:
        with torch.inference_mode(), autocast():
            model(audio[None, :, : case.chunk_size].contiguous().to(DEVICE))
    clock.attach(model)

    def separate():
        with autocast():
            return demix(config, model, mix, DEVICE, model_type, pbar=False)

    return separate


def run_demucs(case: Case, network, audio: torch.Tensor, clock: ForwardClock, warmup):
    from demucs.apply import apply_model

    if warmup:
        with torch.no_grad(), autocast():
            network(audio[None, :, : case.chunk_size].contiguous().to(DEVICE))
    clock.attach(network)
    overlap = case.overlap_ratio or 0.0

    def separate():
        with torch.no_grad(), autocast():
            return apply_model(
                network,
                audio[None],
                shifts=0,
                split=True,
                overlap=overlap,
                progress=False,
                device=DEVICE,
            )

    return separate


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    global DEVICE, LOW_PRECISION, MSST_DIR
    job = json.loads(sys.argv[1])
    MSST_DIR = job.get("msst")
    torch.set_num_threads(int(job.get("threads", 2)))
    DEVICE = torch.device(job.get("device", "cpu"))
    precision = job.get("precision", "float32")
    LOW_PRECISION = {"bfloat16": torch.bfloat16, "float16": torch.float16}.get(precision)
    case = case_from(job["case"])
    if job["engine"] == "init":
        torch.manual_seed(0)
        network = reference_network(case)
        torch.save(network.state_dict(), job["weights"])
        print(json.dumps({"params": sum(p.numel() for p in network.parameters())}))
        return
    state = torch.load(job["weights"], weights_only=True)
    audio = test_audio(job["seconds"])
    clock = ForwardClock()
    if job["engine"] == "splifft009":
        separate = run_splifft009(case, state, audio, clock, job["warmup"])
    elif case.family == "bs_roformer_hyperace":  # MSST's demix around 0.0.9's chunk model
        network, params = splifft009_network(case, state)
        network.to(DEVICE)
        separate = run_msst(
            case, splifft009_w2w(case, network, params), audio, clock, job["warmup"]
        )
    else:
        if case.family == "mdx23c":
            _stub_audio_separator_package()
        network = reference_network(case)
        network.load_state_dict(state)
        network.to(DEVICE).eval()
        runner = {"audiosep": run_audiosep, "demucs": run_demucs, "msst": run_msst}[job["engine"]]
        separate = runner(case, network, audio, clock, job["warmup"])
    del state
    if DEVICE.type == "cuda":
        torch.cuda.reset_peak_memory_stats(DEVICE)
    before = rss_mib()
    # the best of several calls: the machine is shared, bursts of other work only add time
    best = {}
    for _ in range(int(job.get("calls", 1))):
        clock.seconds, clock.calls, clock.chunks = 0.0, 0, 0
        cpu, wall = time.process_time(), time.perf_counter()
        separate()
        sync()
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        if not best or wall < best["wall"]:
            best = {"wall": wall, "cpu": cpu, "forward": clock.seconds}
            best.update(calls=clock.calls, chunks=clock.chunks, rss_before_mib=before)
    if DEVICE.type == "cuda":
        best["gpu_peak_mib"] = torch.cuda.max_memory_allocated(DEVICE) / 2**20
    print(json.dumps(best))


if __name__ == "__main__":
    main()
