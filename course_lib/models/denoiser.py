r"""A small noise-level-conditioned U-Net denoiser :math:`D_\theta(x, \sigma)` (chapter 3).

The network estimates the clean image from :math:`x = x_0 + \sigma n`, :math:`n \sim \mathcal N(0, I)`,
on the data scale :math:`[-1, 1]`. Trained with the squared error it approximates Tweedie's
MMSE estimate :math:`\mathbb E[x_0 \mid x]`, which is all a diffusion sampler needs.

Noise levels span four decades (:math:`\sigma \approx 0.01` to :math:`160` for the linear DDPM
schedule), so the raw network :math:`F_\theta` is wrapped in the preconditioning of
Karras et al. (2022), "Elucidating the design space of diffusion-based generative models":

.. math::

    D_\theta(x, \sigma) = c_\text{skip}(\sigma)\,x + c_\text{out}(\sigma)\,
        F_\theta\big(c_\text{in}(\sigma)\,x,\ \tfrac14 \log\sigma\big),

    c_\text{skip} = \frac{\sigma_d^2}{\sigma^2 + \sigma_d^2},\quad
    c_\text{out} = \frac{\sigma\,\sigma_d}{\sqrt{\sigma^2 + \sigma_d^2}},\quad
    c_\text{in} = \frac{1}{\sqrt{\sigma^2 + \sigma_d^2}},

so that the input and the target of :math:`F_\theta` have unit variance at every
:math:`\sigma` (:math:`\sigma_d` is the data's standard deviation). At small :math:`\sigma`
the skip path returns :math:`x` almost unchanged; at large :math:`\sigma` the network
predicts the image from scratch.

:math:`F_\theta` is a plain U-Net (Ronneberger et al., 2015) with three resolutions,
residual blocks with GroupNorm and SiLU, and the noise level injected in every block
as a per-channel scale and shift (FiLM) computed from sinusoidal features of
:math:`\log\sigma`. No attention: at 32x32 the receptive field of the 8x8 level covers the image.

Example
-------
>>> import torch
>>> net = DenoisingUNet(channels=1, width=16)
>>> sum(p.numel() for p in net.parameters())          # the committed digit prior's size
317265
>>> x = torch.randn(4, 1, 32, 32)                # (B, C, H, W), H and W divisible by 4
>>> net(x, torch.tensor(0.5)).shape                    # sigma: float, 0-dim or (B,)
torch.Size([4, 1, 32, 32])
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

__all__ = ["DenoisingUNet"]


def _groups(ch: int) -> int:
    """Largest of 8, 4, 2, 1 that divides ``ch`` (GroupNorm needs it)."""
    return next(g for g in (8, 4, 2, 1) if ch % g == 0)


class _ResBlock(nn.Module):
    """GroupNorm-SiLU-conv twice, the noise embedding as a FiLM scale/shift in between."""

    def __init__(self, c_in: int, c_out: int, emb_dim: int) -> None:
        super().__init__()
        self.norm1 = nn.GroupNorm(_groups(c_in), c_in)
        self.conv1 = nn.Conv2d(c_in, c_out, 3, padding=1)
        self.film = nn.Linear(emb_dim, 2 * c_out)
        self.norm2 = nn.GroupNorm(_groups(c_out), c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1)
        self.skip = nn.Conv2d(c_in, c_out, 1) if c_in != c_out else nn.Identity()
        nn.init.zeros_(self.conv2.weight)  # every block starts as the identity: stable early training
        nn.init.zeros_(self.conv2.bias)

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)))  # (B, c_out, H, W)
        scale, shift = self.film(emb)[:, :, None, None].chunk(2, dim=1)  # (B, c_out, 1, 1) each
        h = F.silu(self.norm2(h) * (1 + scale) + shift)
        return self.skip(x) + self.conv2(h)


class DenoisingUNet(nn.Module):
    r"""MMSE denoiser :math:`D(x, \sigma)` for images on :math:`[-1, 1]` (see the module docstring).

    Parameters
    ----------
    channels : image channels ``C``.
    width : channels at full resolution; the coarser levels H/2 and H/4 use ``2*width`` and ``4*width``.
    emb_dim : size of the noise-level embedding.
    sigma_data : standard deviation of the training images (on ``[-1, 1]``), used by the
        preconditioning; store it with the weights.

    ``forward(x, sigma)`` takes ``x`` of shape ``(B, C, H, W)`` with ``H`` and ``W``
    divisible by 4 and ``sigma`` a positive float, 0-dim tensor or ``(B,)`` tensor, and
    returns the denoised image of ``x``'s shape. As for any PyTorch module, the caller places
    ``x`` on the network's device (and ``sigma``, if it is a tensor).
    """

    def __init__(self, channels: int = 1, width: int = 16, emb_dim: int = 128, sigma_data: float = 0.5) -> None:
        super().__init__()
        for name, val in (("channels", channels), ("width", width), ("emb_dim", emb_dim)):
            if not isinstance(val, int) or isinstance(val, bool) or val < 1:
                raise ValueError(f"{name} must be a positive int, got {val!r}")
        if emb_dim % 2:
            raise ValueError(f"emb_dim must be even (sine and cosine features), got {emb_dim}")
        if not (isinstance(sigma_data, (int, float)) and sigma_data > 0):
            raise ValueError(f"sigma_data must be a positive number, got {sigma_data!r}")
        self.config = {"channels": channels, "width": width, "emb_dim": emb_dim, "sigma_data": float(sigma_data)}
        self.channels, self.sigma_data = channels, float(sigma_data)
        w1, w2, w3 = width, 2 * width, 4 * width  # cheap at full resolution, wide where it is small
        self.emb = nn.Sequential(nn.Linear(emb_dim, emb_dim), nn.SiLU(), nn.Linear(emb_dim, emb_dim))
        self.register_buffer("freqs", torch.exp(torch.linspace(0.0, math.log(100.0), emb_dim // 2)), persistent=False)
        self.stem = nn.Conv2d(channels, w1, 3, padding=1)
        self.down1 = _ResBlock(w1, w1, emb_dim)  # 32x32
        self.down2 = _ResBlock(w1, w2, emb_dim)  # 16x16
        self.down3 = _ResBlock(w2, w3, emb_dim)  # 8x8
        self.mid = _ResBlock(w3, w3, emb_dim)  # 8x8
        self.up3 = _ResBlock(2 * w3, w2, emb_dim)  # 8x8, with the skip of down3
        self.up2 = _ResBlock(2 * w2, w1, emb_dim)  # 16x16, with the skip of down2
        self.up1 = _ResBlock(2 * w1, w1, emb_dim)  # 32x32, with the skip of down1
        self.head = nn.Sequential(nn.GroupNorm(_groups(w1), w1), nn.SiLU(), nn.Conv2d(w1, channels, 3, padding=1))
        nn.init.zeros_(self.head[-1].weight)  # F starts at 0: D starts as the linear c_skip * x
        nn.init.zeros_(self.head[-1].bias)

    def _sigma(self, sigma: torch.Tensor | float, x: torch.Tensor) -> torch.Tensor:
        """Validate ``sigma`` and return it as a ``(B,)`` tensor of ``x``'s dtype and device."""
        s = torch.as_tensor(sigma, dtype=x.dtype, device=x.device)
        if s.dim() == 0:
            s = s.expand(x.shape[0])
        if s.shape != (x.shape[0],):
            raise ValueError(f"sigma must be a number, a 0-dim tensor or of shape ({x.shape[0]},), got {tuple(s.shape)}")
        if not bool(torch.all(s > 0)) or not bool(torch.all(torch.isfinite(s))):
            raise ValueError("sigma must be positive and finite (got a value <= 0, NaN or inf)")
        return s

    def _raw(self, x: torch.Tensor, c_noise: torch.Tensor) -> torch.Tensor:
        """The bare U-Net :math:`F_\\theta(x, c_\\text{noise})`; ``c_noise`` of shape ``(B,)``."""
        ang = c_noise[:, None] * self.freqs.to(x.dtype)  # (B, emb_dim/2)
        emb = self.emb(torch.cat([ang.sin(), ang.cos()], dim=1))  # (B, emb_dim)
        h1 = self.down1(self.stem(x), emb)  # (B, w1, H, W)
        h2 = self.down2(F.avg_pool2d(h1, 2), emb)  # (B, w2, H/2, W/2)
        h3 = self.down3(F.avg_pool2d(h2, 2), emb)  # (B, w3, H/4, W/4)
        h = self.mid(h3, emb)
        h = self.up3(torch.cat([h, h3], dim=1), emb)  # (B, w2, H/4, W/4)
        h = F.interpolate(h, scale_factor=2.0, mode="nearest")
        h = self.up2(torch.cat([h, h2], dim=1), emb)  # (B, w1, H/2, W/2)
        h = F.interpolate(h, scale_factor=2.0, mode="nearest")
        h = self.up1(torch.cat([h, h1], dim=1), emb)  # (B, w1, H, W)
        return self.head(h)

    def forward(self, x: torch.Tensor, sigma: torch.Tensor | float) -> torch.Tensor:
        if not isinstance(x, torch.Tensor) or x.dim() != 4:
            raise ValueError(f"x must be a (B, C, H, W) tensor, got {getattr(x, 'shape', type(x).__name__)}")
        if x.shape[1] != self.channels:
            raise ValueError(f"x must have {self.channels} channels, got {x.shape[1]}")
        if x.shape[-1] % 4 or x.shape[-2] % 4:
            raise ValueError(f"x's height and width must be divisible by 4, got {tuple(x.shape[-2:])}")
        s = self._sigma(sigma, x)[:, None, None, None]  # (B, 1, 1, 1)
        sd2 = self.sigma_data**2
        c_skip = sd2 / (s**2 + sd2)
        c_out = s * self.sigma_data / (s**2 + sd2).sqrt()
        c_in = 1.0 / (s**2 + sd2).sqrt()
        f = self._raw(c_in * x, s.flatten().log() / 4)  # (B, C, H, W)
        return c_skip * x + c_out * f

    def extra_repr(self) -> str:
        n = sum(p.numel() for p in self.parameters())
        return f"params={n:,}, config={self.config}"
