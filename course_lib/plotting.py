"""Figures shared by the chapters: image grids and loss curves with labelled axes.

* :func:`to_numpy_image` -- a ``(C, H, W)``/``(1, C, H, W)`` tensor to an array ``imshow`` takes.
* :func:`show_images` -- a row (or grid) of images or kernels with titles.
* :func:`plot_losses` -- one or more curves against the iteration, log scale by default.
* :func:`show_kernels` -- kernels side by side on one shared colour scale, with a colourbar.
* :func:`frame_player` -- precomputed frames with a play/step slider that works in a static page
  (matplotlib's ``Animation.to_jshtml``: the frames are embedded PNGs, the player is inline
  JavaScript, nothing is loaded from the network).

Every function but :func:`frame_player` (an HTML player) returns the matplotlib ``Figure``, so a
chapter can save or tweak it.

Example
-------
>>> x, y = torch.rand(1, 3, 16, 16), torch.rand(1, 3, 12, 12)
>>> k = torch.full((1, 1, 5, 5), 1 / 25)
>>> fig = show_images([x, y, k], ["sharp x", "blurred y", "kernel k"])
>>> fig = plot_losses({"PGD": [1.0, 0.5, 0.3]}, ylabel="data misfit")
>>> plt.close("all")
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from html import escape

import matplotlib.pyplot as plt
import numpy as np
import torch

__all__ = ["to_numpy_image", "show_images", "plot_losses", "frame_player", "PLAYER_MAX_BYTES", "show_kernels",
           "markdown_table"]


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


_CDN_STYLESHEET = re.compile(r"<link[^>]*href=\"https?://[^\"]*\"[^>]*>")
PLAYER_MAX_BYTES = 2_000_000  # a player is embedded in its page: keep each page light


def frame_player(
    fig: plt.Figure,
    update: Callable[[int], object],
    n_frames: int,
    alt: str,
    interval_ms: int = 250,
    dpi: int = 80,
    max_bytes: int = PLAYER_MAX_BYTES,
):
    """A figure the reader steps through without a kernel: ``update(i)`` draws frame ``i``.

    ``fig`` is drawn once per frame after ``update(i)`` changed its artists; the frames are
    rendered to PNG and embedded with matplotlib's JavaScript player (``to_jshtml``), so the
    result plays in the rendered book, offline, and in a notebook alike. The figure is closed
    (it is not shown a second time). ``alt`` describes the animation for a reader who cannot see
    it; it becomes the frame image's ``alt`` text. Returns an :class:`IPython.display.HTML`.

    Raises ``ValueError`` if ``n_frames < 1``, if ``alt`` is empty, or if the embedded player exceeds ``max_bytes``
    (fewer frames, a smaller figure or a lower ``dpi`` fix that).

    Example
    -------
    >>> fig, ax = plt.subplots(figsize=(3, 2))
    >>> (line,) = ax.plot([0, 1], [0, 0])
    >>> player = frame_player(fig, lambda i: line.set_ydata([0, i]), n_frames=3,
    ...                       alt="a line that tilts up frame by frame")
    >>> "<img" in player.data
    True
    """
    from IPython.display import HTML
    from matplotlib.animation import FuncAnimation

    if not isinstance(n_frames, int) or n_frames < 1:
        raise ValueError(f"n_frames must be a positive int, got {n_frames!r}")
    if not isinstance(alt, str) or not alt.strip():
        raise ValueError("alt must describe the animation in words (it is the image's alt text)")
    if not callable(update):
        raise TypeError(f"update must be a function of the frame index, got {type(update).__name__}")
    old_dpi = fig.dpi
    fig.set_dpi(dpi)
    if fig.get_layout_engine() is not None:  # lay out once, on frame 0, and keep that layout: a
        fig.canvas.draw()                    # layout engine would redo it for every frame
        fig.set_layout_engine("none")
    anim = FuncAnimation(fig, update, frames=n_frames, interval=interval_ms, blit=False, repeat=False)
    with plt.rc_context({"animation.embed_limit": 4 * max_bytes / 2**20}):
        html = anim.to_jshtml(default_mode="once")
    fig.set_dpi(old_dpi)
    plt.close(fig)
    # to_jshtml links Font Awesome from a CDN for its button icons; the book's theme bundles Font
    # Awesome already, and a page of this course loads nothing from the network.
    html = _CDN_STYLESHEET.sub("", html)
    html = html.replace("<img id=", f'<img alt="{escape(alt)}" id=', 1)
    if len(html) > max_bytes:
        raise ValueError(
            f"the player is {len(html) / 1e6:.1f} MB, over max_bytes={max_bytes / 1e6:.1f} MB: "
            "use fewer frames, a smaller figure or a lower dpi"
        )
    return HTML(html)


def show_kernels(
    kernels: Sequence[torch.Tensor | np.ndarray],
    titles: Sequence[str],
    suptitle: str | None = None,
    size: float = 2.4,
    vmax: float | None = None,
    cmap: str = "magma",
    label: str = "kernel weight",
    axes: Sequence[plt.Axes] | None = None,
) -> plt.Figure:
    """Kernels side by side on ONE colour scale ``[0, vmax]`` (default: the largest entry shown),
    axes in pixels, and a single colourbar labelled ``label``, so that the panels compare.

    ``axes`` draws into existing axes (one per kernel) instead of a new figure.
    """
    if len(titles) != len(kernels):
        raise ValueError(f"titles has {len(titles)} entries for {len(kernels)} kernels")
    arrays = [to_numpy_image(k) for k in kernels]
    if any(a.ndim != 2 for a in arrays):
        raise ValueError("kernels must be single-channel (h, w) arrays or (1, 1, h, w) tensors")
    top = float(max(a.max() for a in arrays)) if vmax is None else float(vmax)
    if axes is None:
        fig, axes = plt.subplots(1, len(arrays), figsize=(size * len(arrays) + 0.8, size + 0.5), squeeze=False)
        axes = list(axes[0])
    else:
        axes = list(axes)
        if len(axes) != len(arrays):
            raise ValueError(f"axes has {len(axes)} entries for {len(arrays)} kernels")
    fig = axes[0].figure
    for ax, a, title in zip(axes, arrays, titles):
        im = ax.imshow(a, cmap=cmap, vmin=0.0, vmax=top)
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("column (px)", fontsize=9)
        ax.tick_params(labelsize=9)
    axes[0].set_ylabel("row (px)", fontsize=9)
    bar = fig.colorbar(im, ax=axes, fraction=0.046 / max(1, len(axes) // 2), pad=0.02)
    bar.set_label(label, fontsize=9)
    bar.ax.tick_params(labelsize=9)
    if suptitle:
        fig.suptitle(suptitle, fontsize=11)
    return fig


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A Markdown table from a header and rows of cells (each cell ``str()``-ed), for ``display(Markdown(...))``.

    Example
    -------
    >>> print(markdown_table(["method", "error"], [["GD", "1.0"], ["SIP", "0.5"]]))
    | method | error |
    |---|---|
    | GD | 1.0 |
    | SIP | 0.5 |
    """
    width = len(header)
    for i, row in enumerate(rows):
        if len(row) != width:
            raise ValueError(f"rows[{i}] has {len(row)} cells, the header {width}")
    lines = ["| " + " | ".join(str(h) for h in header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)
