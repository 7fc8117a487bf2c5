"""Interactive explorations, one module per chapter.

Each widget wraps a small, fast problem (a redraw takes well under two seconds on
a laptop CPU) and also shows the figure of its default state, so the static book
-- which cannot run Python -- still shows what the widget draws.
"""

from __future__ import annotations



import time
from collections.abc import Callable, Mapping

import matplotlib.pyplot as plt

__all__ = ["LiveFigure", "live_figure"]


class LiveFigure:
    """Controls above a figure that is redrawn whenever a control changes.

    The figure is an ordinary display output (``image/png``) updated in place
    through its ``display_id``, so the executed notebook -- and therefore the
    static book -- contains the figure of the default state, while in Jupyter
    moving a control redraws it. ``last_seconds`` holds the time of the last redraw.
    """

    def __init__(self, draw: Callable[..., plt.Figure], controls: Mapping[str, object]) -> None:
        self.draw = draw
        self.controls = dict(controls)
        self.last_seconds = float("nan")
        self.n_draws = 0
        self._handle = None

    def values(self) -> dict[str, object]:
        return {name: c.value for name, c in self.controls.items()}

    def render(self) -> plt.Figure:
        """Draw the figure for the current control values (and time it).

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
        self.last_seconds = time.perf_counter() - t0
        self.n_draws += 1
        return fig

    def _update(self, _change=None) -> None:
        fig = self.render()
        if self._handle is not None:
            self._handle.update(fig)
        plt.close(fig)

    def show(self) -> "LiveFigure":
        import ipywidgets as widgets
        from IPython.display import display

        box = widgets.HBox(list(self.controls.values()), layout=widgets.Layout(flex_flow="row wrap"))
        display(box)
        fig = self.render()
        self._handle = display(fig, display_id=True)
        plt.close(fig)
        for c in self.controls.values():
            c.observe(self._update, names="value")
        return self


def live_figure(draw: Callable[..., plt.Figure], **controls: object) -> LiveFigure:
    """Show ``controls`` (ipywidgets, by keyword) and the figure ``draw(**values)``; see :class:`LiveFigure`."""
    return LiveFigure(draw, controls).show()
