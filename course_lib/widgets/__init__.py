"""Interactive explorations, one module per chapter.

Each widget wraps a small, fast problem (a redraw takes well under two seconds on
a laptop CPU) and also shows the figure of its default state, so the static book
-- which cannot run Python -- still shows what the widget draws.
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable, Mapping

import matplotlib.pyplot as plt

__all__ = ["LiveFigure", "live_figure", "slider_widget"]


class LiveFigure:
    """Controls above a figure that is redrawn whenever a control changes.

    The figure is an ordinary display output (``image/png``) updated in place
    through its ``display_id``, so the executed notebook -- and therefore the
    static book -- contains the figure of the default state, while in Jupyter
    moving a control redraws it. The PNG is encoded here in one pass at the
    figure's own size (the inline backend's ``bbox_inches="tight"`` draws every
    figure twice), so a draw function lays out its figure itself. ``last_seconds``
    holds the time of the last redraw, PNG encoding included.
    """

    def __init__(self, draw: Callable[..., plt.Figure], controls: Mapping[str, object]) -> None:
        self.draw = draw
        self.controls = dict(controls)
        self.last_seconds = float("nan")
        self.n_draws = 0
        self._handle = None

    def values(self) -> dict[str, object]:
        return {name: c.value for name, c in self.controls.items()}

    def render(self):
        """Draw the figure for the current control values as a PNG image (and time it).

        The draw runs on one PyTorch thread: a widget's problem is tiny, and on a busy laptop
        (browser, other kernels) a multi-threaded redraw can be many times slower, not faster.
        """
        import torch

        t0 = time.perf_counter()
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            fig = self.draw(**self.values())
        finally:
            torch.set_num_threads(threads)
        try:
            image = _png(fig)
        finally:
            plt.close(fig)
        self.last_seconds = time.perf_counter() - t0
        self.n_draws += 1
        return image

    def _update(self, _change=None) -> None:
        image = self.render()
        if self._handle is not None:
            self._handle.update(image)

    def show(self) -> "LiveFigure":
        import ipywidgets as widgets
        from IPython.display import display

        box = widgets.HBox(list(self.controls.values()), layout=widgets.Layout(flex_flow="row wrap"))
        display(box)
        self._handle = display(self.render(), display_id=True)
        for c in self.controls.values():
            c.observe(self._update, names="value")
        return self


def _png(fig: plt.Figure):
    """``fig`` as an ``IPython.display.Image`` (PNG at the figure's size and dpi)."""
    from IPython.display import Image

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=fig.dpi, facecolor="white")
    return Image(data=buffer.getvalue(), format="png")


def live_figure(draw: Callable[..., plt.Figure], **controls: object) -> LiveFigure:
    """Show ``controls`` (ipywidgets, by keyword) and the figure ``draw(**values)``; see :class:`LiveFigure`."""
    return LiveFigure(draw, controls).show()


def slider_widget(draw: Callable[..., plt.Figure], **sliders: tuple) -> LiveFigure:
    """:func:`live_figure` with one ipywidgets slider per keyword of ``draw``.

    Each keyword is ``(label, value, lo, hi, step)``: an ``IntSlider`` when all four numbers are
    ints, else a ``FloatSlider``; a sixth entry ``"log"`` makes a base-10 ``FloatLogSlider``, whose
    ``lo``, ``hi`` and ``step`` are exponents (as in ipywidgets).

    Example
    -------
    >>> import matplotlib.pyplot as plt
    >>> def draw(n=3, scale=1.0):
    ...     fig, ax = plt.subplots(figsize=(3, 2))
    ...     ax.plot(range(n), [scale] * n)
    ...     return fig
    >>> live = slider_widget(draw, n=("points", 3, 2, 10, 1),
    ...                      scale=("scale", 1.0, -1, 1, 0.1, "log"))  # doctest: +SKIP
    """
    import ipywidgets as w

    controls = {}
    for name, spec in sliders.items():
        if not isinstance(spec, tuple) or len(spec) not in (5, 6) or (len(spec) == 6 and spec[5] != "log"):
            raise ValueError(f"{name} must be (label, value, lo, hi, step) or (..., 'log'), got {spec!r}")
        label, value, lo, hi, step = spec[:5]
        if len(spec) == 6:
            controls[name] = w.FloatLogSlider(value=value, base=10, min=lo, max=hi, step=step, description=label)
        elif all(isinstance(v, int) and not isinstance(v, bool) for v in (value, lo, hi, step)):
            controls[name] = w.IntSlider(value=value, min=lo, max=hi, step=step, description=label)
        else:
            controls[name] = w.FloatSlider(value=value, min=lo, max=hi, step=step, description=label)
    return live_figure(draw, **controls)
