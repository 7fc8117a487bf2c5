"""Direct vs FFT convolution for chapter 1's blind-kernel gradient step.

The hot loop of blind kernel estimation is one gradient step on the kernel,

    loss(k) = ½||k * x - y||^2 / numel(y),    g = d loss / d k,

with ``x`` a 3x256x256 float32 image, ``k`` a 25x25 kernel and ``"valid"`` padding.
``course_lib.convolution`` evaluates ``k * x`` either directly (grouped ``conv2d``,
O(HW hw)) or by FFT (O(HW log HW)); ``method="auto"`` switches to the FFT from
``FFT_MIN_TAPS`` taps. This script

1. times the step with ``method="direct"`` and ``method="fft"`` -- in blocks
   (``torch.utils.benchmark.Timer``) and interleaved (direct and FFT alternate, so a
   neighbour's load on a shared CPU hits both alike; the speed-up is the median of the
   per-round ratios);
2. checks that both methods give the same gradient (relative 1e-4 in float32,
   1e-10 in float64) and exits with status 1 if not;
3. sweeps the kernel size to find the crossover and says whether ``FFT_MIN_TAPS`` fits;
4. prints a markdown report and writes it to ``benchmarks/RESULTS.md`` under
   ``## Convolution: direct vs FFT (chapter 1)``, replacing only that section.

Usage: ``python benchmarks/bench_convolution.py [--threads N] [--quick] [--no-write]``
"""

from __future__ import annotations

import argparse
import datetime
import statistics
import sys
import time

import torch
from torch.utils import benchmark as tbench

from course_lib.convolution import FFT_MIN_TAPS, convolve2d
from course_lib.data import load_image
from course_lib.kernels import motion_blur_kernel

from report import RESULTS, machine, write_section  # benchmarks/report.py

SECTION = "## Convolution: direct vs FFT (chapter 1)"
SWEEP_SIZES = (3, 5, 7, 9, 11, 15, 25, 31)
TOLERANCE = {torch.float32: 1e-4, torch.float64: 1e-10}
TIE = 0.15  # speed-ups within 1 +- TIE are within the noise of a shared CPU


# ----------------------------------------------------------------------------- the workload
def make_problem(kernel_size: int, image_size: int, dtype: torch.dtype):
    """Sharp image x, its blurred measurement y, and the flat initial kernel of the chapter."""
    x = load_image("astronaut", size=image_size, dtype=dtype)  # (1, 3, S, S)
    k_true = motion_blur_kernel(kernel_size, generator=torch.Generator().manual_seed(123), dtype=dtype)
    y = convolve2d(x, k_true, padding="valid", method="fft")  # (1, 3, S-h+1, S-w+1)
    k0 = torch.full_like(k_true, 1.0 / k_true.numel())  # far from k_true: the residual is not tiny
    return x, y, k0


def gradient_step(x: torch.Tensor, y: torch.Tensor, k: torch.Tensor, method: str) -> torch.Tensor:
    """One kernel-estimation gradient: d/dk ½||k * x - y||^2 / numel (chapter 1's kernel_loss)."""
    k = k.detach().requires_grad_(True)
    loss = 0.5 * torch.sum((convolve2d(x, k, padding="valid", method=method) - y) ** 2) / y.numel()
    (grad,) = torch.autograd.grad(loss, k)
    return grad  # (1, 1, h, w)


def forward_only(x: torch.Tensor, y: torch.Tensor, k: torch.Tensor, method: str) -> torch.Tensor:
    with torch.no_grad():
        return convolve2d(x, k, padding="valid", method=method)


def relative_difference(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).norm() / b.norm())


# ----------------------------------------------------------------------------- timing
def blocked(fn, args, method: str, threads: int, min_run_time: float) -> float:
    """Median seconds of ``fn(*args, method)`` from torch.utils.benchmark (runs in blocks)."""
    timer = tbench.Timer(
        stmt="fn(x, y, k, method)",
        globals={"fn": fn, "x": args[0], "y": args[1], "k": args[2], "method": method},
        num_threads=threads,
    )
    return timer.blocked_autorange(min_run_time=min_run_time).median


def interleaved(fn, args, rounds: int, warmup: int = 2) -> dict[str, list[float]]:
    """Seconds per call, direct and FFT alternating (order flipped every round)."""
    for _ in range(warmup):
        fn(*args, "direct")
        fn(*args, "fft")
    times: dict[str, list[float]] = {"direct": [], "fft": []}
    for r in range(rounds):
        for method in ("direct", "fft") if r % 2 == 0 else ("fft", "direct"):
            t0 = time.perf_counter()
            fn(*args, method)
            times[method].append(time.perf_counter() - t0)
    return times


def paired_speedup(times: dict[str, list[float]]) -> float:
    """Median over rounds of t_direct / t_fft: each ratio compares runs made back to back."""
    return statistics.median(d / f for d, f in zip(times["direct"], times["fft"]))


def iqr_ms(ts: list[float]) -> str:
    q = statistics.quantiles(ts, n=4) if len(ts) >= 2 else [ts[0]] * 3
    return f"{1e3 * q[0]:.1f}-{1e3 * q[2]:.1f}"


def rounds_for(fn, args, budget: float, lo: int = 5, hi: int = 25) -> int:
    t0 = time.perf_counter()
    fn(*args, "direct")
    fn(*args, "fft")
    return max(lo, min(hi, int(budget / max(time.perf_counter() - t0, 1e-6))))


# ----------------------------------------------------------------------------- report


def verdict(sweep: list[dict]) -> tuple[str, int | None]:
    """Where the FFT starts to win the gradient step, and whether FFT_MIN_TAPS agrees."""
    first = None  # smallest taps from which the FFT wins at every larger size too
    for row in reversed(sweep):
        if row["step_speedup"] > 1.0:
            first = row["taps"]
        else:
            break
    wrong = [
        r for r in sweep
        if (r["taps"] >= FFT_MIN_TAPS) != (r["step_speedup"] > 1.0) and abs(r["step_speedup"] - 1.0) > TIE
    ]
    if first is None:
        where = "the direct method wins at every kernel size measured"
    elif first == sweep[0]["taps"]:
        where = f"the FFT wins at every kernel size measured (crossover below {first} taps)"
    else:
        prev = max(r["taps"] for r in sweep if r["taps"] < first)
        where = f"the FFT wins from {first} taps on (crossover between {prev} and {first} taps)"
    if not wrong:
        return f"{where}; FFT_MIN_TAPS = {FFT_MIN_TAPS} is consistent with it (ties within ±{TIE:.0%} ignored).", first
    sizes = ", ".join(f"{r['size']}x{r['size']}" for r in wrong)
    if first is None:
        suggestion = "larger than any size measured"
    elif first == sweep[0]["taps"]:
        suggestion = f"at most {first} (the FFT was never slower here)"
    else:
        suggestion = f"{first}"
    return (
        f"{where}; FFT_MIN_TAPS = {FFT_MIN_TAPS} picks the slower method at {sizes} "
        f"(beyond ±{TIE:.0%} noise): suggested FFT_MIN_TAPS {suggestion}.",
        first,
    )




# ----------------------------------------------------------------------------- main
def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=1, help="torch threads for the sweep (default 1, as torch.utils.benchmark)")
    parser.add_argument("--quick", action="store_true", help="fewer repeats, a smoke test (numbers are rough)")
    parser.add_argument("--no-write", action="store_true", help=f"print only; do not update {RESULTS.name}")
    args = parser.parse_args()
    scale = 0.25 if args.quick else 1.0
    all_threads = torch.get_num_threads()
    started = datetime.datetime.now().astimezone()
    header = machine()
    print(header, flush=True)

    # 1. the chapter's step, timed at 1 thread and at the machine's default thread count
    problem = make_problem(25, 256, torch.float32)
    headline = []
    for threads in sorted({args.threads, all_threads}):
        torch.set_num_threads(threads)
        t_blk = {m: blocked(gradient_step, problem, m, threads, 2.0 * scale) for m in ("direct", "fft")}
        t_int = interleaved(gradient_step, problem, rounds=max(5, int(20 * scale)))
        headline.append((threads, t_blk, t_int))
        print(f"threads={threads}: blocked direct {1e3 * t_blk['direct']:.1f} ms, fft {1e3 * t_blk['fft']:.1f} ms; "
              f"interleaved speed-up {paired_speedup(t_int):.1f}x", flush=True)
    torch.set_num_threads(args.threads)

    # 2. the two methods must give the same gradient
    agreement, ok = [], True
    for dtype in (torch.float32, torch.float64):
        x, y, k0 = problem if dtype == torch.float32 else make_problem(25, 256, dtype)
        rel = relative_difference(gradient_step(x, y, k0, "fft"), gradient_step(x, y, k0, "direct"))
        passed = rel < TOLERANCE[dtype]
        ok &= passed
        agreement.append(f"{str(dtype).replace('torch.', '')} {rel:.1e} (tolerance {TOLERANCE[dtype]:.0e}) "
                         f"{'ok' if passed else 'FAILED'}")
    print("gradient agreement:", "; ".join(agreement), flush=True)

    # 3. kernel-size sweeps: the chapter's 256x256 image, and a fast-mode-sized 64x64 one
    sweeps = {}
    for image_size in (256, 64):
        rows = []
        for size in SWEEP_SIZES:
            prob = make_problem(size, image_size, torch.float32)
            rel = relative_difference(gradient_step(*prob, "fft"), gradient_step(*prob, "direct"))
            ok &= rel < TOLERANCE[torch.float32]
            budget = 1.5 * scale if image_size == 256 else 0.5 * scale
            step = interleaved(gradient_step, prob, rounds_for(gradient_step, prob, budget))
            fwd = interleaved(forward_only, prob, rounds_for(forward_only, prob, budget / 2))
            rows.append({
                "size": size, "taps": size * size, "rel": rel,
                "step": {m: statistics.median(v) for m, v in step.items()}, "step_speedup": paired_speedup(step),
                "fwd": {m: statistics.median(v) for m, v in fwd.items()}, "fwd_speedup": paired_speedup(fwd),
            })
            print(f"  {image_size}px {size:2d}x{size:<2d}: step speed-up {rows[-1]['step_speedup']:6.2f}x, "
                  f"forward {rows[-1]['fwd_speedup']:6.2f}x, grad rel diff {rel:.1e}", flush=True)
        sweeps[image_size] = rows

    # 4. report
    out = [SECTION, "",
           f"`python benchmarks/bench_convolution.py` on {started:%Y-%m-%d %H:%M %Z}. Machine: {header}.",
           "The CPU was shared with other jobs, so times are noisy; the speed-ups are medians of "
           "per-round ratios with direct and FFT runs interleaved, which keeps them fair.",
           "",
           "**Gradient step** `d/dk ½||k * x - y||^2 / numel`: 3x256x256 float32 image, 25x25 kernel, "
           "`padding=\"valid\"`, CPU. Medians in ms (interleaved: interquartile range in brackets).",
           "",
           "| threads | direct, blocked | FFT, blocked | direct, interleaved | FFT, interleaved | speed-up, blocked | speed-up, interleaved |",
           "|---:|---:|---:|---:|---:|---:|---:|"]
    for threads, t_blk, t_int in headline:
        out.append(
            f"| {threads} | {1e3 * t_blk['direct']:.1f} | {1e3 * t_blk['fft']:.1f} "
            f"| {1e3 * statistics.median(t_int['direct']):.1f} ({iqr_ms(t_int['direct'])}) "
            f"| {1e3 * statistics.median(t_int['fft']):.1f} ({iqr_ms(t_int['fft'])}) "
            f"| {t_blk['direct'] / t_blk['fft']:.1f}x | {paired_speedup(t_int):.1f}x |")
    out += ["", "Gradient agreement, FFT vs direct (relative L2): " + "; ".join(agreement) + ".", ""]
    for image_size, rows in sweeps.items():
        text, _ = verdict(rows)
        out += [f"**Kernel-size sweep**, 3x{image_size}x{image_size} float32, {args.threads} thread(s), interleaved medians in ms "
                "(speed-up = direct time / FFT time; > 1: the FFT is faster).", "",
                "| kernel | taps | step, direct | step, FFT | step speed-up | forward, direct | forward, FFT | forward speed-up | grad rel. diff |",
                "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for r in rows:
            out.append(f"| {r['size']}x{r['size']} | {r['taps']} | {1e3 * r['step']['direct']:.2f} | {1e3 * r['step']['fft']:.2f} "
                       f"| {r['step_speedup']:.2f}x | {1e3 * r['fwd']['direct']:.2f} | {1e3 * r['fwd']['fft']:.2f} "
                       f"| {r['fwd_speedup']:.2f}x | {r['rel']:.1e} |")
        out += ["", f"Gradient step at {image_size}x{image_size}: {text}", ""]
    if args.quick:
        out.insert(1, "\n_Quick run (`--quick`): few repeats, rough numbers._")
    report = "\n".join(out)
    print("\n" + report)
    if not args.no_write:
        write_section(SECTION, report)
        print(f"\nwrote {RESULTS}")
    if not ok:
        print("ERROR: direct and FFT gradients disagree beyond tolerance", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
