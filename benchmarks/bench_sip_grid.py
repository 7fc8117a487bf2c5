"""Chapter 4's fair comparison: {SGD, Adam} x {GD, SIP}, SIP with the Tikhonov (Levenberg--Marquardt)
inverse, supervised training on pseudo-labels and on the true sources, at three noise levels.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_sip_grid.py            # ~30 min on 2 cores
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_sip_grid.py --quick    # smoke test, no files

writes ``benchmarks/sip_grid.json`` and the ``## SIP grid`` section of ``RESULTS.md``. Chapter 4
reads the JSON and re-runs one of its points to check it.

Protocol (the same for every method):

* training: ``train_heat_inverter`` with ``STEPS`` steps of ``BATCH`` fresh sources, cosine decay,
  the default U-Net; the observations carry white noise of std ``noise`` per cell;
* learning rate: every method gets the same budget, the four rates ``LR_GRID`` of its optimiser, each
  trained with the seeds ``TUNING_SEEDS`` (no noise) and scored by the mean error on a validation set;
  the best rate is then used for every seed and noise level (a rate at the edge of its grid is
  reported as such);
* seeds: ``SEEDS[noise]`` initialisations and data streams per noise level (5 without noise, 3
  with), each scored on one fixed test set (64 sources, its own noise draw) that tuning never saw;
* SIP and the pseudo-labels are told the noise level (``sip_uncertainty = noise``), and without noise
  use the original notebook's ``1e-6 |r|``; the Tikhonov inverse's ``mu`` is the best of a grid for
  one step from the mean guess on the validation set, per noise level.
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing as mp
import time
from functools import partial
from pathlib import Path

import torch

from course_lib.heat import diffuse, heat_sources, tikhonov_inverse
from course_lib.sip import heat_errors, predict, train_heat_inverter

OUT = Path(__file__).with_name("sip_grid.json")
AMOUNT = 8.0
STEPS, BATCH = 200, 16
NOISES = (0.0, 1e-4, 1e-2)
SEEDS = {0.0: (0, 1, 2, 3, 4), 1e-4: (0, 1, 2), 1e-2: (0, 1, 2)}
TUNING_SEEDS = (0, 1)  # every rate is trained with both and scored by their mean validation error
LR_GRID = {"adam": (1e-3, 3e-3, 1e-2, 3e-2), "sgd": (3e-6, 1e-5, 3e-5, 1e-4)}  # 4 rates per method
MU_GRID = tuple(10.0**e for e in range(-36, 1, 2))
# label: (method, optimiser, inverse) -- inverse "tikhonov" swaps SIP's damped inverse for (P^2 + mu)^-1 P
METHODS = {
    "GD + Adam": ("gd", "adam", None),
    "GD + SGD": ("gd", "sgd", None),
    "SIP + Adam": ("sip", "adam", None),
    "SIP + SGD": ("sip", "sgd", None),
    "SIP (Tikhonov inverse) + Adam": ("sip", "adam", "tikhonov"),
    "pseudo-labels + Adam": ("pseudo", "adam", None),
    "supervised + Adam": ("supervised", "adam", None),
}


def evaluation_set(seed: int, noise: float, n: int = 64) -> tuple[torch.Tensor, torch.Tensor]:
    """``(x, y)``: ``n`` sources from ``seed`` and their observations with noise from ``seed + 1``."""
    x = heat_sources(n, generator=torch.Generator().manual_seed(seed))
    e = torch.randn(x.shape, generator=torch.Generator().manual_seed(seed + 1), dtype=x.dtype)
    return x, diffuse(x, AMOUNT) + noise * e


VALIDATION_SEED, TEST_SEED = 4321, 1234


def best_mu(noise: float) -> float:
    """The ``mu`` of ``MU_GRID`` whose one Tikhonov step from the mean guess is best on validation."""
    x, y = evaluation_set(VALIDATION_SEED, noise)
    m = y.mean(dim=(-2, -1), keepdim=True)
    err = {mu: float((m + tikhonov_inverse(y - m, AMOUNT, mu) - x).abs().sum(dim=(-3, -2, -1)).mean())
           for mu in MU_GRID}
    return min(err, key=err.get)


def train_point(label: str, lr: float, noise: float, seed: int, steps: int = STEPS, batch: int = BATCH) -> dict:
    """One training of ``label`` and its mean test and validation x-L1 (inf if it diverged)."""
    torch.set_num_threads(1)
    method, optimiser, inverse = METHODS[label]
    kwargs = {}
    if method in ("sip", "pseudo"):
        kwargs["sip_uncertainty"] = noise if noise > 0 else None
        if inverse == "tikhonov":
            mu = best_mu(noise)
            kwargs["sip_inverse"] = partial(tikhonov_inverse, amount=AMOUNT, mu=mu)
    start = time.perf_counter()
    h = train_heat_inverter(method, steps, batch, seed=seed, lr=lr, amount=AMOUNT, schedule="cosine",
                            optimizer=optimiser, noise=noise, progress=False, **kwargs)
    seconds = time.perf_counter() - start
    scores = {}
    for name, set_seed in (("test", TEST_SEED), ("validation", VALIDATION_SEED)):
        x, y = evaluation_set(set_seed, noise)
        with torch.no_grad():
            err = heat_errors(predict(h["model"], y), x, AMOUNT)["x_l1"].mean()
        scores[name] = float(err) if "diverged" not in h and math.isfinite(float(err)) else math.inf
    return {"label": label, "lr": lr, "noise": noise, "seed": seed, "test_x_l1": scores["test"],
            "validation_x_l1": scores["validation"], "seconds": round(seconds, 1),
            "curve_x_l1": [round(v, 2) for v in h["x_l1"][::10]], "diverged": h.get("diverged")}


def _run(args):
    return train_point(*args)


def mean_se(values: list[float]) -> tuple[float, float]:
    n = len(values)
    mean = sum(values) / n
    var = sum((v - mean) ** 2 for v in values) / (n - 1) if n > 1 else 0.0
    return mean, math.sqrt(var / n)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10 steps, two methods, no files written")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--reuse", action="store_true",
                        help="take runs with the same method, rate, noise, seed and steps from the existing "
                             "sip_grid.json instead of training them again (training is deterministic)")
    args = parser.parse_args()
    labels = list(METHODS) if not args.quick else ["GD + Adam", "SIP + Adam"]
    steps = STEPS if not args.quick else 10
    start = time.perf_counter()
    old = {}
    if args.reuse and OUT.exists():
        previous = json.loads(OUT.read_text())
        if previous["config"]["steps"] == steps and previous["config"]["batch_size"] == BATCH:
            old = {(r["label"], r["lr"], r["noise"], r["seed"]): r
                   for r in previous["tuning"] + previous["runs"]}
    reused = []

    def run_all(pool, jobs):
        todo = [j for j in jobs if j[:4] not in old]
        done = dict(zip([j[:4] for j in todo], pool.map(_run, todo)))
        reused.extend(j[:4] for j in jobs if j[:4] in old)
        return [done[j[:4]] if j[:4] in done else old[j[:4]] for j in jobs]

    with mp.get_context("spawn").Pool(args.workers) as pool:
        tuning_jobs = [(lb, lr, 0.0, sd, steps) for lb in labels for lr in LR_GRID[METHODS[lb][1]]
                       for sd in TUNING_SEEDS]
        tuning = run_all(pool, tuning_jobs)
        best = {}
        for lb in labels:
            score = {lr: sum(r["validation_x_l1"] for r in tuning if r["label"] == lb and r["lr"] == lr)
                     for lr in LR_GRID[METHODS[lb][1]]}
            best[lb] = min(score, key=score.get)
        jobs = [(lb, best[lb], noise, seed, steps) for lb in labels for noise in NOISES
                for seed in SEEDS[noise] if not (noise == 0.0 and seed in TUNING_SEEDS)]
        runs = [r for r in tuning if r["lr"] == best[r["label"]]] + run_all(pool, jobs)
    summary = {}
    for lb in labels:
        grid = LR_GRID[METHODS[lb][1]]
        summary[lb] = {"lr": best[lb], "lr_at_grid_edge": best[lb] in (grid[0], grid[-1])}
        for noise in NOISES:
            vals = [r["test_x_l1"] for r in runs if r["label"] == lb and r["noise"] == noise]
            m, se = mean_se(vals)
            summary[lb][f"{noise:g}"] = {"mean": m, "se": se, "n": len(vals), "min": min(vals), "max": max(vals)}
    result = {
        "command": "OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_sip_grid.py",
        "config": {"steps": steps, "batch_size": BATCH, "tuning_seeds": list(TUNING_SEEDS), "schedule": "cosine", "amount": AMOUNT,
                   "noises": list(NOISES), "seeds": {f"{k:g}": list(v) for k, v in SEEDS.items()},
                   "lr_grid": {k: list(v) for k, v in LR_GRID.items()},
                   "mu": {f"{n:g}": best_mu(n) for n in NOISES},
                   "test_seed": TEST_SEED, "validation_seed": VALIDATION_SEED,
                   "methods": {lb: list(METHODS[lb]) for lb in labels}},
        "tuning": tuning, "runs": runs, "summary": summary,
        "minutes": round((time.perf_counter() - start) / 60, 1), "workers": args.workers,
        "runs_reused_from_the_previous_file": len(reused),
        "torch": torch.__version__,
    }
    table = ["| method | lr | " + " | ".join(f"test x-L1, noise {n:g}" for n in NOISES) + " |",
             "|---|---|" + "---|" * len(NOISES)]
    for lb in labels:
        s = summary[lb]
        cells = [f"{s[f'{n:g}']['mean']:.1f} ± {s[f'{n:g}']['se']:.1f} (n={s[f'{n:g}']['n']})" for n in NOISES]
        table.append(f"| {lb} | {s['lr']:g}{' (edge)' if s['lr_at_grid_edge'] else ''} | " + " | ".join(cells) + " |")
    text = "\n".join(table)
    n_best = len(labels) * len(TUNING_SEEDS)  # the tuning runs at the chosen rate are also seed runs
    train_minutes = (sum(r["seconds"] for r in tuning) + sum(r["seconds"] for r in runs[n_best:])) / 60
    print(text)
    if args.quick:
        return
    OUT.write_text(json.dumps(result, indent=1) + "\n")
    from report import machine, write_section  # benchmarks/report.py

    write_section("## SIP grid", "## SIP grid\n\n"
                  f"`{result['command']}` on {machine()}: {len(tuning) + len(runs) - n_best} trainings "
                  f"of {steps} steps of {BATCH}, {train_minutes:.0f} min of training on one thread each "
                  f"({len(reused)} of them taken from the previous file with `--reuse`). Mean ± SE of the "
                  "test x-L1 over the seeds (chapter 4 reads `sip_grid.json`).\n\n" + text + "\n")


if __name__ == "__main__":
    main()
