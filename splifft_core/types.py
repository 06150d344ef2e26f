"""Types for documentation and data validation (for use in pydantic).

They provide semantic meaning only and we additionally use
[NewType][typing.NewType] for strong semantic distinction to avoid mixing up
different kinds of tensors.

Note that no code implementations shall be placed here.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any, Literal, NewType, TypeAlias

from annotated_types import Ge, Gt, Lt

if TYPE_CHECKING:
    from torch import Tensor
else:
    # Keeps `import splifft_core.types` free of torch: a NewType's supertype is
    # only read by type checkers.
    Tensor = "torch.Tensor"

StrPath: TypeAlias = str | os.PathLike[str]
BytesPath: TypeAlias = bytes | os.PathLike[bytes]

Gt0: TypeAlias = Annotated[int, Gt(0)]
Ge0: TypeAlias = Annotated[int, Ge(0)]

ModelType: TypeAlias = str
"""The type of the model, e.g. `bs_roformer`, `demucs`"""

ModelInputType: TypeAlias = Literal["waveform", "spectrogram", "waveform_and_spectrogram"]
ModelOutputType: TypeAlias = Literal[
    "waveform", "spectrogram_mask", "spectrogram", "waveform_and_spectrogram"
]

ChunkSize: TypeAlias = Gt0
"""The length of an audio segment, in samples, processed by the model at one time.

A full audio track is often too long to fit into GPU, instead we process it in fixed-size chunks.
A larger chunk size may allow the model to capture more temporal context at the cost of increased
memory usage.
"""

HopSize: TypeAlias = Gt0
"""The step size, in samples, between the start of consecutive chunks.

To avoid artifacts at the edges of chunks, we process them with overlap. The hop size is the
distance we "slide" the chunking window forward. `HopSize < ChunkSize` implies overlap and the
overlap amount is `ChunkSize - HopSize`.
"""

Dropout: TypeAlias = Annotated[float, Ge(0.0)]

ModelOutputStemName: TypeAlias = str
"""The output stem name, e.g. `vocals`, `drums`, `bass`, etc."""

Samples: TypeAlias = Gt0
"""Number of samples in the audio signal."""

SampleRate: TypeAlias = Gt0
"""The number of samples of audio recorded per second (hertz).

See [concepts](../concepts.md#introduction) for more details.
"""

Channels: TypeAlias = Gt0
"""Number of audio streams.

- 1: Mono audio
- 2: Stereo (left and right). Models are usually trained on stereo audio.
"""

FileFormat: TypeAlias = Literal["flac", "wav", "ogg"]

BitRate: TypeAlias = Literal[8, 16, 24, 32, 64]
"""Number of bits of information in each sample.

It determines the dynamic range of the audio signal: the difference between the quietest and
loudest possible sounds.

- 16-bit: Standard for CD audio: ~96 dB dynamic range.
- 24-bit: Common in professional audio, allowing for more headroom during mixing
- 32-bit float: Standard in digital audio workstations (DAWs) and deep learning models.
  The amplitude is represented by a floating-point number, which prevents clipping (distortion
  from exceeding the maximum value). This library primarily works with fp32 tensors.
"""

RawAudioTensor = NewType("RawAudioTensor", Tensor)
"""Time domain tensor of audio samples.
Shape (channels, samples)"""

NormalizedAudioTensor = NewType("NormalizedAudioTensor", Tensor)
"""A mixture tensor that has been normalized using [on-the-fly statistics][splifft_core.types.RawAudioTensor].
Shape (channels, samples)"""

ComplexSpectrogram = NewType("ComplexSpectrogram", Tensor)
r"""A complex-valued representation of audio's frequency content over time via the STFT.

Shape (channels, frequency bins, time frames, 2)

See [concepts](../concepts.md#complex-spectrogram) for more details.
"""

HybridModelInput: TypeAlias = tuple[ComplexSpectrogram, RawAudioTensor | NormalizedAudioTensor]
"""Input for hybrid models that require both spectrogram and waveform."""

WindowShape: TypeAlias = Literal["hann", "hamming", "triangular", "linear_fade", "rectangular"]
"""The shape of the window function applied to each chunk before computing the STFT."""

FftSize: TypeAlias = Gt0
"""The number of frequency bins in the STFT, controlling the frequency resolution."""

Bands: TypeAlias = Tensor
"""Groups of adjacent frequency bins in the spectrogram."""

BatchSize: TypeAlias = Gt0
"""The number of chunks processed simultaneously by the GPU.

Increasing the batch size can improve GPU utilisation and speed up training, but it requires more
memory.
"""

ChunkLayout: TypeAlias = Literal["splifft", "msst", "centered_tail", "uvr"]
"""Where chunks go and how the track's edges are handled.

- `splifft`: pad `edge_padding` (default: the overlap) before and at least as much after the track
  with the padding mode, full-size chunks every hop; every window sample counts.
- `msst`: Music-Source-Separation-Training's `demix`: reflect-pad `chunk - hop` on both sides only
  when the track is longer than twice that; the last chunk is partial and padded by reflecting
  itself (zeros when it is not longer than half a chunk); the first chunk has no fade-in and the
  last no fade-out.
- `centered_tail`: no edge padding; a partial last chunk is centred in a full chunk with real
  neighbouring samples (zeros outside the track) and its output centre-trimmed, as
  `demucs.apply.apply_model(split=True)` does.
- `uvr`: Ultimate Vocal Remover's MDX-Net `demix`: zeros of `edge_padding` before the track and,
  after it, up to a whole number of `chunk - 2 * edge_padding` plus `edge_padding`; a chunk every
  hop from the start to the padded end, zero-filled past it, and a chunk cut by the end weighted
  by the window of its own length (UVR's `np.hanning(cut)`), not the start of the full one.
"""

PaddingMode: TypeAlias = Literal["reflect", "constant", "replicate"]
"""The method used to pad the audio before chunking, crucial for handling the edges of the audio signal.

- `reflect`: Pads the signal by reflecting the audio at the boundary. This creates a smooth
  continuation and often yields the best results for music.
- `constant`: Pads with zeros. Simpler, but can introduce silence at the edges.
- `replicate`: Repeats the last sample at the edge.
"""

ChunkDuration: TypeAlias = Annotated[float, Gt(0.0)]
"""The length of an audio segment, in seconds, processed by the model at one time.

Equivalent to chunk size divided by the sample rate.
"""

OverlapRatio: TypeAlias = Annotated[float, Ge(0.0), Lt(1.0)]
r"""The fraction of a chunk that overlaps with the next one.

The relationship with hop size is:
$$
\text{hop\_size} = \text{chunk\_size} \cdot (1 - \text{overlap\_ratio})
$$

- A ratio of `0.0` means no overlap (hop_size = chunk_size).
- A ratio of `0.5` means 50% overlap (hop_size = chunk_size / 2).
- A higher overlap ratio increases computational cost as more chunks are processed, but it can
  lead to smoother results by averaging more predictions for each time frame.
"""

Padding: TypeAlias = Gt0
"""Samples to add to the beginning and end of each chunk.

- To ensure that the very beginning and end of a track can be centerd within a chunk, we often
  may add "reflection padding" or "zero padding" before chunking.
- To ensure that the last chunk is full-size, we may pad the audio so its length is a multiple
  of the hop size.
"""

PaddedChunkedAudioTensor = NewType("PaddedChunkedAudioTensor", Tensor)
"""A batch of audio chunks from a padded source.
Shape (batch size, channels, chunk size)"""

NumModelStems: TypeAlias = Gt0
"""The number of stems the model outputs. This should be the length of
[splifft_core.models.ModelParamsLike.output_stem_names]."""

SeparatedSpectrogramTensor = NewType("SeparatedSpectrogramTensor", Tensor)
"""A batch of separated spectrograms.
Shape (b, n, f*s, t, c=2)"""

SeparatedChunkedTensor = NewType("SeparatedChunkedTensor", Tensor)
"""A batch of separated audio chunks from the model.
Shape (batch size, number of stems, channels, chunk size)"""

WindowTensor = NewType("WindowTensor", Tensor)
"""A 1D tensor representing a window function.
Shape (chunk size)"""

RawSeparatedTensor = NewType("RawSeparatedTensor", Tensor)
"""The final, stitched, raw-domain separated audio.
Shape (number of stems, channels, samples)"""

PreprocessFn: TypeAlias = Callable[[RawAudioTensor | NormalizedAudioTensor], tuple[Tensor, ...]]
"""Turns a batch of chunks `(batch, channels, chunk_size)` into the network's positional inputs."""

PostprocessFn: TypeAlias = Callable[[Any, Tensor, tuple[Tensor, ...]], SeparatedChunkedTensor]
"""`(network_output, chunk_batch, preprocessed_inputs) -> SeparatedChunkedTensor`.

Turns the network's output back into waveforms `(batch, stems, channels, chunk_size)`, e.g. by
applying a spectrogram mask to the mixture spectrogram and taking the ISTFT.
"""

EnsembleType: TypeAlias = Literal[
    "avg_wave",
    "median_wave",
    "min_wave",
    "max_wave",
    "avg_fft",
    "median_fft",
    "min_fft",
    "max_fft",
    "uvr_max_spec",
    "uvr_min_spec",
    "ensemble_wav",
]
"""How an ensemble combines its members' estimates of a stem (`splifft_core.ensemble`): MSST's
eight types and audio-separator's three more."""

Task: TypeAlias = Literal["separation", "pitch", "notes", "beats"]
"""What a model outputs: stems (`separation`), a fundamental-frequency track (`pitch`, e.g.
PESTO), note events (`notes`, e.g. Basic Pitch) or beat and downbeat times (`beats`, e.g.
Beat This!). Analysis models share the chunked loop up to the network, which returns
frame-level activations instead of stems."""

FrameHop: TypeAlias = Gt0
"""The step, in samples, between two frames of an analysis model's activations (e.g. 441 at
22 050 Hz: 50 frames per second)."""

ChunkBorder: TypeAlias = Ge0
"""Frames dropped at each edge of a chunk's activations, where the network lacks context; the
chunks overlap by twice this so that the kept frames tile the track."""

Identifier: TypeAlias = str
"""`{architecture}-{first_author}-{unique_name_short}`, use underscore if it has spaces"""

Instrument: TypeAlias = Literal[
    "instrum",
    "vocals",
    "drums",
    "bass",
    "other",
    "piano",
    "lead_vocals",
    "back_vocals",
    "guitar",
    "vocals1",
    "vocals2",
    "strings",
    "wind",
    "music",
    "sfx",
    "speech",
    "restored",
    "back",
    "lead",
    "back-instrum",
    "kick",
    "snare",
    "toms",
    "hh",
    "cymbals",
    "hh-cymbals",
    "male",
    "female",
    "violin",
    "dry",
    "reverb",
    "clean",
    "crowd",
    "denoised",
    "noise",
    "vocals_dry",
    "dereverb",
    "harmonic",
    "percussive",
    "center",
    "side",
    "aspiration",
    "no_reverb",
    "no_noise",
    "no_crowd",
    "other_instrumental",
    "karaoke",
]
"""Stem names used by the community's models (extended with `harmonic`, `percussive`, …)."""

Metric: TypeAlias = Literal[
    "sdr",
    "si_sdr",
    "l1_freq",
    "log_wmse",
    "aura_stft",
    "aura_mrstft",
    "bleedless",
    "fullness",
]

Sdr: TypeAlias = float
r"""Signal-to-Distortion Ratio (decibels). Higher is better.

Measures the ratio of the power of clean reference signal to the power of all other error
components (interference, artifacts, and spatial distortion).

Definition:
$$
\text{SDR} = 10 \log_{10} \frac{\|\mathbf{s}\|^2}{\|\mathbf{s} - \mathbf{\hat{s}}\|^2},
$$
where:

- $\mathbf{s}$: ground truth source signal
- $\mathbf{\hat{s}}$: estimated source signal produced by the model
- $\|\cdot\|^2$: squared L2 norm (power) of the signal
"""

SiSdr: TypeAlias = float
r"""Scale-Invariant SDR (SI-SDR) is invariant to scaling errors (decibels). Higher is better.

It projects the estimate onto the reference to find the optimal scaling factor $\alpha$, creating
a scaled reference that best matches the estimate's amplitude.

- Optimal scaling factor: $\alpha = \frac{\langle\mathbf{\hat{s}}, \mathbf{s}\rangle}{\|\mathbf{s}\|^2}$
- Scaled reference: $\mathbf{s}_\text{target} = \alpha \cdot \mathbf{s}$
- Error: $\mathbf{e} = \mathbf{\hat{s}} - \mathbf{s}_\text{target}$
- $\text{SI-SDR} = 10 \log_{10} \frac{\|\mathbf{s}_\text{target}\|^2}{\|\mathbf{e}\|^2}$
"""

L1Norm: TypeAlias = float
r"""L1 norm (mean absolute error) between two signals (dimensionless). Lower is better.

Measures the average absolute difference between the reference and estimated signals.

- Time domain: $\mathcal{L}_\text{L1} = \frac{1}{N} \sum_{n=1}^{N} |\mathbf{s}[n] - \mathbf{\hat{s}}[n]|$,
- Frequency domain: $\mathcal{L}_\text{L1Freq} = \frac{1}{\text{MK}}\sum_{m=1}^{M} \sum_{k=1}^{K}
  \left||S(m, k)| - |\hat{S}(m, k)|\right|$
"""

DbDifferenceMel: TypeAlias = float
r"""Difference in the dB-scaled mel spectrogram.
$$
\mathbf{D}(m, k) = \text{dB}(|\hat{S}_\text{mel}(m, k)|) - \text{dB}(|S_\text{mel}(m, k)|)
$$
"""

Bleedless: TypeAlias = float
r"""A metric to quantify the amount of "bleeding" from other sources. Higher is better.

Measures the average energy of the parts of the mel spectrogram that are louder than the
reference. A high value indicates that the estimate contains unwanted energy (bleed) from other
sources:
$$
\text{Bleed} = \text{mean}(\mathbf{D}(m, k)) \quad \forall \quad \mathbf{D}(m, k) > 0
$$
"""

Fullness: TypeAlias = float
r"""A metric to quantify how much of the original source is missing. Higher is better.

Complementary to [Bleedless][splifft_core.types.Bleedless].
Measures the average energy of the parts of the mel spectrogram that are quieter than the
reference. A high value indicates that parts of the target loss were lost during the separation,
indicating that more of the original source's character is preserved.
$$
\text{Fullness} = \text{mean}(|\mathbf{D}(m, k)|) \quad \forall \quad \mathbf{D}(m, k) < 0
$$
"""
