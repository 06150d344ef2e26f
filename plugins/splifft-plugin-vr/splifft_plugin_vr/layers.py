"""The VR Architecture networks (tsurumeso's vocal-remover, as UVR ships them).

Module names follow UVR's `nets.py` / `nets_new.py` so that its `.pth` state dicts load as they
are: `CascadedASPPNet` (sized by UVR's `nn_arch_size`) and `CascadedNet` (VR 5.1).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

SMALL_ARCH_SIZES = (31191, 33966, 129605)
"""16 base channels."""
MEDIUM_ARCH_SIZES = (123821, 123812)
"""32 base channels (64 for the rest, 537238 and 537227)."""
SIX_CONV_ASPP = (129605,)
SEVEN_CONV_ASPP = (537238, 537227, 33966)


def crop_center(skip: Tensor, target: Tensor) -> Tensor:
    """Crop `skip`'s frames (last axis) to `target`'s, centred."""
    if skip.shape[3] == target.shape[3]:
        return skip
    if skip.shape[3] < target.shape[3]:
        raise ValueError("the skip connection has fewer frames than the upsampled features")
    start = (skip.shape[3] - target.shape[3]) // 2
    return skip[:, :, :, start : start + target.shape[3]]


class Conv2DBNActiv(nn.Module):
    def __init__(
        self,
        nin: int,
        nout: int,
        ksize: int = 3,
        stride: int = 1,
        pad: int | tuple[int, int] = 1,
        dilation: int | tuple[int, int] = 1,
        activ: type[nn.Module] = nn.ReLU,
    ) -> None:
        super().__init__()
        self.conv = nn.Sequential(
            nn.Conv2d(nin, nout, ksize, stride, pad, dilation=dilation, bias=False),
            nn.BatchNorm2d(nout),
            activ(),
        )

    def forward(self, x: Tensor) -> Tensor:
        out: Tensor = self.conv(x)
        return out


class SeperableConv2DBNActiv(nn.Module):
    """Depthwise then pointwise convolution (UVR's spelling of the name)."""

    def __init__(
        self, nin: int, nout: int, ksize: int, stride: int, pad: int, dilation: int
    ) -> None:
        super().__init__()
        self.conv = nn.Sequential(
            nn.Conv2d(nin, nin, ksize, stride, pad, dilation=dilation, groups=nin, bias=False),
            nn.Conv2d(nin, nout, 1, bias=False),
            nn.BatchNorm2d(nout),
            nn.ReLU(),
        )

    def forward(self, x: Tensor) -> Tensor:
        out: Tensor = self.conv(x)
        return out


class AsppEncoder(nn.Module):
    """`layers.Encoder`: the stride is on the second convolution; returns (hidden, skip)."""

    def __init__(self, nin: int, nout: int, stride: int) -> None:
        super().__init__()
        self.conv1 = Conv2DBNActiv(nin, nout, 3, 1, 1, activ=nn.LeakyReLU)
        self.conv2 = Conv2DBNActiv(nout, nout, 3, stride, 1, activ=nn.LeakyReLU)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        skip = self.conv1(x)
        return self.conv2(skip), skip


class Decoder(nn.Module):
    """Bilinear 2× upsampling, the cropped skip concatenated, one convolution."""

    def __init__(self, nin: int, nout: int, attribute: str = "conv") -> None:
        super().__init__()
        self.attribute = attribute
        # UVR names the convolution `conv` in nets.py and `conv1` in nets_new.py.
        self.add_module(attribute, Conv2DBNActiv(nin, nout, 3, 1, 1))

    def forward(self, x: Tensor, skip: Tensor | None = None) -> Tensor:
        x = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=True)
        if skip is not None:
            x = torch.cat([x, crop_center(skip, x)], dim=1)
        out: Tensor = getattr(self, self.attribute)(x)
        return out


class AsppModule(nn.Module):
    """`layers.ASPPModule`: pooled, 1×1 and dilated separable branches, 5 to 7 of them."""

    def __init__(self, arch_size: int, nin: int, nout: int, dilations: tuple[int, ...]) -> None:
        super().__init__()
        self.conv1 = nn.Sequential(
            nn.AdaptiveAvgPool2d((1, None)), Conv2DBNActiv(nin, nin, 1, 1, 0)
        )
        self.conv2 = Conv2DBNActiv(nin, nin, 1, 1, 0)
        self.conv3 = SeperableConv2DBNActiv(nin, nin, 3, 1, dilations[0], dilations[0])
        self.conv4 = SeperableConv2DBNActiv(nin, nin, 3, 1, dilations[1], dilations[1])
        self.conv5 = SeperableConv2DBNActiv(nin, nin, 3, 1, dilations[2], dilations[2])
        branches = 5
        if arch_size in SIX_CONV_ASPP + SEVEN_CONV_ASPP:
            # UVR's sixth and seventh branch are one module (shared weights).
            extra = SeperableConv2DBNActiv(nin, nin, 3, 1, dilations[2], dilations[2])
            self.conv6 = extra
            branches = 6
            if arch_size in SEVEN_CONV_ASPP:
                self.conv7 = extra
                branches = 7
        self.branches = branches
        self.bottleneck = nn.Sequential(
            Conv2DBNActiv(nin * branches, nout, 1, 1, 0), nn.Dropout2d(0.1)
        )

    def forward(self, x: Tensor) -> Tensor:
        h, w = x.shape[2], x.shape[3]
        feats = [F.interpolate(self.conv1(x), size=(h, w), mode="bilinear", align_corners=True)]
        feats += [getattr(self, f"conv{i}")(x) for i in range(2, self.branches + 1)]
        out: Tensor = self.bottleneck(torch.cat(feats, dim=1))
        return out


class BaseAsppNet(nn.Module):
    def __init__(
        self, arch_size: int, nin: int, ch: int, dilations: tuple[int, ...] = (4, 8, 16)
    ) -> None:
        super().__init__()
        self.deep = arch_size == 129605
        self.enc1 = AsppEncoder(nin, ch, 2)
        self.enc2 = AsppEncoder(ch, ch * 2, 2)
        self.enc3 = AsppEncoder(ch * 2, ch * 4, 2)
        self.enc4 = AsppEncoder(ch * 4, ch * 8, 2)
        if self.deep:
            self.enc5 = AsppEncoder(ch * 8, ch * 16, 2)
            self.aspp = AsppModule(arch_size, ch * 16, ch * 32, dilations)
            self.dec5 = Decoder(ch * (16 + 32), ch * 16)
        else:
            self.aspp = AsppModule(arch_size, ch * 8, ch * 16, dilations)
        self.dec4 = Decoder(ch * (8 + 16), ch * 8)
        self.dec3 = Decoder(ch * (4 + 8), ch * 4)
        self.dec2 = Decoder(ch * (2 + 4), ch * 2)
        self.dec1 = Decoder(ch * (1 + 2), ch)

    def forward(self, x: Tensor) -> Tensor:
        h, e1 = self.enc1(x)
        h, e2 = self.enc2(h)
        h, e3 = self.enc3(h)
        h, e4 = self.enc4(h)
        if self.deep:
            h, e5 = self.enc5(h)
            h = self.dec5(self.aspp(h), e5)
        else:
            h = self.aspp(h)
        h = self.dec4(h, e4)
        h = self.dec3(h, e3)
        h = self.dec2(h, e2)
        out: Tensor = self.dec1(h, e1)
        return out


class CascadedASPPNet(nn.Module):
    """Three cascaded ASPP U-nets (low/high half, then twice the full band) → a sigmoid mask."""

    offset = 128

    def __init__(self, n_fft: int, arch_size: int) -> None:
        super().__init__()
        ch = 16 if arch_size in SMALL_ARCH_SIZES else 32 if arch_size in MEDIUM_ARCH_SIZES else 64
        self.stg1_low_band_net = BaseAsppNet(arch_size, 2, ch)
        self.stg1_high_band_net = BaseAsppNet(arch_size, 2, ch)
        self.stg2_bridge = Conv2DBNActiv(ch + 2, ch // 2, 1, 1, 0)
        self.stg2_full_band_net = BaseAsppNet(arch_size, ch // 2, ch)
        self.stg3_bridge = Conv2DBNActiv(2 * ch + 2, ch, 1, 1, 0)
        self.stg3_full_band_net = BaseAsppNet(arch_size, ch, 2 * ch)
        self.out = nn.Conv2d(2 * ch, 2, 1, bias=False)
        self.aux1_out = nn.Conv2d(ch, 2, 1, bias=False)
        self.aux2_out = nn.Conv2d(ch, 2, 1, bias=False)
        self.max_bin = n_fft // 2
        self.output_bin = n_fft // 2 + 1

    def forward(self, x: Tensor) -> Tensor:
        x = x[:, :, : self.max_bin]
        half = x.shape[2] // 2
        aux1 = torch.cat(
            [self.stg1_low_band_net(x[:, :, :half]), self.stg1_high_band_net(x[:, :, half:])], dim=2
        )
        aux2 = self.stg2_full_band_net(self.stg2_bridge(torch.cat([x, aux1], dim=1)))
        h = self.stg3_full_band_net(self.stg3_bridge(torch.cat([x, aux1, aux2], dim=1)))
        mask = torch.sigmoid(self.out(h))
        return F.pad(mask, (0, 0, 0, self.output_bin - mask.shape[2]), mode="replicate")


class LstmEncoder(nn.Module):
    """`layers_new.Encoder`: the stride is on the first convolution."""

    def __init__(self, nin: int, nout: int, stride: int) -> None:
        super().__init__()
        self.conv1 = Conv2DBNActiv(nin, nout, 3, stride, 1, activ=nn.LeakyReLU)
        self.conv2 = Conv2DBNActiv(nout, nout, 3, 1, 1, activ=nn.LeakyReLU)

    def forward(self, x: Tensor) -> Tensor:
        out: Tensor = self.conv2(self.conv1(x))
        return out


class LstmAsppModule(nn.Module):
    """`layers_new.ASPPModule`: plain (not separable) dilated branches, then dropout."""

    def __init__(self, nin: int, nout: int, dilations: tuple[tuple[int, int], ...]) -> None:
        super().__init__()
        self.conv1 = nn.Sequential(
            nn.AdaptiveAvgPool2d((1, None)), Conv2DBNActiv(nin, nout, 1, 1, 0)
        )
        self.conv2 = Conv2DBNActiv(nin, nout, 1, 1, 0)
        self.conv3 = Conv2DBNActiv(nin, nout, 3, 1, dilations[0], dilations[0])
        self.conv4 = Conv2DBNActiv(nin, nout, 3, 1, dilations[1], dilations[1])
        self.conv5 = Conv2DBNActiv(nin, nout, 3, 1, dilations[2], dilations[2])
        self.bottleneck = Conv2DBNActiv(nout * 5, nout, 1, 1, 0)
        self.dropout = nn.Dropout2d(0.1)

    def forward(self, x: Tensor) -> Tensor:
        h, w = x.shape[2], x.shape[3]
        feat1 = F.interpolate(self.conv1(x), size=(h, w), mode="bilinear", align_corners=True)
        out = torch.cat([feat1, self.conv2(x), self.conv3(x), self.conv4(x), self.conv5(x)], dim=1)
        result: Tensor = self.dropout(self.bottleneck(out))
        return result


class LstmModule(nn.Module):
    """A 1-channel projection, a bidirectional LSTM over frames, a dense layer back to bins."""

    def __init__(self, nin_conv: int, nin_lstm: int, nout_lstm: int) -> None:
        super().__init__()
        self.conv = Conv2DBNActiv(nin_conv, 1, 1, 1, 0)
        self.lstm = nn.LSTM(input_size=nin_lstm, hidden_size=nout_lstm // 2, bidirectional=True)
        self.dense = nn.Sequential(
            nn.Linear(nout_lstm, nin_lstm), nn.BatchNorm1d(nin_lstm), nn.ReLU()
        )

    def forward(self, x: Tensor) -> Tensor:
        batch, _, bins, frames = x.shape
        h = self.conv(x)[:, 0].permute(2, 0, 1)  # frames, batch, bins
        h, _ = self.lstm(h)
        dense: Tensor = self.dense(h.reshape(-1, h.shape[-1]))
        return dense.reshape(frames, batch, 1, bins).permute(1, 2, 3, 0)


class BaseNet(nn.Module):
    def __init__(
        self,
        nin: int,
        nout: int,
        nin_lstm: int,
        nout_lstm: int,
        dilations: tuple[tuple[int, int], ...] = ((4, 2), (8, 4), (12, 6)),
    ) -> None:
        super().__init__()
        self.enc1 = Conv2DBNActiv(nin, nout, 3, 1, 1)
        self.enc2 = LstmEncoder(nout, nout * 2, 2)
        self.enc3 = LstmEncoder(nout * 2, nout * 4, 2)
        self.enc4 = LstmEncoder(nout * 4, nout * 6, 2)
        self.enc5 = LstmEncoder(nout * 6, nout * 8, 2)
        self.aspp = LstmAsppModule(nout * 8, nout * 8, dilations)
        self.dec4 = Decoder(nout * (6 + 8), nout * 6, "conv1")
        self.dec3 = Decoder(nout * (4 + 6), nout * 4, "conv1")
        self.dec2 = Decoder(nout * (2 + 4), nout * 2, "conv1")
        self.lstm_dec2 = LstmModule(nout * 2, nin_lstm, nout_lstm)
        self.dec1 = Decoder(nout * (1 + 2) + 1, nout, "conv1")

    def forward(self, x: Tensor) -> Tensor:
        e1 = self.enc1(x)
        e2 = self.enc2(e1)
        e3 = self.enc3(e2)
        e4 = self.enc4(e3)
        h = self.aspp(self.enc5(e4))
        h = self.dec2(self.dec3(self.dec4(h, e4), e3), e2)
        h = torch.cat([h, self.lstm_dec2(h)], dim=1)
        out: Tensor = self.dec1(h, e1)
        return out


class CascadedNet(nn.Module):
    """VR 5.1: cascaded U-nets with an LSTM over frames in each, `nout`/`nout_lstm` wide."""

    offset = 64

    def __init__(self, n_fft: int, arch_size: int, nout: int = 32, nout_lstm: int = 128) -> None:
        super().__init__()
        self.max_bin = n_fft // 2
        self.output_bin = n_fft // 2 + 1
        nin_lstm = self.max_bin // 2
        nout = 64 if arch_size == 218409 else nout
        self.stg1_low_band_net = nn.Sequential(
            BaseNet(2, nout // 2, nin_lstm // 2, nout_lstm),
            Conv2DBNActiv(nout // 2, nout // 4, 1, 1, 0),
        )
        self.stg1_high_band_net = BaseNet(2, nout // 4, nin_lstm // 2, nout_lstm // 2)
        self.stg2_low_band_net = nn.Sequential(
            BaseNet(nout // 4 + 2, nout, nin_lstm // 2, nout_lstm),
            Conv2DBNActiv(nout, nout // 2, 1, 1, 0),
        )
        self.stg2_high_band_net = BaseNet(nout // 4 + 2, nout // 2, nin_lstm // 2, nout_lstm // 2)
        self.stg3_full_band_net = BaseNet(3 * nout // 4 + 2, nout, nin_lstm, nout_lstm)
        self.out = nn.Conv2d(nout, 2, 1, bias=False)
        self.aux_out = nn.Conv2d(3 * nout // 4, 2, 1, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        x = x[:, :, : self.max_bin]
        half = x.shape[2] // 2
        l1_in, h1_in = x[:, :, :half], x[:, :, half:]
        l1 = self.stg1_low_band_net(l1_in)
        h1 = self.stg1_high_band_net(h1_in)
        aux1 = torch.cat([l1, h1], dim=2)
        l2 = self.stg2_low_band_net(torch.cat([l1_in, l1], dim=1))
        h2 = self.stg2_high_band_net(torch.cat([h1_in, h1], dim=1))
        aux2 = torch.cat([l2, h2], dim=2)
        f3 = self.stg3_full_band_net(torch.cat([x, aux1, aux2], dim=1))
        mask = torch.sigmoid(self.out(f3))
        return F.pad(mask, (0, 0, 0, self.output_bin - mask.shape[2]), mode="replicate")
