"""How chapter 5's blind method carries its kernel up the pyramid: the image scale or the window.

Between two pyramid levels the image grows by about sqrt(2), and so does the blur in pixels.
``tv_blind_deconvolution(..., transfer="scale")`` (:func:`upsample_kernel`) stretches
the kernel by that factor about its centre and renormalises it; ``transfer="window"`` (the default) resizes the
array to the next window (a stretch of 1.8 from 5 to 9 px, 1.0 from 5 to 5) and projects a kernel
that sums to 2-3 on the simplex, which keeps only its highest entries. Both run on the validation
images of ``bench_blind_refine.py`` (none is in chapter 5's test set), 128x128 grey, circular
boundary, noise 0.01 and 0.02, with the chapter's three 15x15 kernels and with three long ones
(25x25 window, path extent 70-90 % of it, seeds 11-13). Reported: the kernel error after the best
shift, its two parts (the shape, KS = the peak normalised cross-correlation, mean over runs; the
concentration r = ||k_hat|| / ||k||, median: e^2 = (r - KS)^2 + 1 - KS^2), the PSNR gain over the
blurred input, and the number of runs that end below the input.

``python benchmarks/bench_blind_transfer.py`` (about 6 minutes on 2 cores) replaces its section of
``RESULTS.md``; ``--no-write`` only prints.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from bench_blind_refine import VALIDATION, load  # benchmarks/bench_blind_refine.py
from report import RESULTS, machine, publish  # benchmarks/report.py

from course_lib.blind import evaluate, tv_blind_deconvolution
from course_lib.blind.metrics import kernel_similarity
from course_lib.kernels import motion_blur_kernel
from course_lib.operators import Blur, add_gaussian_noise

SECTION = "## Blind deconvolution: carrying the kernel up the pyramid (chapter 5)"
NOISES = (0.01, 0.02)
KERNEL_SETS = {  # name: (window, seeds, path extent)
    "chapter (15x15)": (15, (1, 2, 3), (0.4, 0.9)),
    "long (25x25)": (25, (11, 12, 13), (0.7, 0.9)),
}


def run(x: torch.Tensor, size: int, seeds: tuple[int, ...], length: tuple[float, float],
        transfer: str) -> dict[str, np.ndarray | float]:
    """Kernel errors and PSNR gains of every (image, kernel, noise) case, and seconds per image."""
    kernels = torch.cat([motion_blur_kernel(size, generator=torch.Generator().manual_seed(s), length=length)
                         for s in seeds])
    xs = x.repeat_interleave(len(seeds), 0)
    ks = kernels.repeat(len(x), 1, 1, 1)
    err, gain, sim, conc, secs = [], [], [], [], 0.0
    for noise in NOISES:
        y = torch.cat([Blur(ks[i : i + 1], padding="circular")(xs[i : i + 1]) for i in range(len(xs))])
        y = add_gaussian_noise(y, noise, generator=torch.Generator().manual_seed(0))
        t = time.perf_counter()
        x_hat, k_hat = tv_blind_deconvolution(y, size, transfer=transfer, progress=False)
        secs += time.perf_counter() - t
        p_hat, _, e = evaluate(x_hat, xs, k_hat, ks)
        err.append(e)
        gain.append(p_hat - evaluate(y, xs)[0])
        sim.append(kernel_similarity(k_hat, ks))
        conc.append((k_hat.flatten(1).norm(dim=1) / ks.flatten(1).norm(dim=1)).numpy())
    e, g = np.concatenate(err), np.concatenate(gain)
    return {"err": e, "gain": g, "ks": np.concatenate(sim), "r": np.concatenate(conc), "secs": secs / len(e)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--no-write", action="store_true", help=f"print only; do not update {RESULTS.name}")
    args = p.parse_args()
    torch.set_num_threads(1)
    x = torch.cat([load(n) for n in VALIDATION])
    out = [SECTION, "",
           f"`python benchmarks/bench_blind_transfer.py`: {', '.join(VALIDATION)} (128x128, grey) x 3 kernels "
           f"x noise {' and '.join(map(str, NOISES))} per kernel set; none of these images is in chapter 5's "
           f"test set. Mean ± standard error over the runs; the paired difference is window minus scale. "
           f"One thread. Machine: {machine()}.", "",
           "| kernels | transfer | mean kernel error | median | <= 0.4 | KS | r | mean PSNR gain (dB) "
           "| below the input | s per image |",
           "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    diffs, per_image = [], {}
    for name, (size, seeds, length) in KERNEL_SETS.items():
        res = {t: run(x, size, seeds, length, t) for t in ("window", "scale")}
        for t, r in res.items():
            e, g = r["err"], r["gain"]
            se = e.std(ddof=1) / np.sqrt(len(e))
            out.append(f"| {name} | `{t}` | {e.mean():.3f} ± {se:.3f} | {np.median(e):.3f} | "
                       f"{int((e <= 0.4).sum())} of {len(e)} | {r['ks'].mean():.2f} | {np.median(r['r']):.2f} | {g.mean():.2f} | {int((g < 0).sum())} | "
                       f"{r['secs']:.2f} |")
            print(out[-1], flush=True)
        d = res["window"]["err"] - res["scale"]["err"]
        dg = res["scale"]["gain"] - res["window"]["gain"]
        diffs.append(f"- {name}: kernel error, window − scale: {d.mean():+.3f} ± {d.std(ddof=1) / np.sqrt(len(d)):.3f} "
                     f"(scale better on {int((d > 0).sum())} of {len(d)}); PSNR gain, scale − window: "
                     f"{dg.mean():+.2f} ± {dg.std(ddof=1) / np.sqrt(len(dg)):.2f} dB.")
        per = res["scale"]
        n_k = len(seeds)
        for i, img in enumerate(VALIDATION):  # runs are noise-major, then image, then kernel
            idx = [j * len(VALIDATION) * n_k + i * n_k + m for j in range(len(NOISES)) for m in range(n_k)]
            per_image.setdefault(img, []).append(
                f"{per['err'][idx].mean():.2f} ({int((per['gain'][idx] < 0).sum())} of {len(idx)})")
    out += ["", *diffs, "",
            "Per validation image with `transfer=\"scale\"`: mean kernel error (runs below the blurred input).", "",
            "| image | " + " | ".join(KERNEL_SETS) + " |", "|---|" + "---:|" * len(KERNEL_SETS)]
    out += [f"| {img} | " + " | ".join(cells) + " |" for img, cells in per_image.items()]
    print("\n".join(diffs))
    publish(SECTION, out, write=not args.no_write)


if __name__ == "__main__":
    main()
