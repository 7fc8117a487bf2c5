"""Figures shared by the chapters: image grids and loss curves with labelled axes.

* :func:`to_numpy_image` -- a ``(C, H, W)``/``(1, C, H, W)`` tensor to an array ``imshow`` takes.
* :func:`show_images` -- a row (or grid) of images or kernels with titles.
* :func:`plot_losses` -- one or more curves against the iteration, log scale by default.

Every function returns the matplotlib ``Figure`` so a chapter can save or tweak it.

Example
-------
>>> show_images([x, y, k], ["sharp x", "blurred y", "kernel k"])
>>> plot_losses({"PGD": losses}, ylabel="data misfit")
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch

__all__ = ["to_numpy_image", "show_images", "plot_losses"]


def to_numpy_image(img: torch.Tensor | np.ndarray) -> np.ndarray:
    """``(1, C, H, W)``, ``(C, H, W)`` or ``(H, W)`` to ``(H, W)`` or ``(H, W, 3)`` float array."""
    a = img.detach().cpu().double().numpy() if isinstance(img, torch.Tensor) else np.asarray(img, dtype=float)
    if a.ndim == 4:
        if a.shape[0] != 1:
            raise ValueError(f"img must hold a single image, got a batch of {a.shape[0]}")
        a = a[0]
    if a.ndim == 3:
        a = a[0] if a.shape[0] == 1 else np.moveaxis(a, 0, -1)
    if a.ndim not in (2, 3):
        raise ValueError(f"img must be (H, W), (C, H, W) or (1, C, H, W), got shape {img.shape}")
    return a


def show_images(
    images: Sequence[torch.Tensor | np.ndarray],
    titles: Sequence[str] | None = None,
    ncols: int | None = None,
    cmap: str = "gray",
    size: float = 2.6,
    suptitle: str | None = None,
    clip: bool = True,
    colorbar: bool = False,
) -> plt.Figure:
    """Show images side by side, axes off, each with its title.

    Colour images are clipped to [0, 1] when ``clip``; single-channel images
    (kernels, error maps) are scaled to their own range with ``cmap``.
    """
    if titles is not None and len(titles) != len(images):
        raise ValueError(f"titles has {len(titles)} entries for {len(images)} images")
    n = len(images)
    ncols = ncols or n
    nrows = -(-n // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows + (0.4 if suptitle else 0)), squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i >= n:
            continue
        a = to_numpy_image(images[i])
        if a.ndim == 3:
            im = ax.imshow(np.clip(a, 0, 1) if clip else a)
        else:
            im = ax.imshow(a, cmap=cmap)
            if colorbar:
                fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
        if titles is not None:
            ax.set_title(titles[i], fontsize=10)
    if suptitle:
        fig.suptitle(suptitle)
    fig.tight_layout()
    return fig


def plot_losses(
    curves: Mapping[str, Sequence[float]] | Sequence[float],
    xlabel: str = "iteration",
    ylabel: str = "loss",
    title: str | None = None,
    log: bool = True,
    ax: plt.Axes | None = None,
    x: Mapping[str, Sequence[float]] | None = None,
) -> plt.Figure:
    """Plot one curve (a sequence) or several (a ``{label: values}`` mapping).

    ``x`` optionally maps a label to its own abscissae (e.g. wall-clock seconds).
    """
    if not isinstance(curves, Mapping):
        curves = {ylabel: curves}
    if ax is None:
        fig, ax = plt.subplots(figsize=(5.5, 3.5))
    else:
        fig = ax.figure
    for label, values in curves.items():
        values = np.asarray([float(v) for v in values])
        xs = np.asarray(x[label]) if x is not None and label in x else np.arange(len(values))
        ax.plot(xs, values, label=label)
    if log:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title or f"{ylabel} during optimisation")
    if len(curves) > 1:
        ax.legend()
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    return fig
