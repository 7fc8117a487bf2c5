"""The original notebook's first training step, run with PhiFlow itself: the untrained network's x-L2.

PhiFlow is not a dependency of the course; install it next to the project without touching it::

    .venv/bin/pip install --no-deps --target /tmp/phi phiflow==3.4.0 phiml==1.16.1
    PYTHONPATH=/tmp/phi OMP_NUM_THREADS=1 .venv/bin/python benchmarks/seed_phiflow_step0.py

writes ``benchmarks/seed_phiflow_step0.json`` (a few seconds). The code is the original notebook's
``generate_heat_example`` and the first half of its ``loss_function`` with two API updates for
PhiFlow 3 (``SoftGeometryMask(box).at(grid)`` became ``resample(box, to=grid, soft=True)``;
``native_call`` returns the field itself, without a ``vector`` dimension to index).
"""

# ruff: noqa: F405 -- the names come from PhiFlow's star import, as in the original notebook
import json
import warnings
from pathlib import Path

warnings.filterwarnings("ignore")
from phi.torch.flow import *  # noqa: E402,F403

OUT = Path(__file__).with_name("seed_phiflow_step0.json")


def generate_heat_example(*shape, bounds: Box = None):  # noqa: F405
    shape = math.merge_shapes(*shape)
    heat_t0 = CenteredGrid(0, extrapolation.PERIODIC, bounds, resolution=shape.spatial)
    bounds = heat_t0.bounds
    component_counts = math.to_int32(4 + 7 * math.random_uniform(shape.batch))
    positions = (math.random_uniform(shape.batch, batch(components=10), channel(vector=shape.spatial.names))
                 - 0.5) * bounds.size * 0.8 + bounds.size * 0.5
    for i in range(10):
        position = positions.components[i]
        half_size = math.random_uniform(shape.batch, channel(vector=shape.spatial.names)) * 10
        strength = math.random_uniform(shape.batch) * math.to_float(i < component_counts)
        position = math.clip(position, bounds.lower + half_size, bounds.upper - half_size)
        component_box = Cuboid(position, half_size)
        heat_t0 += resample(component_box, to=heat_t0, soft=True) * strength
    return heat_t0


def mean_over_batch(t) -> float:
    return float(math.mean(t, "batch"))


math.set_global_precision(64)
math.seed(0)
net = u_net(1, 1)
x_gt = generate_heat_example(spatial(x=64, y=64), batch(batch=128))
y_target = diffuse.fourier(x_gt, 8.0, 1)
with math.precision(32):
    raw = field.native_call(net, y_target)
    prediction = raw + (field.mean(x_gt) - field.mean(raw))
result = {
    "command": "PYTHONPATH=/tmp/phi OMP_NUM_THREADS=1 .venv/bin/python benchmarks/seed_phiflow_step0.py",
    "phiflow": phi.__version__,
    "u_net_parameters": int(parameter_count(net)),
    "step0_x_l2_with_mean_shift": mean_over_batch(field.l2_loss(x_gt - prediction)),
    "step0_x_l2_without_mean_shift": mean_over_batch(field.l2_loss(x_gt - raw)),
    "x_l2_of_the_mean_alone": mean_over_batch(field.l2_loss(x_gt - field.mean(x_gt))),
}
print(json.dumps(result, indent=1))
OUT.write_text(json.dumps(result, indent=1) + "\n")
