r"""Train chapter 5's kernel prior: ``python -m course_lib.train_kernel_prior``.

Trains :class:`~course_lib.blind.kernel_prior.KernelDenoiser` (chapter 3's
:class:`~course_lib.models.DenoisingUNet` on a 12x12 canvas) as an MMSE denoiser of 9x9 motion-blur
kernels on the scale :math:`z = 2k/\max k - 1`. The data are unlimited: every step draws a fresh
batch of :func:`~course_lib.kernels.motion_blur_kernel` samples from one seeded generator, so no
kernel is seen twice. The loss is the preconditioned denoising score-matching loss of Karras et al.
(2022) that chapter 3's digit prior uses,

.. math::

    \mathcal L(\theta) = \mathbb E_{z_0, \sigma, n}\big[\|D_\theta(z_0 + \sigma n, \sigma) - z_0\|^2
        / c_\text{out}(\sigma)^2\big],

with :math:`\log\sigma \sim \mathcal N(-0.6, 1.6^2)` clipped to the DDPM range :math:`[0.01, 158]`.
An exponential moving average (EMA) of the weights is what is saved.

Writes, into ``course_lib/weights/`` (or ``--out``):

* ``kernels9_denoiser.pt`` -- ``{"config": ..., "state_dict": ...}``, loadable with
  ``torch.load(..., weights_only=True)`` (see :func:`course_lib.blind.kernel_prior.load_kernel_denoiser`);
* ``kernels9_denoiser.sha256`` -- its SHA-256 in ``sha256sum`` format;
* ``kernels9_training.json`` -- the training curve, the held-out MSE, the settings and the time taken.

One thread, seeded: the run is reproducible bit for bit on the same PyTorch build and CPU.
The defaults (3,000 steps of 64 kernels) take about 8 minutes on one idle core; the time the
committed weights took is in ``kernels9_training.json`` (``train_seconds``).
Example: ``python -m course_lib.train_kernel_prior --steps 100 --out /tmp/w`` for a quick try.
"""

from __future__ import annotations

import argparse
import copy
import math
import time
from pathlib import Path

import torch

from .blind.kernel_prior import KernelDenoiser, to_model
from .kernels import motion_blur_kernel
from .train_prior import _sample_sigma, denoising_loss, heldout_mse, save  # one recipe for every prior

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
KERNEL_SIZE = 9


def kernel_batch(n: int, generator: torch.Generator, size: int = KERNEL_SIZE) -> torch.Tensor:
    """``n`` fresh motion-blur kernels on the diffusion scale, ``(n, 1, size, size)``."""
    k = torch.cat([motion_blur_kernel(size, generator=generator) for _ in range(n)])  # (n, 1, size, size)
    return to_model(k)


def train(steps: int = 3000, batch: int = 64, width: int = 16, lr: float = 2e-3, ema: float = 0.998,
          seed: int = 0, log_every: int = 100, eval_every: int = 250,
          progress: bool = True) -> tuple[KernelDenoiser, dict]:
    """Train and return ``(ema_net, log)``; see the module docstring."""
    from tqdm.auto import tqdm

    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    test_z = kernel_batch(256, torch.Generator().manual_seed(10_000 + seed))  # held out: another stream
    sigma_data = float(kernel_batch(1024, torch.Generator().manual_seed(20_000 + seed)).std())
    net = KernelDenoiser(kernel_size=KERNEL_SIZE, width=width, sigma_data=round(sigma_data, 4))
    ema_net = copy.deepcopy(net).requires_grad_(False)
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda k: min(1.0, (k + 1) / 200) * 0.5 * (1 + math.cos(math.pi * k / steps)))
    log = {"step": [], "train_loss": [], "eval_step": [], "heldout_mse": [], "seconds": []}
    t0, acc, n_acc = time.perf_counter(), 0.0, 0
    for k in tqdm(range(steps), disable=not progress, desc="training the kernel prior"):
        z0 = kernel_batch(batch, g)  # (batch, 1, 9, 9), fresh every step
        sigma = _sample_sigma(batch, g)
        loss = denoising_loss(net, z0, sigma, torch.randn(z0.shape, generator=g))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        opt.step()
        sched.step()
        with torch.no_grad():
            for pe, p in zip(ema_net.parameters(), net.parameters()):
                pe.lerp_(p, 1 - ema)
        acc, n_acc = acc + float(loss.detach()), n_acc + 1
        if (k + 1) % log_every == 0:
            log["step"].append(k + 1)
            log["train_loss"].append(acc / n_acc)
            log["seconds"].append(time.perf_counter() - t0)
            acc, n_acc = 0.0, 0
        if (k + 1) % eval_every == 0 or k + 1 == steps:
            log["eval_step"].append(k + 1)
            log["heldout_mse"].append(heldout_mse(ema_net, test_z))
    log["train_seconds"] = time.perf_counter() - t0
    log["settings"] = {"steps": steps, "batch": batch, "width": width, "lr": lr, "ema": ema, "seed": seed,
                       "kernel_size": KERNEL_SIZE, "threads": torch.get_num_threads(),
                       "torch": torch.__version__}
    log["params"] = sum(p.numel() for p in ema_net.parameters())
    return ema_net, log


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--steps", type=int, default=3000)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--width", type=int, default=16)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1, help="torch threads (0 keeps PyTorch's default)")
    p.add_argument("--out", type=Path, default=WEIGHTS_DIR)
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    net, log = train(steps=args.steps, batch=args.batch, width=args.width, lr=args.lr, seed=args.seed,
                     eval_every=max(1, min(250, args.steps)))
    path = save(net, log, args.out, stem="kernels9")
    print(f"saved {path} ({path.stat().st_size / 1e6:.2f} MB, {log['params']:,} parameters) "
          f"in {log['train_seconds'] / 60:.1f} min; held-out MSE {log['heldout_mse'][-1]}")


if __name__ == "__main__":
    main()
