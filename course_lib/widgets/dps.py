"""Chapter 3 widget: observed fraction, guidance step and number of steps -> a fresh DPS sample.

A held-out 32x32 digit is inpainted with the committed learned prior; one sample with a few
dozen DDIM steps redraws in about a second on a laptop CPU (the chapter's results use 200).
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import torch

from ..diffusion import digit_images, dps_sample, load_digit_denoiser, measure, metrics, to_unit
from ..operators import Inpainting
from . import LiveFigure, slider_widget

__all__ = ["draw_dps", "dps_widget"]

_CACHE: dict = {}
SIGMA_Y = 2 * 12.75 / 255  # the original's noise level, on the [-1, 1] scale


def _setup() -> tuple[torch.nn.Module, torch.Tensor]:
    if not _CACHE:
        _CACHE["D"] = load_digit_denoiser()
        _CACHE["x"] = digit_images("test")[:8]  # (8, 1, 32, 32) held-out digits
    return _CACHE["D"], _CACHE["x"]


def draw_dps(fraction: float = 0.2, zeta: float = 3.0, steps: int = 40, image: int = 0, seed: int = 0) -> plt.Figure:
    """Mask a held-out digit, add noise sigma_y = 2 * 12.75/255, draw one DPS sample and show PSNR/SSIM."""
    D, xs = _setup()
    x = xs[image : image + 1]  # (1, 1, 32, 32), on the CPU like the network
    g = torch.Generator().manual_seed(seed)
    mask = (torch.rand(1, 1, 32, 32, generator=g) < fraction).float()
    obs = measure(Inpainting(mask), x, SIGMA_Y, generator=g)
    sample = dps_sample(D, None, obs, steps=steps, zeta=zeta, eta=1.0, generator=g, progress=False, clip=True)
    psnr, ssim = metrics(sample, x)
    shown_y = np.where(mask[0, 0].numpy() > 0, to_unit(obs.y)[0, 0].numpy(), np.nan)  # missing pixels blank
    fig, axes = plt.subplots(1, 3, figsize=(7.0, 2.8))
    cmap = plt.get_cmap("gray").with_extremes(bad="tab:blue")
    panels = (to_unit(x)[0, 0].numpy(), shown_y, to_unit(sample)[0, 0].numpy())
    titles = ("held-out digit", f"y: {mask.mean():.0%} of pixels, noisy", f"DPS: {psnr[0]:.1f} dB, SSIM {ssim[0]:.2f}")
    for ax, img, title in zip(axes, panels, titles):
        ax.imshow(img, cmap=cmap, vmin=0, vmax=1)
        ax.set_title(title, fontsize=10)
        ax.axis("off")
    fig.suptitle(f"ζ = {zeta:.2f}, {steps} steps (missing pixels in blue; black −1, white 1)", fontsize=10)
    fig.tight_layout()
    return fig


def dps_widget() -> LiveFigure:
    """Sliders for the observed fraction, zeta, the number of steps, the digit and the seed."""
    return slider_widget(
        draw_dps,
        fraction=("observed", 0.2, 0.05, 0.8, 0.05),
        zeta=("ζ", 3.0, -1.0, 2.0, 0.1, "log"),
        steps=("steps", 40, 10, 60, 10),
        image=("digit", 0, 0, 7, 1),
        seed=("seed", 0, 0, 20, 1),
    )
