"""Chapter 5 widget: noise, kernel window and the latent image's weight -> a fresh blind estimate.

The problem is small (a 64x64 grey crop, a 9x9 motion blur) and the blind method runs a short
schedule (6 outer iterations per pyramid level), so that a redraw takes about a second on a
laptop CPU. The figure shows the blurred crop, the estimate (after aligning the shift) and the
sharp crop, and the estimated kernel next to the true one on one colour scale.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import torch

from ..blind import align, kernel_error, psnr_ssim, tv_blind_deconvolution
from ..blind.plots import images_and_kernels
from ..data import load_image
from ..kernels import motion_blur_kernel
from ..operators import Blur, add_gaussian_noise
from . import LiveFigure, live_figure

__all__ = ["draw_blind", "blind_widget"]

_PROBLEM: dict[str, torch.Tensor] = {}


def _problem() -> tuple[torch.Tensor, torch.Tensor]:
    if not _PROBLEM:
        x = load_image("camera", size=128, color=False)[..., 16:80, 32:96]  # (1, 1, 64, 64)
        k = motion_blur_kernel(9, generator=torch.Generator().manual_seed(4))  # (1, 1, 9, 9)
        _PROBLEM.update(x=x, k=k)
    return _PROBLEM["x"], _PROBLEM["k"]


def draw_blind(noise: float = 0.01, kernel_size: int = 9, lam: float = 8e-3) -> plt.Figure:
    """Blur the crop with the 9x9 kernel, add noise, run the blind method with a ``kernel_size`` window."""
    x, k = _problem()
    if kernel_size % 2 == 0:
        kernel_size += 1  # the method needs an odd window
    y = add_gaussian_noise(Blur(k, padding="circular")(x), noise, generator=torch.Generator().manual_seed(0))
    # a short schedule, and no final refinement: its weight follows the noise, not lam
    x_hat, k_hat = tv_blind_deconvolution(y, kernel_size, lam=lam, lam_start=max(4e-2, lam), n_outer=6,
                                          refine=0, progress=False)
    err = kernel_error(k_hat, k)
    # align the image by the kernel's best shift (both centred in a common window first)
    size = max(kernel_size, 9)
    pad = lambda t: torch.nn.functional.pad(t, [(size - t.shape[-1]) // 2] * 4)  # noqa: E731
    x_al, k_al = align(x_hat, pad(k_hat), pad(k))
    p_y, p_hat = psnr_ssim(y, x)[0][0], psnr_ssim(x_al, x)[0][0]
    return images_and_kernels(
        [y, x_al, x], [f"blurred, {p_y:.1f} dB", f"blind estimate, {p_hat:.1f} dB", "sharp"],
        [k_al, pad(k)], [f"estimate (error {err:.2f})", "true kernel"],
        f"noise {noise:.3f}, window {kernel_size}x{kernel_size}, λ = {lam:.0e}")


def blind_widget() -> LiveFigure:
    """Sliders for the noise level, the kernel window and the l0 weight of the latent image."""
    import ipywidgets as w

    return live_figure(
        draw_blind,
        noise=w.FloatLogSlider(value=0.01, base=10, min=-3, max=-1.3, step=0.1, description="noise σ"),
        kernel_size=w.IntSlider(value=9, min=5, max=21, step=2, description="window"),
        lam=w.FloatLogSlider(value=8e-3, base=10, min=-3.5, max=-1, step=0.25, description="λ (l0)"),
    )
