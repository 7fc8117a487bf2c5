"""Chapter 5's blind method with and without its final refinement, on validation images.

The refinement (``tv_blind_deconvolution(..., refine=10)``, the default) was chosen on these six
images: the development photograph and five ``skimage`` images that chapter 5's test set does not
use. Each is blurred by the chapter's three 15x15 kernels at noise 0.01 and 0.02 (128x128, grey,
circular boundary), and the script reports the kernel error after the best shift, the PSNR gain
over the blurred input after the same alignment, and the time per image.

``python benchmarks/bench_blind_refine.py`` (about 2 minutes on 2 cores) replaces its section of
``RESULTS.md``.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from report import RESULTS, machine, publish  # benchmarks/report.py

from course_lib.blind import evaluate, tv_blind_deconvolution
from course_lib.data import _to_square_float, load_image
from course_lib.kernels import motion_blur_kernel
from course_lib.operators import Blur, add_gaussian_noise

SECTION = "## Blind deconvolution: the final refinement on validation images (chapter 5)"
VALIDATION = ("camera", "moon", "coins", "clock", "brick", "immunohistochemistry")
SIZE, KSIZE, KERNEL_SEEDS, NOISES = 128, 15, (1, 2, 3), (0.01, 0.02)


def load(name: str) -> torch.Tensor:
    """``(1, 1, SIZE, SIZE)`` grey image on [0, 1]: :func:`load_image`'s crop and resize for any ``skimage.data`` name."""
    try:
        return load_image(name, size=SIZE, color=False)
    except ValueError:  # not one of load_image's names: the same centre crop and resize
        import skimage.data
        from skimage.transform import resize

        img = resize(_to_square_float(getattr(skimage.data, name)()), (SIZE, SIZE), anti_aliasing=True)
        return torch.from_numpy(img[..., 0]).float()[None, None]  # these five are grey


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--no-write", action="store_true", help=f"print only; do not update {RESULTS.name}")
    args = p.parse_args()
    torch.set_num_threads(1)
    kernels = torch.cat([motion_blur_kernel(KSIZE, generator=torch.Generator().manual_seed(s)) for s in KERNEL_SEEDS])
    x = torch.cat([load(n) for n in VALIDATION]).repeat_interleave(len(KERNEL_SEEDS), 0)
    k = kernels.repeat(len(VALIDATION), 1, 1, 1)
    rows = []
    for refine in (0, 10):
        err, gain, secs = [], [], 0.0
        for noise in NOISES:
            y = torch.cat([Blur(k[i : i + 1], padding="circular")(x[i : i + 1]) for i in range(len(x))])
            y = add_gaussian_noise(y, noise, generator=torch.Generator().manual_seed(0))
            t = time.perf_counter()
            x_hat, k_hat = tv_blind_deconvolution(y, KSIZE, refine=refine, progress=False)
            secs += time.perf_counter() - t
            p_hat, _, e = evaluate(x_hat, x, k_hat, k)
            err.append(e)
            gain.append(p_hat - evaluate(y, x)[0])
        e, g = np.concatenate(err), np.concatenate(gain)
        rows.append((refine, e.mean(), np.median(e), int((e <= 0.4).sum()), len(e), g.mean(), g.min(), secs / len(e)))
    out = [SECTION, "",
           f"`python benchmarks/bench_blind_refine.py`: {', '.join(VALIDATION)} ({SIZE}x{SIZE}, grey) x "
           f"{len(KERNEL_SEEDS)} kernels of {KSIZE}x{KSIZE} x noise {' and '.join(map(str, NOISES))}; none of these "
           f"images is in chapter 5's test set. One thread. Machine: {machine()}.", "",
           "| `refine` | mean kernel error | median | kernels <= 0.4 | mean PSNR gain (dB) | min gain (dB) | s per image |",
           "|---:|---:|---:|---:|---:|---:|---:|"]
    out += [f"| {r} | {m:.2f} | {med:.2f} | {n} of {tot} | {g:.1f} | {gmin:.1f} | {s:.2f} |"
            for r, m, med, n, tot, g, gmin, s in rows]
    publish(SECTION, out, write=not args.no_write)


if __name__ == "__main__":
    main()
