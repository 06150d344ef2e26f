"""The VR pipeline as one chunk model: bands → spectrogram → network mask → stems.

Per chunk (UVR does it once per track): the stereo chunk is resampled down band by band, each
band's STFT cropped into one spectrogram, its magnitude (normalized by its max) masked in
`window_size`-frame windows, the mask shaped (aggression, post-processing), and both the masked
(primary) and the remaining (secondary) spectrogram turned back into waveforms band by band.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor, nn

from splifft_plugin_vr.layers import CascadedASPPNet, CascadedNet
from splifft_plugin_vr.params import NON_ACCOMPANIMENT_STEMS, Band, BandLayout, VrParams

KAISER_BETA = 5.0
"""scipy `resample_poly`'s default window, `('kaiser', 5.0)` (librosa's `polyphase`)."""


def resample_poly(wave: Tensor, orig_sr: int, target_sr: int) -> Tensor:
    """librosa's `resample(res_type="polyphase")`: scipy's `resample_poly`, fixed to
    `ceil(n · target / orig)` samples. `wave` is `(channels, n)`."""
    if orig_sr == target_sr:
        return wave
    gcd = math.gcd(orig_sr, target_sr)
    up, down = target_sr // gcd, orig_sr // gcd
    max_rate = max(up, down)
    half_len = 10 * max_rate
    taps = 2 * half_len + 1
    m = np.arange(taps) - (taps - 1) / 2
    h = np.sinc(m / max_rate) / max_rate * np.kaiser(taps, KAISER_BETA)
    h = h / h.sum() * up
    n_in = wave.shape[-1]
    n_out = -(-n_in * up // down)
    pre_pad = down - half_len % down
    pre_remove = (half_len + pre_pad) // down
    post_pad = 0
    while ((n_in - 1) * up + taps + pre_pad + post_pad - 1) // down + 1 < n_out + pre_remove:
        post_pad += 1
    h = np.concatenate([np.zeros(pre_pad), h, np.zeros(post_pad)])
    x = wave.double()
    upsampled = x.new_zeros(x.shape[0], (n_in - 1) * up + 1)
    upsampled[:, ::up] = x
    kernel = torch.from_numpy(h[::-1].copy()).to(x)[None, None]
    padded = nn.functional.pad(upsampled[:, None], (len(h) - 1, len(h) - 1))
    y = nn.functional.conv1d(padded, kernel, stride=down)[:, 0]
    return y[:, pre_remove : pre_remove + n_out].to(wave.dtype)


LIBSAMPLERATE_CONVERTERS = frozenset({"sinc_best", "sinc_medium", "sinc_fastest"})
"""librosa's `res_type`s that are libsamplerate's converters."""


def _fix_length(out: np.ndarray, n_in: int, orig_sr: int, target_sr: int) -> np.ndarray:
    """librosa's `fix_length` to `ceil(n · target / orig)` samples (zeros or a cut)."""
    n_out = -(-n_in * target_sr // orig_sr)
    fixed = np.zeros((out.shape[0], n_out), dtype=out.dtype)
    fixed[:, : min(n_out, out.shape[1])] = out[:, :n_out]
    return fixed


def resample_libsamplerate(wave: Tensor, orig_sr: int, target_sr: int, converter: str) -> Tensor:
    """librosa's `resample(res_type="sinc_*")`: libsamplerate's converter on each channel in
    float32 (the `samplerate` package, which bundles the same libsamplerate 0.2.2 UVR's
    environment loads), fixed to librosa's length."""
    if orig_sr == target_sr:
        return wave
    import samplerate  # type: ignore[import-not-found]  # a compiled module, no stubs

    ratio = target_sr / orig_sr
    x = wave.detach().cpu().float().numpy()
    out = np.stack([samplerate.resample(channel, ratio, converter) for channel in x])
    return torch.from_numpy(_fix_length(out, x.shape[-1], orig_sr, target_sr)).to(wave)


def resample_soxr(wave: Tensor, orig_sr: int, target_sr: int) -> Tensor:
    """librosa's resampy resamplers (`kaiser_*`), replaced by soxr's very-high-quality one (no
    resampy here); the length is librosa's `ceil(n · target / orig)`."""
    if orig_sr == target_sr:
        return wave
    import soxr

    out = soxr.resample(wave.detach().cpu().double().numpy().T, orig_sr, target_sr, "VHQ").T
    return torch.from_numpy(_fix_length(out, wave.shape[-1], orig_sr, target_sr)).to(wave)


def resample(wave: Tensor, orig_sr: int, target_sr: int, res_type: str) -> Tensor:
    """librosa's `resample` for a UVR `res_type`."""
    if res_type == "polyphase":
        return resample_poly(wave, orig_sr, target_sr)
    if res_type in LIBSAMPLERATE_CONVERTERS:
        return resample_libsamplerate(wave, orig_sr, target_sr, res_type)
    return resample_soxr(wave, orig_sr, target_sr)


def stft(wave: Tensor, n_fft: int, hop: int) -> Tensor:
    """librosa's `stft` defaults: periodic Hann window, centred with zero padding."""
    window = torch.hann_window(n_fft, dtype=wave.dtype, device=wave.device)
    return torch.stft(
        wave, n_fft, hop, window=window, center=True, pad_mode="constant", return_complex=True
    )


def istft(spec: Tensor, hop: int) -> Tensor:
    """librosa's `istft`: `hop · (frames - 1)` samples."""
    n_fft = 2 * (spec.shape[-2] - 1)
    window = torch.hann_window(n_fft, dtype=spec.real.dtype, device=spec.device)
    return torch.istft(spec, n_fft, hop, window=window, center=True)


def lp_filter_mask(n_bins: int, start: int, stop: int) -> Tensor:
    """VR 5.1's linear low-pass ramp, 1 below `start`, 0 from `stop`."""
    return torch.cat(
        [torch.ones(start - 1), torch.linspace(1, 0, stop - start + 1), torch.zeros(n_bins - stop)]
    )[:, None]


def hp_filter_mask(n_bins: int, start: int, stop: int) -> Tensor:
    return torch.cat(
        [
            torch.zeros(stop + 1),
            torch.linspace(0, 1, 1 + start - stop),
            torch.ones(n_bins - start - 2),
        ]
    )[:, None]


def fft_lp_filter(spec: Tensor, start: int, stop: int) -> Tensor:
    """The older networks' low-pass: gains falling by `1/(stop-start)` per bin, then zeros."""
    g = 1.0
    for b in range(start, stop):
        g -= 1 / (stop - start)
        spec[:, b] *= g
    spec[:, stop:] *= 0
    return spec


def fft_hp_filter(spec: Tensor, start: int, stop: int) -> Tensor:
    g = 1.0
    for b in range(start, stop, -1):
        g -= 1 / (start - stop)
        spec[:, b] *= g
    spec[:, 0 : stop + 1] *= 0
    return spec


def merge_artifacts(
    mask: np.ndarray, thres: float, min_range: int = 64, fade: int = 32
) -> np.ndarray:
    """UVR's post-processing: runs of more than `min_range` frames where the mask exceeds
    `thres` in every bin are faded to a full primary stem."""
    idx = np.where(mask.min(axis=(0, 1)) > thres)[0]
    if idx.size == 0:
        return mask  # UVR's version fails here and keeps the mask
    breaks = np.where(np.diff(idx) != 1)[0]
    starts = np.insert(idx[breaks + 1], 0, idx[0])
    ends = np.append(idx[breaks], idx[-1])
    long_runs = np.where(ends - starts > min_range)[0]
    weight = np.zeros_like(mask)
    old_e = None
    for s, e in zip(starts[long_runs], ends[long_runs], strict=True):
        if old_e is not None and s - old_e < fade:
            s = old_e - fade * 2
        if s != 0:
            weight[:, :, s : s + fade] = np.linspace(0, 1, fade)
        else:
            s -= fade
        if e != mask.shape[2]:
            weight[:, :, e - fade : e] = np.linspace(1, 0, fade)
        else:
            e += fade
        weight[:, :, s + fade : e - fade] = 1
        old_e = e
    merged: np.ndarray = mask + weight * (1 - mask)
    return merged


class VrSeparator(nn.Module):
    """`(batch, 2, samples)` → `(batch, 2 stems, 2, samples)`: primary, secondary."""

    def __init__(self, params: VrParams) -> None:
        super().__init__()
        self.params = params
        self.layout: BandLayout = params.layout
        n_fft = self.layout.bins * 2
        self.net: nn.Module
        if params.is_v51:
            self.net = CascadedNet(n_fft, params.arch_size, params.nout, params.nout_lstm)
        else:
            self.net = CascadedASPPNet(n_fft, params.arch_size)

    def forward(self, x: Tensor) -> Tensor:
        return torch.stack([self.separate(item) for item in x])

    def separate(self, wave: Tensor) -> Tensor:
        length = wave.shape[-1]
        # The engine zero-fills a chunk past the track's end; cut the zeros off so a track
        # shorter than a chunk sees exactly UVR's whole-track pipeline.
        nonzero = torch.nonzero(wave.abs().amax(dim=0)).flatten()
        out = wave.new_zeros(2, 2, length)
        if nonzero.numel() == 0:
            return out
        stems = self.separate_track(wave[:, : int(nonzero[-1]) + 1])
        n = min(length, stems.shape[-1])
        out[..., :n] = stems[..., :n]
        return out

    def band_spectrogram(self, wave: Tensor, band: Band) -> Tensor:
        lay = self.layout
        left, right = wave[0], wave[1]
        if not self.params.is_v51:
            if lay.reverse:
                left, right = left.flip(0), right.flip(0)
            elif lay.mid_side:
                left, right = (left + right) / 2, left - right
            elif lay.mid_side_b2:
                left, right = right + left * 0.5, left - right * 0.5
        spec = torch.stack([stft(left, band.n_fft, band.hl), stft(right, band.n_fft, band.hl)])
        if self.params.is_v51:
            a, b = spec[0], spec[1]
            if band.convert_channels == "mid_side_c":
                spec = torch.stack([a + b * 0.25, b - a * 0.25])
            elif band.convert_channels == "mid_side":
                spec = torch.stack([(a + b) / 2, a - b])
            elif band.convert_channels == "stereo_n":
                spec = torch.stack([(a + b * 0.25) / 0.9375, (b + a * 0.25) / 0.9375])
        return spec

    def band_wave(self, spec: Tensor, band: Band) -> Tensor:
        left, right = istft(spec[0], band.hl), istft(spec[1], band.hl)
        lay = self.layout
        if self.params.is_v51:
            if band.convert_channels == "mid_side_c":
                return torch.stack([left / 1.0625 - right / 4.25, right / 1.0625 + left / 4.25])
            if band.convert_channels == "mid_side":
                return torch.stack([left + right / 2, left - right / 2])
            if band.convert_channels == "stereo_n":
                return torch.stack([left - right * 0.25, right - left * 0.25])
        elif lay.reverse:
            return torch.stack([left.flip(0), right.flip(0)])
        elif lay.mid_side:
            return torch.stack([left + right / 2, left - right / 2])
        elif lay.mid_side_b2:
            return torch.stack([right / 1.25 + 0.4 * left, left / 1.25 - 0.4 * right])
        return torch.stack([left, right])

    def separate_track(self, wave: Tensor) -> Tensor:
        lay, p = self.layout, self.params
        bands = lay.bands
        waves: list[Tensor] = [wave] * len(bands)
        for d in range(len(bands) - 2, -1, -1):
            waves[d] = resample(waves[d + 1], bands[d + 1].sr, bands[d].sr, bands[d].res_type)
        specs = [self.band_spectrogram(w, b) for w, b in zip(waves, bands, strict=True)]
        top = bands[-1]
        high_end_bins = (top.n_fft // 2 - top.crop_stop) + (
            lay.pre_filter_stop - lay.pre_filter_start
        )
        high_end = specs[-1][:, top.n_fft // 2 - high_end_bins : top.n_fft // 2]

        frames = min(s.shape[-1] for s in specs)
        mix = specs[0].new_zeros(2, lay.bins + 1, frames)
        offset = 0
        for spec, band in zip(specs, bands, strict=True):
            h = band.crop_stop - band.crop_start
            mix[:, offset : offset + h] = spec[:, band.crop_start : band.crop_stop, :frames]
            offset += h
        if lay.pre_filter_start > 0:
            if p.is_v51:
                mix = mix * lp_filter_mask(
                    lay.bins + 1, lay.pre_filter_start, lay.pre_filter_stop
                ).to(mix.device)
            elif len(bands) == 1:
                mix = fft_lp_filter(mix, lay.pre_filter_start, lay.pre_filter_stop)
            else:
                gp = 1.0
                for b in range(lay.pre_filter_start + 1, lay.pre_filter_stop):
                    g = math.pow(10, -(b - lay.pre_filter_start) * (3.5 - gp) / 20.0)
                    gp = g
                    mix[:, b] *= g

        magnitude, phase = mix.abs(), mix.angle()
        mask = self.predict_mask(magnitude)
        mask = self.shape_mask(mask)
        mix = torch.polar(magnitude, phase)
        primary = torch.nan_to_num(mask * mix, nan=0.0, posinf=0.0, neginf=0.0)
        secondary = torch.nan_to_num((1 - mask) * mix, nan=0.0, posinf=0.0, neginf=0.0)
        high = high_end[..., :frames] if p.high_end_process and high_end_bins else None
        return torch.stack(
            [
                self.to_wave(primary, high, high_end_bins),
                self.to_wave(secondary, high, high_end_bins),
            ]
        )

    def predict_mask(self, magnitude: Tensor) -> Tensor:
        p = self.params
        n_frame = magnitude.shape[-1]
        offset, size = p.offset, p.window_size
        roi = size - 2 * offset
        pad_l = offset
        pad_r = roi - n_frame % roi + pad_l
        mask = self.run_windows(magnitude, pad_l, pad_r, roi)[..., :n_frame]
        if p.tta:
            shifted = self.run_windows(magnitude, pad_l + roi // 2, pad_r + roi // 2, roi)
            mask = (mask + shifted[..., roi // 2 :][..., :n_frame]) * 0.5
        return mask

    def run_windows(self, magnitude: Tensor, pad_l: int, pad_r: int, roi: int) -> Tensor:
        p = self.params
        padded = nn.functional.pad(magnitude, (pad_l, pad_r))
        padded = padded / padded.max()
        patches = (padded.shape[-1] - 2 * p.offset) // roi
        masks = []
        for i in range(patches):
            window = padded[None, :, :, i * roi : i * roi + p.window_size]
            masks.append(self.net(window)[0, :, :, p.offset : -p.offset])
        return torch.cat(masks, dim=-1)

    def shape_mask(self, mask: Tensor) -> Tensor:
        """Aggression (UVR's `adjust_aggr`) and post-processing (`merge_artifacts`)."""
        p, lay = self.params, self.layout
        aggr = p.aggression / 100 * 2
        if aggr != 0:
            if p.uvr_primary_stem in NON_ACCOMPANIMENT_STEMS:
                aggr = 1 - aggr
            per_channel = [aggr, aggr]
            if lay.aggr_correction is not None:
                per_channel[0] += lay.aggr_correction["left"]
                per_channel[1] += lay.aggr_correction["right"]
            split = lay.bands[0].crop_stop
            shaped = mask.clone()
            for ch in range(2):
                shaped[ch, :split] = mask[ch, :split] ** (1 + per_channel[ch] / 3)
                shaped[ch, split:] = mask[ch, split:] ** (1 + per_channel[ch])
            mask = shaped
        if p.post_process:
            merged = merge_artifacts(mask.detach().cpu().numpy(), p.post_process_threshold)
            mask = torch.from_numpy(merged).to(mask)
        return mask

    def to_wave(self, spec: Tensor, high_end: Tensor | None, high_end_bins: int) -> Tensor:
        """UVR's `cmb_spectrogram_to_wave` (with `mirroring` for the high end)."""
        lay, p = self.layout, self.params
        bands = lay.bands
        extra = None
        if high_end is not None:
            start = lay.pre_filter_start - 10
            mirror = spec[:, start - high_end.shape[1] : start].abs().flip(1)
            mirror = torch.polar(mirror, high_end.angle())
            extra = torch.where(high_end.abs() <= mirror.abs(), high_end, mirror)
        wave: Tensor | None = None
        offset = 0
        for d, band in enumerate(bands):
            band_spec = spec.new_zeros(2, band.n_fft // 2 + 1, spec.shape[-1])
            h = band.crop_stop - band.crop_start
            band_spec[:, band.crop_start : band.crop_stop] = spec[:, offset : offset + h]
            offset += h
            n_bins = band_spec.shape[1]
            if d == len(bands) - 1:
                if extra is not None:
                    top = band.n_fft // 2
                    band_spec[:, top - high_end_bins : top] = extra[:, :high_end_bins]
                if band.hpf_start > 0:
                    if p.is_v51:
                        band_spec = band_spec * hp_filter_mask(
                            n_bins, band.hpf_start, band.hpf_stop - 1
                        ).to(band_spec.device)
                    else:
                        band_spec = fft_hp_filter(band_spec, band.hpf_start, band.hpf_stop - 1)
                part = self.band_wave(band_spec, band)
                wave = part if wave is None else add(wave, part)
            else:
                next_sr = bands[d + 1].sr
                if d > 0:
                    if p.is_v51:
                        band_spec = band_spec * hp_filter_mask(
                            n_bins, band.hpf_start, band.hpf_stop - 1
                        ).to(band_spec.device)
                    else:
                        band_spec = fft_hp_filter(band_spec, band.hpf_start, band.hpf_stop - 1)
                if p.is_v51:
                    band_spec = band_spec * lp_filter_mask(
                        n_bins, band.lpf_start, band.lpf_stop
                    ).to(band_spec.device)
                else:
                    band_spec = fft_lp_filter(band_spec, band.lpf_start, band.lpf_stop)
                part = self.band_wave(band_spec, band)
                summed = part if wave is None else add(wave, part)
                wave = resample(summed, band.sr, next_sr, p.merge_resampler)
        assert wave is not None
        return wave


def add(a: Tensor, b: Tensor) -> Tensor:
    n = min(a.shape[-1], b.shape[-1])
    return a[..., :n] + b[..., :n]


def build(params: VrParams) -> VrSeparator:
    return VrSeparator(params)
