"""Chapter 1 widget: noise level, step size and iterations -> a fresh PGD kernel estimate.

The problem is small (a 96x96 colour crop, a 9x9 kernel) so that a redraw takes a
fraction of a second on a laptop CPU. The figure states the problem's Lipschitz constant
``L`` and the step ``2/L`` beyond which PGD is no longer guaranteed to decrease the loss.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import torch

from ..data import load_image
from ..kernel_estimation import constant_init, lipschitz_constant, pgd, relative_error
from ..kernels import motion_blur_kernel
from ..operators import Blur, add_gaussian_noise
from ..plotting import show_kernels
from . import LiveFigure, live_figure

__all__ = ["draw_blind_kernel", "blind_kernel_widget", "widget_lipschitz"]

_PROBLEM: dict[str, object] = {}


def _problem() -> tuple[torch.Tensor, torch.Tensor, float]:
    if not _PROBLEM:
        x = load_image("coffee", size=192)[..., 48:144, 48:144]  # (1, 3, 96, 96) detailed crop
        k = motion_blur_kernel(9, generator=torch.Generator().manual_seed(7))  # (1, 1, 9, 9)
        _PROBLEM.update(x=x, k=k, L=lipschitz_constant(x, tuple(k.shape)))
    return _PROBLEM["x"], _PROBLEM["k"], _PROBLEM["L"]  # type: ignore[return-value]


def widget_lipschitz() -> float:
    """The Lipschitz constant ``L`` of the widget's problem (zero-sum directions)."""
    return _problem()[2]


def draw_blind_kernel(noise: float = 0.02, step_size: float = 0.7, n_iter: int = 100) -> plt.Figure:
    """Blur the crop, add noise, run PGD; draw both kernels (one colour scale), loss and error."""
    x, k_true, L = _problem()
    y = add_gaussian_noise(Blur(k_true)(x), noise, generator=torch.Generator().manual_seed(0))
    errors: list[float] = []
    k_hat, losses = pgd(
        x, y, constant_init(k_true, margin=2), step_size=step_size, n_iter=n_iter, progress=False,
        callback=lambda i, k: errors.append(relative_error(k, k_true)),
    )
    fig, axes = plt.subplots(2, 2, figsize=(7, 5.6), layout="constrained")
    show_kernels([k_true, k_hat], ["true kernel", f"PGD estimate (error {errors[-1]:.2f})"], axes=axes[0])
    safe = "inside" if step_size * L < 2 else "OUTSIDE"
    fig.suptitle(
        f"noise {noise:.3f}, step τ = {step_size:.2f}; 2/L = {2 / L:.2f}: τ is {safe} the guarantee",
        fontsize=10,
    )
    curves = ((axes[1, 0], 0, losses, "misfit $\\|k*x-y\\|^2/(2N)$"),
              (axes[1, 1], 1, errors, "relative kernel error"))
    for ax, first, values, label in curves:  # losses[i] is f(k_i); errors[i] is after step i
        ax.semilogy(range(first, first + len(values)), values)
        ax.set_xlabel("iteration")
        ax.set_ylabel(label)
        ax.grid(True, which="both", alpha=0.3)
    return fig


def blind_kernel_widget() -> LiveFigure:
    """Sliders for the noise level, the PGD step size and the number of iterations."""
    import ipywidgets as w

    return live_figure(
        draw_blind_kernel,
        noise=w.FloatLogSlider(value=0.02, base=10, min=-3, max=-0.3, step=0.1, description="noise σ"),
        step_size=w.FloatSlider(value=0.7, min=0.1, max=8.0, step=0.1, description="step τ"),
        n_iter=w.IntSlider(value=100, min=10, max=300, step=10, description="iterations"),
    )
