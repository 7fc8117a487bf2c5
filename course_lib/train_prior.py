r"""Train the chapter-3 digit prior: ``python -m course_lib.train_prior``.

Trains :class:`~course_lib.models.DenoisingUNet` as an MMSE denoiser of the 32x32 digits of
:func:`~course_lib.diffusion.digits.digit_images` (training split only) with the
denoising score-matching loss in the preconditioned form of Karras et al. (2022):

.. math::

    \mathcal L(\theta) = \mathbb E_{x_0, \sigma, n}\Big[\big\| F_\theta(c_\text{in} x, c_\text{noise})
        - \tfrac{x_0 - c_\text{skip}\,x}{c_\text{out}} \big\|^2\Big],\qquad x = x_0 + \sigma n,

which equals :math:`\mathbb E[\|D_\theta(x, \sigma) - x_0\|^2 / c_\text{out}^2]`: a per-:math:`\sigma`
reweighted Tweedie regression. :math:`\log\sigma` is drawn from a normal distribution
(mean -0.6, std 1.6) clipped to the DDPM range :math:`[0.01, 158]`; digits are shifted at
random by up to 2 pixels. An exponential moving average (EMA) of the weights is what is saved.

Writes, into ``course_lib/weights/`` (or ``--out``):

* ``digits32_denoiser.pt`` -- ``{"config": ..., "state_dict": ...}``, loadable with
  ``torch.load(..., weights_only=True)`` (see :func:`course_lib.diffusion.load_digit_denoiser`);
* ``digits32_denoiser.sha256`` -- its SHA-256 in ``sha256sum`` format;
* ``digits32_training.json`` -- the training curve, the held-out loss, the settings and the time taken.

The defaults are 3,000 steps of 32 images on one thread; the time the committed weights took is
recorded in ``digits32_training.json`` (``train_seconds``), next to the settings.
Example: ``python -m course_lib.train_prior --steps 200 --out /tmp/w`` for a quick try.
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import json
import math
import time
from pathlib import Path

import torch

from .diffusion.digits import digit_images
from .models.denoiser import DenoisingUNet

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
SIGMA_MIN, SIGMA_MAX = 0.01, 158.0  # the linear DDPM schedule's sigma_t range
EVAL_SIGMAS = (0.05, 0.2, 0.5, 1.0, 2.0, 5.0)


def _augment(x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    """Shift each digit by up to 2 pixels; the 4-pixel black border makes a roll exact."""
    shifts = torch.randint(-2, 3, (x.shape[0], 2), generator=g)
    return torch.stack([torch.roll(im, (int(dy), int(dx)), dims=(-2, -1)) for im, (dy, dx) in zip(x, shifts)])


def _sample_sigma(n: int, g: torch.Generator) -> torch.Tensor:
    log_s = -0.6 + 1.6 * torch.randn(n, generator=g)
    return log_s.exp().clamp(SIGMA_MIN, SIGMA_MAX)  # (n,)


def denoising_loss(net: torch.nn.Module, x0: torch.Tensor, sigma: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
    """Preconditioned loss: mean of ``||D(x0 + sigma n, sigma) - x0||^2 / c_out^2``."""
    s = sigma[:, None, None, None]  # (B, 1, 1, 1)
    sd = net.sigma_data
    c_out = s * sd / (s**2 + sd**2).sqrt()
    d = net(x0 + s * noise, sigma)  # (B, C, H, W)
    return (((d - x0) / c_out) ** 2).mean()


@torch.no_grad()
def heldout_mse(net: torch.nn.Module, x0: torch.Tensor, seed: int = 123) -> dict[str, float]:
    """Plain MSE of ``D(x0 + sigma n, sigma)`` against ``x0`` at fixed sigmas (fixed noise)."""
    g = torch.Generator().manual_seed(seed)
    out = {}
    for s in EVAL_SIGMAS:
        n = torch.randn(x0.shape, generator=g)
        out[str(s)] = float(((net(x0 + s * n, s) - x0) ** 2).mean())
    return out


def file_sha256(path: Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def train(steps: int = 3000, batch: int = 32, width: int = 16, lr: float = 2e-3, ema: float = 0.998,
          seed: int = 0, log_every: int = 100, eval_every: int = 250, progress: bool = True) -> tuple[DenoisingUNet, dict]:
    """Train and return ``(ema_net, log)``; see the module docstring."""
    from tqdm.auto import tqdm

    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    train_x, test_x = digit_images("train"), digit_images("test")  # (1600, 1, 32, 32), (197, 1, 32, 32)
    sigma_data = float(train_x.std())
    net = DenoisingUNet(channels=1, width=width, sigma_data=round(sigma_data, 4))
    ema_net = copy.deepcopy(net).requires_grad_(False)
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    # Cosine decay after a short warm-up: a large step early, a small one to settle.
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda k: min(1.0, (k + 1) / 200) * 0.5 * (1 + math.cos(math.pi * k / steps)))
    log = {"step": [], "train_loss": [], "eval_step": [], "heldout_mse": []}
    t0, acc, n_acc = time.perf_counter(), 0.0, 0
    for k in tqdm(range(steps), disable=not progress, desc="training the digit prior"):
        idx = torch.randint(0, train_x.shape[0], (batch,), generator=g)
        x0 = _augment(train_x[idx], g)  # (batch, 1, 32, 32)
        sigma = _sample_sigma(batch, g)
        loss = denoising_loss(net, x0, sigma, torch.randn(x0.shape, generator=g))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        opt.step()
        sched.step()
        with torch.no_grad():  # EMA weights: a smoother, better denoiser than the last iterate
            for pe, p in zip(ema_net.parameters(), net.parameters()):
                pe.lerp_(p, 1 - ema)
        acc, n_acc = acc + float(loss.detach()), n_acc + 1
        if (k + 1) % log_every == 0:
            log["step"].append(k + 1)
            log["train_loss"].append(acc / n_acc)
            acc, n_acc = 0.0, 0
        if (k + 1) % eval_every == 0 or k + 1 == steps:
            log["eval_step"].append(k + 1)
            log["heldout_mse"].append(heldout_mse(ema_net, test_x))
    log["train_seconds"] = time.perf_counter() - t0
    log["settings"] = {"steps": steps, "batch": batch, "width": width, "lr": lr, "ema": ema, "seed": seed,
                       "threads": torch.get_num_threads(), "torch": torch.__version__}
    log["params"] = sum(p.numel() for p in ema_net.parameters())
    return ema_net, log


def save(net: torch.nn.Module, log: dict, out: Path, stem: str = "digits32") -> Path:
    """Write ``<stem>_denoiser.pt``, its ``.sha256`` and ``<stem>_training.json`` into ``out``.

    ``net`` has a ``config`` dict (its constructor's keywords); returns the weights' path.
    """
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{stem}_denoiser.pt"
    state = {k: v.detach().clone().float() for k, v in net.state_dict().items()}
    torch.save({"config": net.config, "state_dict": state}, path)
    digest = file_sha256(path)
    path.with_suffix(".sha256").write_text(f"{digest}  {path.name}\n")
    log = dict(log, sha256=digest)
    (out / f"{stem}_training.json").write_text(json.dumps(log, indent=1))
    return path


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--steps", type=int, default=3000)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--width", type=int, default=16)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1, help="torch threads (one is fastest on a small, shared CPU; 0 keeps PyTorch's default)")
    p.add_argument("--out", type=Path, default=WEIGHTS_DIR)
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    net, log = train(steps=args.steps, batch=args.batch, width=args.width, lr=args.lr, seed=args.seed,
                     eval_every=max(1, min(250, args.steps)))
    path = save(net, log, args.out)
    print(f"saved {path} ({path.stat().st_size / 1e6:.2f} MB, {log['params']:,} parameters) "
          f"in {log['train_seconds'] / 60:.1f} min; final train loss {log['train_loss'][-1] if log['train_loss'] else float('nan'):.4f}; "
          f"held-out MSE {log['heldout_mse'][-1]}")


if __name__ == "__main__":
    main()
