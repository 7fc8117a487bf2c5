"""Chapter 2 widget: true scale, initial scale, step size and support -> a fresh 1-D sigma fit.

The problem is the chapter's first toy -- a random signal of length 100 blurred with a
truncated Gaussian (``std_devs=2``) -- so 100 SGD steps on log sigma redraw in well under
a second. The ``std_devs`` slider changes the *model's* support only: any value but 2 is a
slightly wrong model of the data, and the recovered sigma moves away from the truth.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import torch

from ..sigma import fit_sigma, gaussian_blur1d
from . import LiveFigure, slider_widget

__all__ = ["draw_sigma_fit", "sigma_widget"]

_SIGNAL = torch.randn(1, 1, 100, generator=torch.Generator().manual_seed(0), dtype=torch.float64)  # (1, 1, 100)
_STEPS = 100  # SGD steps per redraw, as in the original example's 1-D toy


def draw_sigma_fit(true_sigma: float = 3.0, sigma0: float = 1.0, lr: float = 1.0, std_devs: float = 2.0) -> plt.Figure:
    """Fit log sigma by 100 SGD steps and draw the scale, the loss and the final fit."""
    x = _SIGNAL
    target = gaussian_blur1d(x, true_sigma, std_devs=2)  # (1, 1, 100)
    run = fit_sigma(x, target, sigma0=sigma0, lr=lr, steps=_STEPS, std_devs=std_devs)
    sigma, loss = run["sigma"].numpy(), run["loss"].numpy()
    fig, axes = plt.subplots(1, 3, figsize=(11, 3.2))  # shown full width in the book
    axes[0].semilogy(sigma, label="learned $\\sigma$")
    axes[0].axhline(true_sigma, color="k", ls="--", lw=1, label="true $\\sigma^\\star$")
    axes[0].set_xlabel("iteration")
    axes[0].set_ylabel("$\\sigma$ (samples)")
    status = "diverged" if run["diverged"] else f"final $\\sigma$ = {sigma[-1]:.3f}"
    axes[0].set_title(status)
    axes[0].legend(loc="best")
    axes[1].semilogy(loss)
    axes[1].set_xlabel("iteration")
    axes[1].set_ylabel("loss $\\ell = \\frac{1}{2}\\,\\mathrm{mean}(g_\\sigma * x - y)^2$")
    axes[1].set_title(f"lr {lr:g}, std_devs {std_devs:g}")
    axes[1].grid(True, which="both", alpha=0.3)
    axes[2].plot(target[0, 0].numpy(), "k", lw=1.5, label="data $y$")
    if not run["diverged"]:
        fit = gaussian_blur1d(x, float(sigma[-1]), std_devs=std_devs)
        axes[2].plot(fit[0, 0].numpy(), "r--", lw=1.2, label="$g_\\sigma * x$")
    axes[2].set_xlabel("sample index")
    axes[2].set_ylabel("value (a.u.)")
    axes[2].set_title("fit after the last step")
    axes[2].legend(loc="upper right")
    fig.tight_layout()
    return fig


def sigma_widget() -> LiveFigure:
    """Sliders for the true scale, the initial scale, the SGD step size and the model's support."""
    return slider_widget(
        draw_sigma_fit,
        true_sigma=("true σ*", 3.0, 0.5, 8.0, 0.1),
        sigma0=("initial σ", 1.0, -1.3, 1.5, 0.05, "log"),
        lr=("step (lr)", 1.0, -1, 2.5, 0.1, "log"),
        std_devs=("std_devs", 2.0, 1.0, 4.0, 0.25),
    )
