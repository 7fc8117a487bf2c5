"""Figures and tables of chapter 5: images with their kernels, a kernel player, Markdown tables.

Every figure is at most 7 inches wide (two to four panels across the book's column), grey
images on one fixed scale ``[0, 1]``, kernels on one shared colour scale with a colourbar.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch

from ..plotting import frame_player, markdown_table, show_kernels, to_numpy_image

__all__ = ["images_and_kernels", "image_row", "image_grid", "kernel_player", "mean_std", "markdown_table",
           "table_row"]


def image_row(images: Sequence[torch.Tensor], titles: Sequence[str], suptitle: str,
              width: float = 7.0) -> plt.Figure:
    """Grey images side by side on the fixed scale [0, 1] (black to white), axes in pixels."""
    n = len(images)
    fig, axes = plt.subplots(1, n, figsize=(width, width / n + 0.9), squeeze=False, layout="constrained")
    for ax, im, t in zip(axes[0], images, titles):
        a = to_numpy_image(im)
        ax.imshow(a if a.ndim == 2 else a.mean(-1), cmap="gray", vmin=0.0, vmax=1.0)
        ax.set_title(t, fontsize=9)
        ax.tick_params(labelsize=8)
        ax.set_xlabel("x (px)", fontsize=8)
    axes[0, 0].set_ylabel("y (px)", fontsize=8)
    fig.suptitle(suptitle, fontsize=10)
    return fig


def images_and_kernels(images: Sequence[torch.Tensor], image_titles: Sequence[str],
                       kernels: Sequence[torch.Tensor], kernel_titles: Sequence[str], suptitle: str) -> plt.Figure:
    """Top row: grey images on [0, 1]; bottom row: kernels on one colour scale with a colourbar."""
    n = max(len(images), len(kernels))
    fig = plt.figure(figsize=(7.0, 7.0 / n * 2 + 1.2), layout="constrained")
    top, bottom = fig.subfigures(2, 1, height_ratios=[1.0, 1.0])
    ax_i = top.subplots(1, n, squeeze=False)[0]
    ax_k = bottom.subplots(1, n, squeeze=False)[0]
    for ax, im, t in zip(ax_i, images, image_titles):
        a = to_numpy_image(im)
        ax.imshow(a if a.ndim == 2 else a.mean(-1), cmap="gray", vmin=0.0, vmax=1.0)
        ax.set_title(t, fontsize=9)
        ax.axis("off")
    for ax in list(ax_i[len(images):]) + list(ax_k[len(kernels):]):
        ax.axis("off")
    show_kernels(list(kernels), list(kernel_titles), axes=ax_k[: len(kernels)])
    for ax in ax_k[: len(kernels)]:
        ax.title.set_fontsize(9)
    fig.suptitle(suptitle, fontsize=10)
    return fig


def kernel_player(frames: Sequence[tuple[int, torch.Tensor, torch.Tensor]], k_true: torch.Tensor, alt: str,
                  every: int = 1):
    """Step through ``(level, latent image, kernel)`` frames of the blind method next to the true kernel."""
    frames = list(frames)[::every]
    h = k_true.shape[-1]
    fig, axes = plt.subplots(1, 3, figsize=(7.0, 2.7), layout="constrained")
    vmax = float(k_true.max())

    def pad(k: torch.Tensor) -> np.ndarray:  # a coarse kernel drawn in the centre of the full window
        a = to_numpy_image(k)
        out = np.zeros((h, h))
        o = (h - a.shape[0]) // 2
        out[o : o + a.shape[0], o : o + a.shape[1]] = a
        return out

    im_x = axes[0].imshow(to_numpy_image(frames[0][1]), cmap="gray", vmin=0, vmax=1)
    im_k = axes[1].imshow(pad(frames[0][2]), cmap="magma", vmin=0, vmax=vmax)
    im_t = axes[2].imshow(to_numpy_image(k_true), cmap="magma", vmin=0, vmax=vmax)
    axes[2].set_title("true kernel", fontsize=9)
    for ax in axes:
        ax.set_xlabel("column (px)", fontsize=8)
        ax.tick_params(labelsize=8)
    axes[0].set_ylabel("row (px)", fontsize=8)
    bar = fig.colorbar(im_k, ax=axes[1:], fraction=0.05)
    bar.set_label("kernel weight", fontsize=8)
    bar.ax.tick_params(labelsize=8)

    def update(i: int) -> None:
        lev, x, k = frames[i]
        im_x.set_data(to_numpy_image(x))
        im_x.set_extent((-0.5, x.shape[-1] - 0.5, x.shape[-2] - 0.5, -0.5))
        im_k.set_data(pad(k))
        top = max(vmax, float(k.max()))  # one scale for estimate and truth in every frame
        im_k.set_clim(0, top)
        im_t.set_clim(0, top)
        axes[0].set_title(f"latent image, level {lev + 1}", fontsize=9)
        axes[1].set_title(f"kernel estimate ({k.shape[-1]}x{k.shape[-1]})", fontsize=9)

    update(0)
    return frame_player(fig, update, len(frames), alt=alt)


def mean_std(a: np.ndarray, fmt: str = ".2f") -> str:
    """``"m ± s"`` of an array (population standard deviation)."""
    a = np.asarray(a, dtype=float)
    return f"{a.mean():{fmt}} ± {a.std():{fmt}}"


def table_row(name: str, result: tuple) -> list[str]:
    """A table row ``[name, PSNR, SSIM, kernel error]`` as ``mean ± std`` from :func:`~.metrics.evaluate`'s tuple."""
    p, s, e = result
    return [name, mean_std(p), mean_std(s, ".3f"), "–" if e is None else mean_std(e)]


def image_grid(rows: Sequence[Sequence[torch.Tensor]], col_titles: Sequence[str], suptitle: str,
               width: float = 7.0) -> plt.Figure:
    """A grid of grey images on [0, 1]: one row per example, one column per method, titles on top."""
    n_r, n_c = len(rows), len(col_titles)
    fig, axes = plt.subplots(n_r, n_c, figsize=(width, width / n_c * n_r + 0.6), squeeze=False,
                             layout="constrained")
    for r, images in enumerate(rows):
        for c, im in enumerate(images):
            axes[r, c].imshow(to_numpy_image(im), cmap="gray", vmin=0.0, vmax=1.0)
            axes[r, c].set_xticks([])
            axes[r, c].set_yticks([])
            if r == 0:
                axes[r, c].set_title(col_titles[c], fontsize=9)
    fig.suptitle(suptitle, fontsize=10)
    return fig
