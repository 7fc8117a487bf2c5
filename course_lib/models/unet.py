"""A small 2-D U-Net (Ronneberger, Fischer & Brox, MICCAI 2015), sized like PhiFlow's ``u_net``.

Layout for ``levels = 4`` and ``filters = 16`` (every level has 16 channels)::

    in ─ DoubleConv ─────────────────────────────────────── cat ─ DoubleConv ─ 1x1 ─ out
              └ pool ─ DoubleConv ──────────────── cat ─ DoubleConv ┘ up
                          └ pool ─ DoubleConv ─ cat ─ DoubleConv ┘ up
                                      └ pool ─ DoubleConv ┘ up

``DoubleConv`` = (3x3 conv, batch norm, ReLU) twice; ``pool`` = 2x2 max pooling; ``up`` =
bilinear upsampling by 2. ``UNet(1, 1)`` has 37,697 parameters, as many as PhiFlow's
``u_net(1, 1)`` (counted with PhiFlow 3.4), so it trains on a CPU. The heat problem
is periodic, so the convolutions may pad circularly (``periodic=True``); PhiFlow's default
is zero padding.

Example
-------
>>> net = UNet(in_channels=1, out_channels=1)
>>> net(torch.rand(8, 1, 64, 64)).shape
torch.Size([8, 1, 64, 64])
"""

from __future__ import annotations

import torch
from torch import nn
import torch.nn.functional as F

__all__ = ["UNet"]


class DoubleConv(nn.Sequential):
    """(conv 3x3 -> batch norm -> ReLU) x 2; keeps the spatial size."""

    def __init__(self, c_in: int, c_out: int, padding_mode: str):
        conv = dict(kernel_size=3, padding=1, padding_mode=padding_mode)
        super().__init__(
            nn.Conv2d(c_in, c_out, **conv),
            nn.BatchNorm2d(c_out),
            nn.ReLU(inplace=True),
            nn.Conv2d(c_out, c_out, **conv),
            nn.BatchNorm2d(c_out),
            nn.ReLU(inplace=True),
        )


class UNet(nn.Module):
    """U-Net with ``levels`` resolutions and ``filters`` channels on every level.

    Parameters
    ----------
    in_channels, out_channels : channels of the input and output fields.
    levels : number of resolutions (the input side must be divisible by ``2**(levels-1)``).
    filters : channels per level, an int (same on every level) or a sequence of ``levels`` ints.
    periodic : circular padding in the convolutions (for periodic domains) instead of zeros.

    Input ``(B, in_channels, H, W)``, output ``(B, out_channels, H, W)``.
    """

    def __init__(
        self,
        in_channels: int = 1,
        out_channels: int = 1,
        levels: int = 4,
        filters: int | tuple[int, ...] = 16,
        periodic: bool = False,
    ):
        super().__init__()
        if not isinstance(levels, int) or levels < 1:
            raise ValueError(f"levels must be an int >= 1, got {levels!r}")
        if isinstance(filters, int):
            filters = (filters,) * levels
        filters = tuple(filters)
        if len(filters) != levels or not all(isinstance(f, int) and f > 0 for f in filters):
            raise ValueError(f"filters must be a positive int or {levels} positive ints, got {filters!r}")
        for name, c in (("in_channels", in_channels), ("out_channels", out_channels)):
            if not isinstance(c, int) or c < 1:
                raise ValueError(f"{name} must be an int >= 1, got {c!r}")
        pad = "circular" if periodic else "zeros"
        self.levels = levels
        self.inc = DoubleConv(in_channels, filters[0], pad)
        # down[i] goes from level i to level i+1; up[i] comes back from level i+1 to level i.
        self.down = nn.ModuleList(DoubleConv(filters[i], filters[i + 1], pad) for i in range(levels - 1))
        self.up = nn.ModuleList(
            DoubleConv(filters[i + 1] + filters[i], filters[i], pad) for i in range(levels - 1)
        )
        self.outc = nn.Conv2d(filters[0], out_channels, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 4:
            raise ValueError(f"x must be (B, C, H, W), got shape {tuple(x.shape)}")
        factor = 2 ** (self.levels - 1)
        if x.shape[-2] % factor or x.shape[-1] % factor:
            raise ValueError(f"x's H and W must be divisible by {factor}, got {tuple(x.shape[-2:])}")
        skips = [self.inc(x)]  # level 0: (B, f0, H, W)
        for down in self.down:
            skips.append(down(F.max_pool2d(skips[-1], 2)))  # (B, f_{i+1}, H/2^{i+1}, W/2^{i+1})
        h = skips.pop()  # the coarsest level
        for up in reversed(self.up):
            skip = skips.pop()
            h = F.interpolate(h, size=skip.shape[-2:], mode="bilinear", align_corners=False)
            h = up(torch.cat([skip, h], dim=1))  # (B, f_i, H_i, W_i)
        return self.outc(h)  # (B, out_channels, H, W)
