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
    ("blind", "draw_blind", "noise", 0.03),
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


def test_blind_kernel_widget_states_two_over_L():
    """Chapter 1: the figure names the step beyond which PGD's decrease is no longer guaranteed."""
    from course_lib.widgets.blind_kernel import draw_blind_kernel, widget_lipschitz

    L = widget_lipschitz()
    for step, verdict in ((0.7, "inside"), (2.2 / L, "OUTSIDE")):
        fig = draw_blind_kernel(step_size=step, n_iter=10)
        title = fig._suptitle.get_text()
        assert f"2/L = {2 / L:.2f}" in title and verdict in title
        # both kernels share one colour scale (plotting.show_kernels), from 0 to the largest entry
        clims = [ax.images[0].get_clim() for ax in fig.axes if ax.images]
        assert len(clims) == 2 and clims[0] == clims[1] and clims[0][0] == 0.0
        plt.close(fig)


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


def test_slider_widget_builds_the_slider_each_spec_asks_for(monkeypatch):
    import ipywidgets

    import course_lib.widgets as cw

    shown = {}
    monkeypatch.setattr(cw, "live_figure", lambda draw, **controls: shown.update(controls) or draw)
    cw.slider_widget(lambda **kw: None, n=("n", 3, 1, 9, 1), x=("x", 0.5, 0.0, 1.0, 0.1),
                     z=("z", 1.0, -1.0, 2.0, 0.1, "log"))
    assert isinstance(shown["n"], ipywidgets.IntSlider) and isinstance(shown["x"], ipywidgets.FloatSlider)
    assert isinstance(shown["z"], ipywidgets.FloatLogSlider) and shown["z"].max == 2.0 and shown["z"].value == 1.0
    with pytest.raises(ValueError, match="label, value, lo, hi, step"):
        cw.slider_widget(lambda **kw: None, n=("n", 3, 1, 9, 1, "lin"))


def test_dps_widget_uses_its_sliders(monkeypatch):
    import course_lib.widgets as cw
    from course_lib.widgets.dps import draw_dps, dps_widget

    shown = {}
    monkeypatch.setattr(cw, "live_figure", lambda draw, **controls: shown.update(controls, draw=draw))
    dps_widget()
    assert shown.pop("draw") is draw_dps
    defaults = inspect.signature(draw_dps).parameters
    assert {k: c.value for k, c in shown.items()} == {k: p.default for k, p in defaults.items()}
