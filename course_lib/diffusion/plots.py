"""Chapter 3's figures: digit grids on one grey scale, annotated heat maps, the sampler's frames.

* :func:`show_digits` -- single-channel images on ``[-1, 1]`` side by side, one grey scale (black -1,
  white 1), NaN pixels (not measured) in blue;
* :func:`masked_y` -- an inpainting measurement with its missing pixels as NaN, for :func:`show_digits`;
* :func:`annotated_map` -- a ``steps x zeta`` table of numbers as a heat map with its values written in;
* :func:`reverse_player` -- ``x_t`` and Tweedie's ``x0_hat`` along a reverse process, as a frame player.
* :func:`method_curves` -- several methods' errors against the number of steps (or the noise), one panel each.

Example
-------
>>> import torch
>>> fig = show_digits([torch.zeros(1, 8, 8), torch.ones(1, 8, 8)], ["black", "white"])
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch

from ..operators import Inpainting
from .digits import to_unit

__all__ = ["show_digits", "masked_y", "annotated_map", "reverse_player", "method_curves"]


def _grey() -> "plt.Colormap":
    cmap = plt.get_cmap("gray").copy()
    cmap.set_bad("tab:blue")
    return cmap


def show_digits(images: Sequence[torch.Tensor], titles: Sequence[str], ncols: int | None = None,
                size: float = 1.55, suptitle: str | None = None, fontsize: float = 9) -> plt.Figure:
    """Images of shape ``(H, W)``, ``(1, H, W)`` or ``(1, 1, H, W)`` on ``[-1, 1]``, all on one grey scale."""
    if len(titles) != len(images):
        raise ValueError(f"titles has {len(titles)} entries for {len(images)} images")
    ncols = ncols or len(images)
    nrows = -(-len(images) // ncols)
    title_room = 0.3 if any(titles) else 0.05  # inches per row for the titles
    height = (size + title_room) * nrows + (0.25 * (1 + suptitle.count("\n")) if suptitle else 0.0)
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, height), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, img, title in zip(axes.flat, images, titles):
        a = to_unit(torch.as_tensor(img).detach().cpu().double())
        ax.imshow(a.reshape(a.shape[-2:]).numpy(), cmap=_grey(), vmin=0, vmax=1, interpolation="nearest")
        ax.set_title(title, fontsize=fontsize)
    if suptitle:
        fig.suptitle(suptitle, fontsize=fontsize + 1)
    fig.tight_layout()
    return fig


def masked_y(obs) -> torch.Tensor:
    """The measurement of an inpainting :class:`~course_lib.diffusion.Observation`, missing pixels as NaN."""
    if not isinstance(obs.operator, Inpainting):
        raise TypeError(f"obs must come from an Inpainting operator, got {type(obs.operator).__name__}")
    nan = torch.tensor(float("nan"), dtype=obs.y.dtype, device=obs.y.device)
    return torch.where(torch.broadcast_to(obs.operator.mask, obs.y.shape).bool(), obs.y, nan)


def annotated_map(ax: plt.Axes, data: np.ndarray, xticks: Sequence, yticks: Sequence, cmap: str = "viridis",
                  vmin: float | None = None, vmax: float | None = None, fmt: str = "{:.2f}",
                  xlabel: str = r"$\zeta$", ylabel: str = "steps", title: str = "", cbar_label: str = ""):
    """Draw ``data`` (rows: ``yticks``, columns: ``xticks``) as a heat map with every value written in it."""
    data = np.asarray(data, dtype=float)
    im = ax.imshow(data, cmap=cmap, vmin=vmin, vmax=vmax, aspect="auto")
    norm = im.norm
    for (r, c), v in np.ndenumerate(data):
        shade = norm(v) if np.isfinite(v) else 0.5
        rgba = plt.get_cmap(cmap)(shade)
        dark = 0.299 * rgba[0] + 0.587 * rgba[1] + 0.114 * rgba[2] < 0.5
        ax.text(c, r, fmt.format(v), ha="center", va="center", fontsize=9, color="w" if dark else "k")
    ax.set(xticks=range(len(xticks)), xticklabels=[f"{x:g}" for x in xticks], yticks=range(len(yticks)),
           yticklabels=[str(y) for y in yticks], xlabel=xlabel, ylabel=ylabel, title=title)
    cbar = ax.figure.colorbar(im, ax=ax)
    if cbar_label:
        cbar.set_label(cbar_label)
    return im


def reverse_player(frames: Sequence[tuple[int, torch.Tensor, torch.Tensor]], truth: torch.Tensor,
                   y_shown: torch.Tensor, alt: str, sigmas: Sequence[float]):
    """A frame player of ``(t, x_t / sqrt(abar_t), x0_hat)`` triples next to the measurement and the truth."""
    from ..plotting import frame_player

    fig, axes = plt.subplots(1, 4, figsize=(6.4, 2.0))
    panels = [truth, y_shown, frames[0][1], frames[0][2]]
    titles = ["truth", "y", "", ""]
    ims = []
    for ax, img, title in zip(axes, panels, titles):
        a = to_unit(torch.as_tensor(img).detach().cpu().double())
        ims.append(ax.imshow(a.reshape(a.shape[-2:]).numpy(), cmap=_grey(), vmin=0, vmax=1,
                             interpolation="nearest"))
        ax.set_title(title, fontsize=9)
        ax.axis("off")
    fig.tight_layout()

    def update(i: int) -> None:
        t, xt, x0 = frames[i]
        for im, ax, img, title in ((ims[2], axes[2], xt, rf"$x_t/\sqrt{{\bar\alpha_t}}$, t = {t}"),
                                   (ims[3], axes[3], x0, rf"$\hat x_0$, $\sigma_t$ = {sigmas[i]:.2g}")):
            im.set_data(to_unit(img.detach().cpu().double()).clamp(0, 1).reshape(img.shape[-2:]).numpy())
            ax.set_title(title, fontsize=9)

    return frame_player(fig, update, len(frames), alt=alt, interval_ms=200)


def method_curves(axes, results: dict, xs: Sequence, keys: Sequence[str], labels: Sequence[str],
                  references: Sequence[float | None] = (), xlabel: str = "number of steps",
                  logx: bool = True) -> None:
    """One panel per quantity: ``results[method][x][key]`` against ``x`` for every method.

    ``references`` (one per key, ``None`` for none) draws a dashed grey line, e.g. the error of
    exact samples or the ideal ratio 1. Diverged runs (``nan``) leave a gap in their curve.
    """
    markers = "osD^vPX*"
    for ax, key, label, ref in zip(axes, keys, labels, list(references) + [None] * len(keys)):
        for k, (name, by_x) in enumerate(results.items()):
            ax.plot(xs, [by_x[x][key] for x in xs], marker=markers[k % len(markers)], ms=4, label=name)
        if ref is not None:
            ax.axhline(ref, color="gray", ls="--", lw=0.9)
        if logx:
            ax.set_xscale("log")
        ax.set(xlabel=xlabel, title=label)
        ax.grid(alpha=0.3, which="both")
