"""Chapter 4 widget: diffusion amount and noise level -> observation, naive and damped inverse.

One fixed 64 x 64 heat source is diffused by ``amount``, Gaussian noise of standard
deviation ``noise`` is added, and the observation is inverted twice: naively (every mode
multiplied by ``exp(4 pi^2 |k|^2 amount)``, exponent clamped at 88 so it stays finite)
and with the damped probabilistic inverse of the SIP method, told the true noise level.

A redraw is a handful of 64 x 64 FFTs plus matplotlib. To keep it well under a second on a
busy laptop, the layout is fixed (no ``tight_layout`` pass) and the log axis is labelled in
plain text: re-parsing dozens of mathtext tick labels such as ``$10^{-40}$`` on every redraw
used to cost more than all the numerics.
"""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib import ticker

from ..heat import diffuse, heat_sources, inverse_diffuse_details, log_kernel
from . import LiveFigure, live_figure

__all__ = ["draw_heat_inversion", "heat_inversion_widget"]

_CACHE: dict[str, torch.Tensor] = {}


def _source_and_noise() -> tuple[torch.Tensor, torch.Tensor]:
    """The fixed source ``(1, 1, 64, 64)`` and unit noise of the same shape (computed once)."""
    if not _CACHE:
        _CACHE["x"] = heat_sources(1, generator=torch.Generator().manual_seed(4))
        _CACHE["noise"] = torch.randn(_CACHE["x"].shape, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    return _CACHE["x"], _CACHE["noise"]


def _decade_label(value: float, _pos=None) -> str:
    """Tick label ``1e-20`` for a power of ten (plain text, no mathtext)."""
    return f"1e{round(math.log10(value)):d}" if value > 0 else ""


def draw_heat_inversion(amount: float = 8.0, log10_noise: float = -6.0) -> plt.Figure:
    """Source, noisy observation, naive inverse, damped inverse, and the per-mode multipliers."""
    x, unit_noise = _source_and_noise()
    sigma = 10.0**log10_noise
    y = diffuse(x, amount) + sigma * unit_noise  # (1, 1, 64, 64)
    log_k = log_kernel(x.shape[-2:], amount)  # (64, 64)
    naive = torch.fft.ifft2(torch.fft.fft2(y) * torch.exp(log_k.clamp(max=88))).real
    damped = inverse_diffuse_details(y, amount, torch.full_like(y, sigma))

    fig = plt.figure(figsize=(11, 3.2))
    grid = fig.add_gridspec(1, 4, left=0.005, right=0.655, bottom=0.04, top=0.84, wspace=0.1)  # fixed layout
    l1 = float((damped.dx - x).abs().sum())
    panels = [
        (x, "source x* (64 x 64 cells)", None),
        (y, f"observation y (σ = {sigma:.0e})", None),
        (naive, f"naive inverse\nmax |x| = {float(naive.abs().max()):.1e}", None),
        (damped.dx, f"damped inverse\nL1 error {l1:.0f} (total heat {float(x.sum()):.0f})", (0, 1.2 * float(x.max()))),
    ]
    for i, (img, title, lims) in enumerate(panels):
        ax = fig.add_subplot(grid[0, i])
        vmin, vmax = lims if lims else (None, None)
        ax.imshow(img[0, 0].numpy(), cmap="inferno", vmin=vmin, vmax=vmax)
        ax.set_title(title, fontsize=9)
        ax.axis("off")

    ax = fig.add_axes((0.725, 0.16, 0.265, 0.7))
    k = torch.sqrt(log_k / (4 * math.pi**2 * amount)).flatten().numpy()  # |k| per mode
    order = np.argsort(k)
    ax.semilogy(k[order], torch.exp(-log_k).flatten().numpy()[order], label="diffusion exp(-4π²|k|²a)")
    ax.semilogy(k[order], damped.raw_kernel.flatten().numpy()[order], label="naive inverse")
    ax.semilogy(k, damped.kernel.flatten().numpy(), ".", ms=2, label="damped inverse")
    ax.set_ylim(1e-40, 1e40)
    ax.yaxis.set_major_locator(ticker.FixedLocator(10.0 ** np.arange(-40, 41, 20)))
    ax.yaxis.set_major_formatter(ticker.FuncFormatter(_decade_label))
    ax.yaxis.set_minor_locator(ticker.NullLocator())
    ax.set_xlabel("|k| (cycles per cell)")
    ax.set_ylabel("multiplier")
    ax.set_title(f"per-mode multipliers, amount {amount:g}", fontsize=9)
    ax.legend(fontsize=9, loc="upper left")
    ax.grid(True, which="major", alpha=0.3)
    return fig


def heat_inversion_widget() -> LiveFigure:
    """Sliders for the diffusion amount and log10 of the noise level."""
    import ipywidgets as w

    return live_figure(
        draw_heat_inversion,
        amount=w.FloatSlider(value=8.0, min=0.5, max=16.0, step=0.5, description="amount a"),
        log10_noise=w.FloatSlider(value=-6.0, min=-12.0, max=-1.0, step=0.5, description="log10 σ"),
    )
