"""Time DPS on this CPU and print a markdown table: ``python benchmarks/bench_dps.py``.

Measures a 200-step DPS inpainting run (guidance on: one denoiser forward and backward per step)
with the chapter's learned 32x32 digit prior, for one sample and a batch of 8, at one thread and at
PyTorch's default thread count, plus the 8x8 Gaussian-prior problem of the chapter (1000 samples).
Each entry is the best of ``--repeats`` runs (the machine may be shared, so the best is the most stable).

Two choices inside the samplers are timed as well: drawing their noise in float32 (then cast) rather
than in float64, and solving ΠGDM's and DiffPIR's linear systems for a circular blur in closed form
(``Blur.gram_solve``, in Fourier) rather than by conjugate gradients.
"""

from __future__ import annotations

import argparse
import time

import torch

from course_lib.diffusion import digit_images, digits8, dps_sample, fit_gaussian, GaussianPriorDenoiser
from course_lib.diffusion import load_digit_denoiser, measure
from course_lib.diffusion.guidance import CG_TOL
from course_lib.kernels import motion_blur_kernel
from course_lib.linalg import conjugate_gradient
from course_lib.operators import Blur, Inpainting

from report import RESULTS, machine, publish  # benchmarks/report.py

SECTION = "## DPS sampling time (chapter 3)"


def best_time(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def per_call_ms(fn, n: int = 200) -> float:
    fn()
    return 1e3 * min(best_time(fn, 1) for _ in range(n))


def inner_rows(g: torch.Generator) -> list[tuple]:
    """The sampler's noise draw and the closed-form blur solve against their alternatives."""
    shape = (1000, 1, 8, 8)  # the Gaussian bench's batch
    t32 = per_call_ms(lambda: torch.randn(shape, generator=g).double())
    t64 = per_call_ms(lambda: torch.randn(shape, generator=g, dtype=torch.float64))
    A = Blur(motion_blur_kernel(9, generator=torch.Generator().manual_seed(3)), padding="circular")
    b = torch.randn(18, 1, 32, 32, generator=g)  # chapter 3's deblurring batch
    rho = 0.05
    t_fft = per_call_ms(lambda: A.gram_solve(b, 1.0, rho))
    t_cg = per_call_ms(lambda: conjugate_gradient(lambda u: A.adjoint(A(u)) + rho * u, b, iters=50, tol=CG_TOL,
                                                  batch_dims=1))
    return [("noise for 1000 8x8 samples", "float32, cast", t32, "float64", t64),
            (f"(A^T A + {rho} I)^-1 b, 9x9 circular blur, 18x32x32", "closed form (FFT)", t_fft,
             "conjugate gradients", t_cg)]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--steps", type=int, default=200)
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--no-write", action="store_true", help=f"print only; do not update {RESULTS.name}")
    args = p.parse_args()
    default_threads = torch.get_num_threads()
    g = torch.Generator().manual_seed(0)

    D = load_digit_denoiser()
    x = digit_images("test")[:1]  # (1, 1, 32, 32)
    obs = measure(Inpainting((torch.rand(1, 1, 32, 32, generator=g) < 0.1).float()), x, 0.1, g)
    mean, cov = fit_gaussian(digits8("train"), ridge=1e-2)
    G = GaussianPriorDenoiser(mean, cov)
    obs8 = measure(Inpainting((torch.rand(1, 1, 8, 8, generator=g) < 0.3).double()), digits8("test")[:1], 0.1, g)

    rows = []
    for threads in sorted({1, default_threads}):
        torch.set_num_threads(threads)
        for batch in (1, 8):
            t = best_time(lambda: dps_sample(D, None, obs, steps=args.steps, zeta=0.5, x_shape=(batch, 1, 32, 32),
                                             generator=g, progress=False), args.repeats)
            rows.append((f"learned U-Net prior, 32x32, batch {batch}", threads, t, t / batch))
        t = best_time(lambda: dps_sample(G, None, obs8, steps=args.steps, zeta=0.3, x_shape=(1000, 1, 8, 8),
                                         generator=g, progress=False), args.repeats)
        rows.append(("Gaussian prior, 8x8, batch 1000", threads, t, t / 1000))
    out = [SECTION, "",
           f"`python benchmarks/bench_dps.py`: {args.steps} DDIM steps with guidance (one denoiser forward and "
           f"backward per step), best of {args.repeats}. Machine: {machine()}.", "",
           "| problem | threads | seconds per call | seconds per sample |", "|---|---:|---:|---:|"]
    out += [f"| {name} | {threads} | {t:.2f} | {per:.3f} |" for name, threads, t, per in rows]
    out += ["", f"Inside the samplers, {default_threads} threads, ms per call (best of 200; ratio = slower / faster):", "",
            "| operation | choice made | ms | alternative | ms | ratio |", "|---|---|---:|---|---:|---:|"]
    out += [f"| {op} | {a} | {ta:.3f} | {b} | {tb:.3f} | {tb / ta:.1f}x |" for op, a, ta, b, tb in inner_rows(g)]
    publish(SECTION, out, write=not args.no_write)

if __name__ == "__main__":
    main()
