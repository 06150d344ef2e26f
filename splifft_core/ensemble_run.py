"""Several models over one track, block by block in lockstep, combined per stem (an ensemble).

Each member runs its own engine at its own rate and chunking (`Separator.stream`); its blocks
are brought to the ensemble's rate (the first member's) with a streaming soxr resampler and
queued; whenever every member has samples past the last output, that aligned span is combined
(`splifft_core.ensemble`: the waveform types per sample, the spectral types per STFT frame, with
the frames that straddle a block edge carried over). Memory is the members' own (their models
and chunk buffers) plus one block per member and `N_FFT` samples of carried frames, never the
track: the result equals `splifft ensemble` on the members' stems (float32 rounding aside).

Stems are matched by name, with the catalogue's synonyms (`instrumental`, `accompaniment` →
`instrum`); an ensemble gives the stems every member gives.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor

from splifft_core.audio import FileSource, Resampler, map_channels, resample
from splifft_core.config import InferenceConfig
from splifft_core.engine import AudioSource, ProgressCallback, TensorSource
from splifft_core.ensemble import (
    HOP,
    N_FFT,
    SPECTRAL_TYPES,
    WAVE_TYPES,
    Weights,
    check_type,
    check_weights,
    combine_spectra,
    combine_waves,
    hann_window,
)
from splifft_core.errors import ConfigError
from splifft_core.separator import Separator, separate_audio, separate_to_files

STEM_SYNONYMS: dict[str, str] = {"instrumental": "instrum", "accompaniment": "instrum"}
"""Names of one stem across the catalogue → the name an ensemble gives it."""


def canonical_stem(name: str) -> str:
    return STEM_SYNONYMS.get(name, name)


class SpectralStream:
    """The spectral ensemble of aligned `(members, channels, n)` blocks, streamed.

    Frames are the offline `splifft_core.ensemble.stft`'s (centred, zero-padded, Hann, `N_FFT`,
    `HOP`): frame `t` covers padded samples `[t·HOP, t·HOP + N_FFT)`. A frame is combined once
    every member's samples under it are in; an output sample is final once no later frame
    covers it, then divided by the summed squared window as the offline inverse does.
    """

    def __init__(self, kind: str, weights: Weights, channels: int, length: int) -> None:
        self.kind = kind
        self.weights = weights
        self.length = length
        self.count = 1 + length // HOP
        """Frames of the whole track."""
        self.end = N_FFT + HOP * (self.count - 1)
        """Padded samples the frames cover."""
        self.window = hann_window()
        self.pending: np.ndarray | None = None
        """Padded input samples from `pending_start`, `(members, channels, n)` float64."""
        self.pending_start = 0
        self.next_frame = 0
        self.acc = np.zeros((channels, 0))
        self.norm = np.zeros(0)
        self.acc_start = 0
        """Padded position of `acc[..., 0]`."""
        self.emitted = 0
        """Track samples already returned."""
        self.lead_done = False

    def push(self, block: np.ndarray, last: bool) -> np.ndarray:
        """Add the next aligned block (`last`: the track ends after it); the output samples that
        became final, `(channels, k)` float64, in track order."""
        block = np.asarray(block, dtype=np.float64)
        if not self.lead_done:  # the centring's zeros before the track
            block = np.concatenate([np.zeros((*block.shape[:2], N_FFT // 2)), block], -1)
            self.lead_done = True
        if last:
            block = np.concatenate([block, np.zeros((*block.shape[:2], N_FFT // 2))], -1)
        self.pending = block if self.pending is None else np.concatenate([self.pending, block], -1)
        available = self.pending_start + self.pending.shape[-1]
        ready = self.count if last else min(self.count, (available - N_FFT) // HOP + 1)
        if ready > self.next_frame:
            self._add_frames(range(self.next_frame, ready))
            self.next_frame = ready
            keep_from = self.next_frame * HOP - self.pending_start
            self.pending = self.pending[..., keep_from:]
            self.pending_start += keep_from
        final = self.end if self.next_frame >= self.count else self.next_frame * HOP
        return self._emit(final)

    def _add_frames(self, frames: range) -> None:
        assert self.pending is not None
        starts = np.asarray(frames) * HOP - self.pending_start
        windows = self.pending[..., starts[:, None] + np.arange(N_FFT)]  # (m, c, t, N_FFT)
        spec = np.swapaxes(np.fft.rfft(windows * self.window, axis=-1), -1, -2)
        combined = combine_spectra(self.kind, spec, self.weights)  # (c, bins, t)
        shaped = np.fft.irfft(np.swapaxes(combined, -1, -2), n=N_FFT, axis=-1) * self.window
        stop = frames[-1] * HOP + N_FFT
        grow = stop - (self.acc_start + self.acc.shape[-1])
        if grow > 0:
            self.acc = np.concatenate([self.acc, np.zeros((self.acc.shape[0], grow))], -1)
            self.norm = np.concatenate([self.norm, np.zeros(grow)])
        for i, t in enumerate(frames):
            at = t * HOP - self.acc_start
            self.acc[..., at : at + N_FFT] += shaped[:, i]
            self.norm[at : at + N_FFT] += self.window**2

    def _emit(self, final: int) -> np.ndarray:
        """Track samples whose padded position is below `final`, normalized, then dropped."""
        half = N_FFT // 2
        upto = final - self.acc_start
        out = self.acc[..., :upto].copy()
        norm = self.norm[:upto]
        nonzero = norm > np.finfo(np.float32).tiny
        out[..., nonzero] /= norm[nonzero]
        lo = self.acc_start
        self.acc, self.norm, self.acc_start = self.acc[..., upto:], self.norm[upto:], final
        # padded position q is track sample q - N_FFT / 2; UVR's types keep whole hops only
        stop = HOP * (self.count - 1) if self.kind.startswith("uvr_") else self.length
        first, last = max(self.emitted, lo - half), min(stop, final - half)
        kept = out[..., first + half - lo : last + half - lo] if last > first else out[..., :0]
        self.emitted = max(self.emitted, last)
        if final >= self.end and self.emitted < self.length:  # UVR's silent tail
            kept = np.concatenate([kept, np.zeros((out.shape[0], self.length - self.emitted))], -1)
            self.emitted = self.length
        return kept


@dataclass
class _Queue:
    """One member's output at the ensemble's rate: stems × channels queued from `start`."""

    stems: list[str]
    """The member's names of the requested stems."""
    resampler: Resampler | None
    data: np.ndarray
    done: bool = False


@dataclass
class EnsembleSeparator:
    """Several separators combined per stem; it separates like one `Separator` (`separate`,
    `separate_file`, `stream`), at the first member's rate."""

    members: tuple[Separator, ...]
    kind: str
    weights: tuple[float, ...]
    stems: tuple[str, ...]
    """The stems it gives (canonical names)."""
    identifier: str = "ensemble"
    inference: InferenceConfig = field(default_factory=InferenceConfig)
    """No derived stems of its own (the members have theirs)."""

    @classmethod
    def build(
        cls,
        members: Sequence[Separator],
        kind: str,
        weights: Weights = None,
        *,
        stems: Sequence[str] | None = None,
        identifier: str = "ensemble",
    ) -> EnsembleSeparator:
        kind = check_type(kind)
        if kind not in WAVE_TYPES and kind not in SPECTRAL_TYPES:
            raise ConfigError(
                f"--ensemble {kind} needs each model's whole track first; run the models, then "
                f"`splifft ensemble --type {kind}` on their stems"
            )
        if len(members) < 2:
            raise ConfigError("an ensemble needs at least two models")
        w = tuple(float(x) for x in check_weights(weights, len(members)))
        offered = [{canonical_stem(s): s for s in m.stems} for m in members]
        common = [s for s in offered[0] if all(s in o for o in offered[1:])]
        if stems:
            for stem in stems:
                lacking = [
                    m.identifier for m, o in zip(members, offered, strict=True) if stem not in o
                ]
                if lacking:
                    raise ConfigError(
                        f"stem {stem!r} is not given by {', '.join(lacking)} (the ensemble "
                        f"gives {', '.join(common) or 'no common stem'})"
                    )
            chosen = tuple(canonical_stem(s) for s in stems)
        else:
            chosen = tuple(common)
        if not chosen:
            names = "; ".join(f"{m.identifier}: {', '.join(m.stems)}" for m in members)
            raise ConfigError(f"the models give no stem in common ({names})")
        return cls(tuple(members), kind, w, chosen, identifier)

    @property
    def sample_rate(self) -> int:
        return self.members[0].sample_rate

    @property
    def channels(self) -> int:
        return max(m.channels for m in self.members)

    @property
    def model_stems(self) -> tuple[str, ...]:
        return self.stems

    separate = separate_audio
    """Separate a `(channels, samples)` tensor (or a file), as `Separator.separate`."""
    separate_file = separate_to_files
    """Separate an audio file into stem files, as `Separator.separate_file`."""

    def stream(
        self,
        source: AudioSource,
        *,
        stems: Sequence[str] | None = None,
        on_progress: ProgressCallback | None = None,
    ) -> Iterable[tuple[int, dict[str, Tensor]]]:
        """Combined `(offset, {stem: (channels, n)})` blocks of `source` (at this rate)."""
        requested = tuple(canonical_stem(s) for s in stems) if stems else self.stems
        unknown = [s for s in requested if s not in self.stems]
        if unknown:
            raise ConfigError(
                f"the ensemble gives {', '.join(self.stems)}, not {', '.join(unknown)}"
            )
        with contextlib.ExitStack() as stack:
            yield from self._combined(source, requested, stack, on_progress)

    def _member_source(
        self, member: Separator, source: AudioSource, stack: contextlib.ExitStack
    ) -> AudioSource:
        if member.sample_rate == self.sample_rate and member.channels == source.channels:
            return source
        if isinstance(source, FileSource):  # the file again, at this member's rate: on disk
            return stack.enter_context(
                FileSource(
                    source.path,
                    member.sample_rate,
                    member.channels,
                    downmix=True,
                    stream=source.stream,
                )
            )
        whole = source.read(0, source.length).numpy().T  # in memory already
        mapped = map_channels(whole, member.channels, True, "input audio")
        back = resample(mapped, self.sample_rate, member.sample_rate)
        return TensorSource(torch.from_numpy(np.ascontiguousarray(back.T)))

    def _combined(
        self,
        source: AudioSource,
        requested: tuple[str, ...],
        stack: contextlib.ExitStack,
        on_progress: ProgressCallback | None,
    ) -> Iterator[tuple[int, dict[str, Tensor]]]:
        length, channels = source.length, self.channels
        done = [0] * len(self.members)
        totals = [1] * len(self.members)

        def progress(i: int) -> ProgressCallback:
            def report(step: int, total: int) -> None:
                done[i], totals[i] = step, total
                if on_progress is not None:
                    on_progress(sum(done), sum(totals))

            return report

        streams: list[Iterator[tuple[int, dict[str, Tensor]]]] = []
        queues: list[_Queue] = []
        for i, member in enumerate(self.members):
            names = {canonical_stem(s): s for s in member.stems}
            own = [names[s] for s in requested]
            member_source = self._member_source(member, source, stack)
            streams.append(iter(member.stream(member_source, stems=own, on_progress=progress(i))))
            resampler = (
                Resampler(member.sample_rate, self.sample_rate, len(own) * member.channels)
                if member.sample_rate != self.sample_rate
                else None
            )
            queues.append(_Queue(own, resampler, np.zeros((len(own), channels, 0), np.float32)))
            stack.callback(getattr(streams[-1], "close", lambda: None))
        spectral = {
            s: SpectralStream(self.kind, self.weights, channels, length)
            for s in requested
            if self.kind in SPECTRAL_TYPES
        }
        position = 0  # track samples combined so far
        out_position = 0
        while position < length:
            lagging = [k for k, q in enumerate(queues) if q.data.shape[-1] == 0]
            if lagging:  # one more block from each member that has nothing queued
                for k in lagging:
                    self._pull(k, streams[k], queues[k], length - position)
                continue
            n = min(q.data.shape[-1] for q in queues)
            stacked = np.stack([q.data[..., :n] for q in queues])  # (members, stems, ch, n)
            for q in queues:
                q.data = q.data[..., n:]
            last = position + n >= length
            blocks: dict[str, Tensor] = {}
            for k, stem in enumerate(requested):
                if self.kind in WAVE_TYPES:
                    combined = combine_waves(self.kind, stacked[:, k], self.weights)
                else:
                    combined = spectral[stem].push(stacked[:, k], last)
                blocks[stem] = torch.from_numpy(np.ascontiguousarray(combined, dtype=np.float32))
            position += n
            size = next(iter(blocks.values())).shape[-1]
            if size:
                yield out_position, blocks
                out_position += size

    def _pull(
        self,
        index: int,
        stream: Iterator[tuple[int, dict[str, Tensor]]],
        queue: _Queue,
        remaining: int,
    ) -> None:
        """The next block of one member, at the ensemble's rate and channel count, queued."""
        member = self.members[index]
        count = len(queue.stems)
        try:
            _, blocks = next(stream)
            parts = [blocks[s].numpy() for s in queue.stems]  # (ch_m, n) each
            array = np.concatenate(parts, 0).T  # (n, stems · ch_m)
            last = False
        except StopIteration:
            if queue.done:
                raise ConfigError(
                    f"model {member.identifier!r} ended {remaining} samples early"
                ) from None
            queue.done = True
            array, last = np.zeros((0, count * member.channels), np.float32), True
        if queue.resampler is not None:
            array = queue.resampler(array, last=last)
        elif last:
            array = np.zeros((0, count * member.channels), np.float32)
        n = array.shape[0]
        shaped = array.T.reshape(count, member.channels, n)
        if member.channels < self.channels:
            shaped = np.repeat(shaped, self.channels // member.channels, axis=1)
        if queue.done:  # a resampled member may end a few samples short or long: fit it
            have = queue.data.shape[-1] + n
            if have < remaining:
                pad = np.zeros((*shaped.shape[:2], remaining - have), np.float32)
                shaped = np.concatenate([shaped, pad], -1)
        queue.data = np.concatenate([queue.data, shaped], -1)[..., :remaining]
