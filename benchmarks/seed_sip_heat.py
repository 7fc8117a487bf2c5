"""Chapter 4 in the original notebook's setting: SIP, 500 steps, batches of 128, Adam 1e-3.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/seed_sip_heat.py

writes ``benchmarks/seed_sip_heat.json``, which the chapter reads and shows (it does not retrain).
The original PhiFlow notebook ("Learning to Invert Heat Conduction with Scale-invariant Updates")
prints the batch's x-L2 (``field.l2_loss(x_gt - x)``: half the sum of squares per example, as
mean ± std over the batch) every 10 steps; its stored output holds 40 such lines, although the
loop as shown prints 50. They are copied below and aligned with steps 0, 10, ..., 390 (an assumption:
the output does not say which steps they are), and the same statistic of ``course_lib.sip`` is
logged at the same steps. The script also measures what the notebook's mean shift does at step 0 (the
initial network's x-L2 with and without setting the prediction's mean to the observation's).
Run time on one thread of a 2-core laptop-class CPU: see ``seconds`` in the JSON file.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import torch

from course_lib.heat import diffuse, heat_sources
from course_lib.models import UNet
from course_lib.sip import heat_errors, predict, train_heat_inverter

OUT = Path(__file__).with_name("seed_sip_heat.json")

# Mean x-L2 of the batch, the 40 lines of the original notebook's stored output (read as steps 0, 10, ..., 390).
SEED_X_L2 = [
    10.493, 10.187, 11.047, 10.072, 8.682, 8.241, 8.466, 9.183, 8.269, 7.814,
    8.390, 7.937, 7.315, 7.617, 7.730, 7.126, 7.256, 7.313, 8.344, 6.463,
    7.400, 7.453, 7.298, 7.223, 6.610, 6.666, 6.979, 7.171, 6.919, 6.410,
    6.273, 7.019, 7.876, 6.431, 6.557, 5.735, 7.207, 6.715, 6.823, 5.899,
]


@torch.no_grad()
def mean_shift_effect(batch: int, seed: int = 0, amount: float = 8.0) -> dict:
    """x-L2 of the initial network on the first training batch, with and without the mean shift."""
    torch.manual_seed(seed)  # the initial weights train_heat_inverter(seed=0) starts from
    net = UNet(1, 1).train()  # train mode: batch statistics, as in the first training step
    x = heat_sources(batch, generator=torch.Generator().manual_seed(seed + 1))  # the first batch
    y = diffuse(x, amount)
    raw = net(y.float()).double()
    shifted = predict(net, y)
    mean_gap = float((y.mean(dim=(-2, -1)) - x.mean(dim=(-2, -1))).abs().max())
    return {
        "x_l2_with_shift": float(heat_errors(shifted, x, amount)["x_l2"].mean()),
        "x_l2_without_shift": float(heat_errors(raw, x, amount)["x_l2"].mean()),
        "x_l2_of_the_mean_alone": float(heat_errors(0 * raw + y.mean(dim=(-2, -1), keepdim=True), x,
                                                    amount)["x_l2"].mean()),
        "max_abs_mean_y_minus_mean_x": mean_gap,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=500)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args()

    shift = mean_shift_effect(args.batch)
    t0 = time.perf_counter()
    hist = train_heat_inverter("sip", args.steps, args.batch, seed=0, lr=1e-3, amount=8.0, progress=True)
    seconds = time.perf_counter() - t0
    logged = list(range(0, args.steps, 10))
    result = {
        "command": "OMP_NUM_THREADS=1 .venv/bin/python benchmarks/seed_sip_heat.py",
        "config": {"method": "sip", "steps": args.steps, "batch_size": args.batch, "lr": 1e-3,
                   "schedule": "constant", "amount": 8.0, "seed": 0},
        "steps_logged": logged,
        "course_x_l2": [round(hist["x_l2"][s], 4) for s in logged],
        "seed_steps_logged": list(range(0, 10 * len(SEED_X_L2), 10)),
        "seed_x_l2": SEED_X_L2,
        "mean_shift_at_step_0": shift,
        "seconds": round(seconds, 1),
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "machine": f"{platform.machine()} {platform.processor() or platform.system()}",
    }
    text = json.dumps(result, indent=1)
    print(text)
    if not args.no_write:
        OUT.write_text(text + "\n")


if __name__ == "__main__":
    main()
