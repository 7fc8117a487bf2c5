r"""Composed filters: a learned Gaussian in front of a free-form convolution.

Shelhamer, Wang and Darrell compose a structured Gaussian :math:`g_\sigma` with a free-form
filter :math:`f`,

.. math::  (f \circ g_\sigma) * x = f * (g_\sigma * x),

and learn both end to end: :math:`f` decides *what* a unit looks for, :math:`\sigma` decides
*over how large a region*. A :math:`p\times p` filter composed with a Gaussian of support
:math:`[-r, r]`, :math:`r = \lceil 2\sigma\rceil`, spans :math:`p + 2r` pixels, for the price of
one extra parameter per input channel.

This module holds the small experiment of chapter 2: inpainting square holes in photographs.
A pixel in the middle of an :math:`h\times h` hole is :math:`h/2` pixels from any observed
pixel, so a network whose receptive field is smaller than that can only guess; the composed
network can learn how far to look.

* :class:`ComposedConv2d` -- ``GaussianBlur2d`` (one :math:`\sigma` per input channel), then ``Conv2d``.
* :class:`InpaintingCNN` -- three convolutions; the first one composed or plain.
* :class:`NormalizedConvolution` -- the classical, one-parameter inpainter
  :math:`g_\sigma * (m\odot y) / g_\sigma * m` (Knutsson and Westin, 1993).
* :func:`square_holes`, :func:`train_inpainter`, :func:`inpainting_psnr` -- data, training, score.

Reference: E. Shelhamer, D. Wang, T. Darrell, "Blurring the Line Between Structure and
Learning to Optimize and Adapt Receptive Fields", arXiv:1904.11487 (2019).

Example
-------
>>> images = torch.rand(2, 1, 64, 64)                             # (N, 1, H, W)
>>> net = InpaintingCNN(composed=True)
>>> hist = train_inpainter(net, images, hole=12, steps=3, progress=False)
>>> len(hist["sigma"][-1])                     # learned scales: image and mask channel
2
"""

from __future__ import annotations

import math

import torch
from torch import nn
from tqdm.auto import tqdm

from ..sigma import GaussianBlur2d

__all__ = [
    "ComposedConv2d",
    "InpaintingCNN",
    "NormalizedConvolution",
    "square_holes",
    "train_inpainter",
    "inpainting_psnr",
]


class ComposedConv2d(nn.Module):
    r"""A free-form ``k x k`` convolution applied after a learned Gaussian blur, :math:`f * (g_\sigma * x)`.

    Each input channel has its own :math:`\sigma` (learned as :math:`\log\sigma`); zero padding
    keeps the spatial size. ``(B, C_in, H, W) -> (B, C_out, H, W)``.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 3, sigma: float = 1.0):
        super().__init__()
        self.blur = GaussianBlur2d(sigma, channels=in_channels)  # support of 2 standard deviations
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size, padding=kernel_size // 2)

    @property
    def sigma(self) -> torch.Tensor:
        return self.blur.sigma

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(self.blur(x))  # (B, C_out, H, W)


class InpaintingCNN(nn.Module):
    r"""Three ``k x k`` convolutions (ReLU between) that fill the holes of a masked image.

    The input is the masked image and the mask, stacked as two channels; the output keeps the
    observed pixels, :math:`\hat x = m\odot y + (1-m)\odot \mathrm{net}([y, m])`. With
    ``composed=True`` the first layer is a :class:`ComposedConv2d` (two extra parameters: one
    :math:`\sigma` for the image channel, one for the mask channel, both starting at 1). Only
    the first layer is composed: a scale there widens the receptive field of every later unit,
    and it costs 2 blurs per image instead of ``channels`` for a hidden layer.
    """

    def __init__(self, channels: int = 16, kernel_size: int = 3, composed: bool = False):
        super().__init__()
        k, c = kernel_size, channels
        first = ComposedConv2d(2, c, k) if composed else nn.Conv2d(2, c, k, padding=k // 2)
        self.net = nn.Sequential(
            first, nn.ReLU(),
            nn.Conv2d(c, c, k, padding=k // 2), nn.ReLU(),
            nn.Conv2d(c, 1, k, padding=k // 2),
        )  # fmt: skip

    @property
    def sigma(self) -> torch.Tensor | None:
        """The learned scales ``(2,)`` of the composed first layer, or ``None``."""
        first = self.net[0]
        return first.sigma if isinstance(first, ComposedConv2d) else None

    def forward(self, y: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        guess = self.net(torch.cat([y, mask], dim=1))  # (B, 1, H, W)
        return mask * y + (1 - mask) * guess


class NormalizedConvolution(nn.Module):
    r"""Fill holes with a Gaussian-weighted average of the observed pixels; one parameter, :math:`\sigma`.

    :math:`\hat x = m\odot y + (1-m)\odot \dfrac{g_\sigma * (m\odot y)}{g_\sigma * m}`: the blur
    of the observed pixels, renormalised by how much observed weight each pixel received.
    """

    def __init__(self, sigma: float = 1.0, std_devs: float = 2):
        super().__init__()
        self.blur = GaussianBlur2d(sigma, std_devs)

    @property
    def sigma(self) -> torch.Tensor:
        return self.blur.sigma

    def forward(self, y: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        weight = self.blur(mask).clamp_min(1e-6)  # (B, 1, H, W); > 0 wherever a hole is in reach
        return mask * y + (1 - mask) * self.blur(mask * y) / weight


def square_holes(batch: int, size: int, hole: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """Masks ``(batch, 1, size, size)``: ones, with one ``hole x hole`` square of zeros at a random place."""
    if not (isinstance(hole, int) and isinstance(size, int) and 1 <= hole < size):
        raise ValueError(f"hole must be an int with 1 <= hole < size={size}, got {hole!r}")
    corners = torch.randint(0, size - hole + 1, (batch, 2), generator=generator)  # (batch, 2)
    grid = torch.arange(size)
    rows = (grid[None] >= corners[:, :1]) & (grid[None] < corners[:, :1] + hole)  # (batch, size)
    cols = (grid[None] >= corners[:, 1:]) & (grid[None] < corners[:, 1:] + hole)  # (batch, size)
    return (~(rows[:, :, None] & cols[:, None, :])).float()[:, None]  # (batch, 1, size, size)


def _crops(images: torch.Tensor, batch: int, size: int, generator: torch.Generator) -> torch.Tensor:
    """``batch`` random ``size x size`` crops from ``images`` ``(N, 1, H, W)``."""
    N, _, H, W = images.shape
    idx = torch.randint(0, N, (batch,), generator=generator).tolist()
    tops = torch.randint(0, H - size + 1, (batch,), generator=generator).tolist()
    lefts = torch.randint(0, W - size + 1, (batch,), generator=generator).tolist()
    return torch.stack([images[i, :, t : t + size, c : c + size] for i, t, c in zip(idx, tops, lefts)])


def _check_images(images) -> None:
    if not isinstance(images, torch.Tensor) or images.dim() != 4 or images.shape[1] != 1:
        raise ValueError(f"images must be a (N, 1, H, W) tensor, got {getattr(images, 'shape', type(images))}")


def _hole_mse(model: nn.Module, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean squared error over the missing pixels only (the observed ones are copied exactly)."""
    return ((model(mask * x, mask) - x) ** 2 * (1 - mask)).sum() / (1 - mask).sum()


def train_inpainter(
    model: nn.Module,
    images: torch.Tensor,
    hole: int,
    steps: int,
    batch_size: int = 32,
    size: int = 32,
    lr: float = 3e-3,
    sigma_lr: float = 3e-2,
    seed: int = 0,
    progress: bool = True,
) -> dict[str, list]:
    r"""Train ``model(y, mask)`` with Adam on random crops of ``images`` ``(N, 1, H, W)`` with square holes.

    Parameters named ``log_sigma`` get their own step ``sigma_lr``: Adam moves every parameter by
    about ``lr`` per step, and :math:`\log\sigma` has to travel far more than a weight does.
    Returns ``{"loss": [...], "sigma": [...]}`` per step (``sigma`` holds the model's ``.sigma``
    as a list, or is empty when the model has none).
    """
    _check_images(images)
    g = torch.Generator().manual_seed(seed)
    scales = [p for n, p in model.named_parameters() if n.endswith("log_sigma")]
    others = [p for n, p in model.named_parameters() if not n.endswith("log_sigma")]
    groups = [{"params": others}] if others else []
    groups += [{"params": scales, "lr": sigma_lr}] if scales else []
    opt = torch.optim.Adam(groups, lr=lr)
    history: dict[str, list] = {"loss": [], "sigma": []}
    bar = tqdm(range(steps), disable=not progress, desc=f"{type(model).__name__}, hole {hole}", leave=False)
    for _ in bar:
        x = _crops(images, batch_size, size, g)  # (B, 1, size, size)
        mask = square_holes(batch_size, size, hole, g).to(x)
        loss = _hole_mse(model, x, mask)
        opt.zero_grad()
        loss.backward()
        opt.step()
        history["loss"].append(loss.item())
        sigma = getattr(model, "sigma", None)
        if sigma is not None:
            history["sigma"].append(sigma.detach().reshape(-1).tolist())
    return history


@torch.no_grad()
def inpainting_psnr(
    model: nn.Module | None, images: torch.Tensor, hole: int, n: int = 256, size: int = 32
) -> float:
    r"""PSNR (dB, peak 1) inside the holes of ``n`` fixed random crops of ``images``.

    The crops and holes come from a generator seeded with 1 (training batches use seed 0 by
    default), so every model is scored on the same pixels.

    ``model=None`` scores the simplest baseline: every hole filled with the mean of the
    observed pixels of its crop.
    """
    _check_images(images)
    g = torch.Generator().manual_seed(1)
    x = _crops(images, n, size, g)  # (n, 1, size, size)
    mask = square_holes(n, size, hole, g).to(x)
    if model is None:
        mean = (mask * x).sum((-2, -1), keepdim=True) / mask.sum((-2, -1), keepdim=True)  # (n, 1, 1, 1)
        model = lambda y, m: m * y + (1 - m) * mean  # noqa: E731 - a one-line baseline
    mse = float(_hole_mse(model, x, mask))
    return -10 * math.log10(mse)
