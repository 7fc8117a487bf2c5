"""Chapter 1 widget: noise level, step size and iterations -> a fresh PGD kernel estimate.

The problem is small (a 96x96 colour crop, a 9x9 kernel) so that a redraw takes a
fraction of a second on a laptop CPU.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import torch

from ..data import load_image
from ..kernel_estimation import constant_init, pgd, relative_error
from ..kernels import motion_blur_kernel
from ..operators import Blur, add_gaussian_noise
from . import LiveFigure, live_figure

__all__ = ["draw_blind_kernel", "blind_kernel_widget"]

_PROBLEM: dict[str, torch.Tensor] = {}


def _problem() -> tuple[torch.Tensor, torch.Tensor]:
    if not _PROBLEM:
        x = load_image("coffee", size=192)[..., 48:144, 48:144]  # (1, 3, 96, 96) detailed crop
        _PROBLEM["x"] = x
        _PROBLEM["k"] = motion_blur_kernel(9, generator=torch.Generator().manual_seed(7))
    return _PROBLEM["x"], _PROBLEM["k"]


def draw_blind_kernel(noise: float = 0.02, step_size: float = 0.7, n_iter: int = 100) -> plt.Figure:
    """Blur the crop, add noise, run PGD and draw true/estimated kernels and the loss curve."""
    x, k_true = _problem()
    y = add_gaussian_noise(Blur(k_true)(x), noise, generator=torch.Generator().manual_seed(0))
    k_hat, losses = pgd(x, y, constant_init(k_true, margin=2), step_size=step_size, n_iter=n_iter, progress=False)
    err = relative_error(k_hat, k_true)
    fig, axes = plt.subplots(1, 3, figsize=(10, 3.2))
    for ax, k, title in zip(axes[:2], (k_true, k_hat), ("true kernel", f"PGD estimate (rel. error {err:.2f})")):
        ax.imshow(k[0, 0].numpy(), cmap="gray")
        ax.set_title(title)
        ax.axis("off")
    axes[2].semilogy(losses)
    axes[2].set_xlabel("iteration")
    axes[2].set_ylabel("data misfit $\\|k*x-y\\|^2/N$")
    axes[2].set_title(f"noise {noise:.3f}, step {step_size:.2f}")
    axes[2].grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    return fig


def blind_kernel_widget() -> LiveFigure:
    """Sliders for the noise level, the PGD step size and the number of iterations."""
    import ipywidgets as w

    return live_figure(
        draw_blind_kernel,
        noise=w.FloatLogSlider(value=0.02, base=10, min=-3, max=-0.3, step=0.1, description="noise σ"),
        step_size=w.FloatSlider(value=0.7, min=0.1, max=3.0, step=0.1, description="step τ"),
        n_iter=w.IntSlider(value=100, min=10, max=300, step=10, description="iterations"),
    )
