"""The widgets' machinery: every chapter's draw function, and LiveFigure's PNG redraws."""

import importlib
import inspect

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from course_lib.widgets import LiveFigure  # noqa: E402

# (module, draw function, keyword changed by the test, new value)
DRAWS = [
    ("blind_kernel", "draw_blind_kernel", "noise", 0.1),
    ("sigma", "draw_sigma_fit", "true_sigma", 5.0),
    ("dps", "draw_dps", "seed", 1),
    ("heat", "draw_heat_inversion", "amount", 4.0),
]


class Control:
    """Stands in for an ipywidget: a ``value`` and ``observe``."""

    def __init__(self, value):
        self.value = value
        self.observers = []

    def observe(self, callback, names):
        self.observers.append(callback)

    def set(self, value):
        self.value = value
        for callback in self.observers:
            callback({"new": value})


@pytest.mark.parametrize("module, name, key, value", DRAWS, ids=[d[0] for d in DRAWS])
def test_redraw_changes_the_png(module, name, key, value):
    draw = getattr(importlib.import_module(f"course_lib.widgets.{module}"), name)
    control = Control(inspect.signature(draw).parameters[key].default)
    live = LiveFigure(draw, {key: control})
    first = live.render()
    assert first.data[:8] == b"\x89PNG\r\n\x1a\n"
    control.value = value
    second = live.render()
    assert second.data != first.data, "changing a control must change the figure"
    assert live.n_draws == 2 and live.last_seconds > 0
    assert not plt.get_fignums(), "LiveFigure must close the figures it draws"


def test_png_has_the_figure_size():
    import struct

    def draw(width=4.0):
        fig = plt.figure(figsize=(width, 2.0), dpi=50)
        fig.add_subplot().plot([0, 1])
        return fig

    live = LiveFigure(draw, {"width": Control(4.0)})
    png = live.render().data
    w, h = struct.unpack(">II", png[16:24])  # the IHDR chunk
    assert (w, h) == (200, 100), "one pass at the figure's own size, no tight-bbox crop"


def test_show_updates_the_display_in_place(monkeypatch):
    import IPython.display

    updates = []

    class Handle:
        def update(self, obj):
            updates.append(obj)

    monkeypatch.setattr(IPython.display, "display", lambda *a, **k: Handle() if k.get("display_id") else None)
    from course_lib.widgets.heat import draw_heat_inversion

    amount = Control(8.0)
    live = LiveFigure(draw_heat_inversion, {"amount": amount})
    monkeypatch.setattr("ipywidgets.HBox", lambda *a, **k: None)
    live.show()
    amount.set(6.0)
    assert len(updates) == 1 and updates[0].data[:4] == b"\x89PNG"
    assert live.n_draws == 2
