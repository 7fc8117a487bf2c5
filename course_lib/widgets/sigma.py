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
from . import LiveFigure, live_figure

__all__ = ["draw_sigma_fit", "sigma_widget"]

_SIGNAL = torch.randn(1, 1, 100, generator=torch.Generator().manual_seed(0), dtype=torch.float64)  # (1, 1, 100)


def draw_sigma_fit(
    true_sigma: float = 3.0, sigma0: float = 1.0, lr: float = 1.0, std_devs: float = 2.0, steps: int = 100
) -> plt.Figure:
    """Fit log sigma by SGD and draw the scale, the loss and the final fit."""
    x = _SIGNAL
    target = gaussian_blur1d(x, true_sigma, std_devs=2)  # (1, 1, 100)
    run = fit_sigma(x, target, sigma0=sigma0, lr=lr, steps=steps, std_devs=std_devs)
    sigma, loss = run["sigma"].numpy(), run["loss"].numpy()
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.2))
    axes[0].semilogy(sigma, label="learned $\\sigma$")
    axes[0].axhline(true_sigma, color="k", ls="--", lw=1, label="true $\\sigma^\\star$")
    axes[0].set_xlabel("iteration")
    axes[0].set_ylabel("$\\sigma$")
    status = "diverged" if run["diverged"] else f"final $\\sigma$ = {sigma[-1]:.3f}"
    axes[0].set_title(status)
    axes[0].legend(loc="best")
    axes[1].semilogy(loss)
    axes[1].set_xlabel("iteration")
    axes[1].set_ylabel("loss $\\frac{1}{2}\\,\\mathrm{mean}(g_\\sigma * x - y)^2$")
    axes[1].set_title(f"lr {lr:g}, std_devs {std_devs:g}")
    axes[1].grid(True, which="both", alpha=0.3)
    axes[2].plot(target[0, 0].numpy(), "k", lw=1.5, label="data $y$")
    if not run["diverged"]:
        fit = gaussian_blur1d(x, float(sigma[-1]), std_devs=std_devs)
        axes[2].plot(fit[0, 0].numpy(), "r--", lw=1.2, label="$g_\\sigma * x$")
    axes[2].set_xlabel("sample")
    axes[2].set_ylabel("value")
    axes[2].set_title("fit after the last step")
    axes[2].legend(loc="upper right")
    fig.tight_layout()
    return fig


def sigma_widget() -> LiveFigure:
    """Sliders for the true scale, the initial scale, the SGD step size and the model's support."""
    import ipywidgets as w

    return live_figure(
        draw_sigma_fit,
        true_sigma=w.FloatSlider(value=3.0, min=0.5, max=8.0, step=0.1, description="true σ*"),
        sigma0=w.FloatLogSlider(value=1.0, base=10, min=-1.3, max=1.5, step=0.05, description="initial σ"),
        lr=w.FloatLogSlider(value=1.0, base=10, min=-1, max=2.5, step=0.1, description="step (lr)"),
        std_devs=w.FloatSlider(value=2.0, min=1.0, max=4.0, step=0.25, description="std_devs"),
    )
