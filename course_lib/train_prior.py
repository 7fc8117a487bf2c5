r"""Train the course's diffusion priors: ``python -m course_lib.train_prior --data digits|photos|kernels``.

Trains :class:`~course_lib.models.DenoisingUNet` as an MMSE denoiser with the denoising
score-matching loss in the preconditioned form of Karras et al. (2022):

.. math::

    \mathcal L(\theta) = \mathbb E_{x_0, \sigma, n}\Big[\big\| F_\theta(c_\text{in} x, c_\text{noise})
        - \tfrac{x_0 - c_\text{skip}\,x}{c_\text{out}} \big\|^2\Big],\qquad x = x_0 + \sigma n,

which equals :math:`\mathbb E[\|D_\theta(x, \sigma) - x_0\|^2 / c_\text{out}^2]`: a per-:math:`\sigma`
reweighted Tweedie regression. :math:`\log\sigma` is drawn from a normal distribution
(mean -0.6, std 1.6) clipped to the DDPM range :math:`[0.01, 158]`. An exponential moving
average (EMA) of the weights is what is saved. The data (``--data``):

* ``digits`` (default, chapter 3) -- the 32x32 digits of :func:`~course_lib.diffusion.digits.digit_images`
  (training split only), shifted at random by up to 2 pixels; held-out MSE on the test digits;
* ``photos`` (chapter 3's natural-image example) -- random colour crops of the training photographs
  of :mod:`course_lib.diffusion.photos` (flips, rotations by 90 degrees, four scales); the network is
  fully convolutional, so it runs on 64x64 images although it trains on ``crop`` x ``crop``;
  held-out MSE on crops of the validation photograph;
* ``kernels`` (chapter 5) -- delegates to :mod:`course_lib.train_kernel_prior` (one process only).

Each dataset's settings are a :class:`TrainSettings` (``TrainSettings.for_data(name)``); every
command-line flag overrides one field. Writes, into ``course_lib/weights/`` (or ``--out``):

* ``<stem>_denoiser.pt`` -- ``{"config": ..., "state_dict": ...}``, loadable with
  ``torch.load(..., weights_only=True)`` (see :mod:`course_lib.diffusion.pretrained`);
* ``<stem>_denoiser.sha256`` -- its SHA-256 in ``sha256sum`` format;
* ``<stem>_training.json`` -- the training curve, the held-out loss, the settings and the time taken,

with ``stem`` ``digits32``, ``photos`` or ``kernels9``. One thread, seeded: a run is reproducible
bit for bit on the same PyTorch build and CPU; ``train_seconds`` in the log says how long it took.

**Several processes.** The same command runs under ``torchrun --nproc_per_node=N`` (detected from the
``RANK`` / ``WORLD_SIZE`` / ``LOCAL_RANK`` variables torchrun sets): the network is wrapped in
``DistributedDataParallel`` (gloo on the CPU, NCCL on CUDA, one GPU per process). Every process
draws the *whole* global batch of ``batch`` images, noise levels and noises from the same seeded
generator and keeps its contiguous block of ``batch / N``; DDP averages the gradients, so N
processes compute the same update, EMA and held-out loss as one process with the same ``batch``
(up to the rounding of the sum). Only rank 0 logs and saves.
Example: ``python -m course_lib.train_prior --data photos --steps 200 --out /tmp/w`` for a quick try.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import hashlib
import json
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from .diffusion.digits import digit_images
from .models.denoiser import DenoisingUNet

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
SIGMA_MIN, SIGMA_MAX = 0.01, 158.0  # the linear DDPM schedule's sigma_t range
EVAL_SIGMAS = (0.05, 0.2, 0.5, 1.0, 2.0, 5.0)
STEMS = {"digits": "digits32", "photos": "photos", "kernels": "kernels9"}


@dataclass
class TrainSettings:
    """One training run's settings; :meth:`for_data` gives each dataset's defaults (the committed runs).

    ``batch`` is the global batch (split over the processes under torchrun); ``crop`` is the side of
    the photo crops (photos only, divisible by 4); ``threads`` is torch's thread count per process
    (one is fastest on a small, shared CPU; 0 keeps PyTorch's default).
    """

    data: str = "digits"
    steps: int = 3000
    batch: int = 32
    width: int = 16
    lr: float = 2e-3
    ema: float = 0.998
    seed: int = 0
    crop: int = 32
    warmup: int = 200
    log_every: int = 100
    eval_every: int = 250
    threads: int = 1

    def __post_init__(self) -> None:
        if self.data not in STEMS:
            raise ValueError(f"data must be one of {sorted(STEMS)}, got {self.data!r}")
        for name in ("steps", "batch", "width", "log_every", "eval_every"):
            val = getattr(self, name)
            if not isinstance(val, int) or isinstance(val, bool) or val < 1:
                raise ValueError(f"{name} must be a positive int, got {val!r}")
        if self.crop < 4 or self.crop % 4:
            raise ValueError(f"crop must be a positive multiple of 4, got {self.crop!r}")
        if not 0.0 <= self.ema < 1.0 or not self.lr > 0:
            raise ValueError(f"need lr > 0 and 0 <= ema < 1, got lr={self.lr!r}, ema={self.ema!r}")

    @classmethod
    def for_data(cls, data: str = "digits", **overrides) -> TrainSettings:
        """The defaults for ``data``, with ``overrides`` (field names) on top."""
        defaults = {
            "digits": {},  # 3,000 steps of 32 digits: the committed digits32 weights
            # 32x32 crops train a network that runs on 64x64. Width 16 (0.32 M parameters, 1.3 MB) keeps
            # DPS at 64x64 within a chapter's CPU budget; 8,000 steps of 32 crops take 30-45 min on one
            # core of a shared 2-core CPU
            "photos": {"steps": 8000, "batch": 32, "width": 16, "crop": 32, "ema": 0.999, "eval_every": 500},
            "kernels": {"batch": 64},
        }
        if data not in defaults:
            raise ValueError(f"data must be one of {sorted(defaults)}, got {data!r}")
        return cls(**{"data": data, **defaults[data], **overrides})


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
    sd = getattr(net, "module", net).sigma_data  # through a DistributedDataParallel wrapper too
    c_out = s * sd / (s**2 + sd**2).sqrt()
    d = net(x0 + s * noise, sigma)  # (B, C, H, W)
    return (((d - x0) / c_out) ** 2).mean()


@torch.no_grad()
def heldout_mse(net: torch.nn.Module, x0: torch.Tensor, seed: int = 123) -> dict[str, float]:
    """Plain MSE of ``D(x0 + sigma n, sigma)`` against ``x0`` at fixed sigmas (fixed noise)."""
    g = torch.Generator().manual_seed(seed)
    out = {}
    for s in EVAL_SIGMAS:
        n = torch.randn(x0.shape, generator=g).to(x0.device)
        out[str(s)] = float(((net(x0 + s * n, s) - x0) ** 2).mean())
    return out


def file_sha256(path: Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _data(s: TrainSettings):
    """``(draw, heldout, channels, sigma_data)``: ``draw(n, g)`` gives ``n`` training images ``(n, C, H, W)``."""
    if s.data == "digits":
        train_x, test_x = digit_images("train"), digit_images("test")  # (1600, 1, 32, 32), (197, 1, 32, 32)

        def draw(n: int, g: torch.Generator) -> torch.Tensor:
            idx = torch.randint(0, train_x.shape[0], (n,), generator=g)
            return _augment(train_x[idx], g)  # (n, 1, 32, 32)

        return draw, test_x, 1, float(train_x.std())
    from .diffusion.photos import photo_crops

    def draw(n: int, g: torch.Generator) -> torch.Tensor:
        return photo_crops(n, s.crop, g)  # (n, 3, crop, crop)

    heldout = photo_crops(128, s.crop, torch.Generator().manual_seed(10_000 + s.seed), split="val", augment=False)
    sigma_data = float(photo_crops(1024, s.crop, torch.Generator().manual_seed(20_000 + s.seed)).std())
    return draw, heldout, 3, sigma_data


def _distributed() -> tuple[int, int, int]:
    """``(rank, world_size, local_rank)`` from torchrun's variables; ``(0, 1, 0)`` in a plain run."""
    if "RANK" not in os.environ or "WORLD_SIZE" not in os.environ:
        return 0, 1, 0
    return int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"]), int(os.environ.get("LOCAL_RANK", 0))


def train(settings: TrainSettings | None = None, progress: bool = True, **overrides) -> tuple[DenoisingUNet, dict]:
    """Train and return ``(ema_net, log)``; see the module docstring.

    ``train(steps=200)`` is ``train(TrainSettings.for_data("digits", steps=200))``. Under torchrun
    the process group must be initialised already (:func:`main` does it).
    """
    from tqdm.auto import tqdm

    s = settings if settings is not None else TrainSettings.for_data(overrides.pop("data", "digits"), **overrides)
    if settings is not None and overrides:
        s = dataclasses.replace(settings, **overrides)
    if s.data == "kernels":
        from . import train_kernel_prior

        return train_kernel_prior.train(steps=s.steps, batch=s.batch, width=s.width, lr=s.lr, ema=s.ema, seed=s.seed,
                                        log_every=s.log_every, eval_every=s.eval_every, progress=progress)
    dist = torch.distributed.is_available() and torch.distributed.is_initialized()
    rank, world = (torch.distributed.get_rank(), torch.distributed.get_world_size()) if dist else (0, 1)
    if s.batch % world:
        raise ValueError(f"batch={s.batch} must be divisible by the number of processes ({world})")
    device = torch.device(f"cuda:{_distributed()[2]}" if dist and torch.cuda.is_available() else "cpu")
    lo, hi = rank * s.batch // world, (rank + 1) * s.batch // world  # this process's block of the batch
    torch.manual_seed(s.seed)
    g = torch.Generator().manual_seed(s.seed)  # the same stream on every process
    draw, heldout, channels, sigma_data = _data(s)
    net = DenoisingUNet(channels=channels, width=s.width, sigma_data=round(sigma_data, 4))
    ema_net = copy.deepcopy(net).requires_grad_(False).to(device)
    net, heldout = net.to(device), heldout.to(device)
    model = torch.nn.parallel.DistributedDataParallel(net) if dist else net
    opt = torch.optim.Adam(net.parameters(), lr=s.lr)
    # Cosine decay after a short warm-up: a large step early, a small one to settle.
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda k: min(1.0, (k + 1) / s.warmup) * 0.5 * (1 + math.cos(math.pi * k / s.steps)))
    log = {"step": [], "train_loss": [], "eval_step": [], "heldout_mse": [], "seconds": []}
    t0, acc, n_acc = time.perf_counter(), 0.0, 0
    for k in tqdm(range(s.steps), disable=not progress or rank != 0, desc=f"training the {s.data} prior"):
        x0 = draw(s.batch, g)  # (batch, C, H, W): the whole global batch, on every process
        sigma = _sample_sigma(s.batch, g)
        noise = torch.randn(x0.shape, generator=g)
        x0, sigma, noise = (t[lo:hi].to(device) for t in (x0, sigma, noise))
        loss = denoising_loss(model, x0, sigma, noise)
        opt.zero_grad(set_to_none=True)
        loss.backward()  # DDP averages the gradients over the processes
        torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        opt.step()
        sched.step()
        with torch.no_grad():  # EMA weights: a smoother, better denoiser than the last iterate
            for pe, p in zip(ema_net.parameters(), net.parameters()):
                pe.lerp_(p, 1 - s.ema)
        loss = loss.detach()
        if dist:  # the logged loss is the global batch's, as in one process
            torch.distributed.all_reduce(loss)
            loss = loss / world
        acc, n_acc = acc + float(loss), n_acc + 1
        if (k + 1) % s.log_every == 0:
            log["step"].append(k + 1)
            log["train_loss"].append(acc / n_acc)
            log["seconds"].append(time.perf_counter() - t0)
            acc, n_acc = 0.0, 0
        if rank == 0 and ((k + 1) % s.eval_every == 0 or k + 1 == s.steps):
            log["eval_step"].append(k + 1)
            log["heldout_mse"].append(heldout_mse(ema_net, heldout))
    log["train_seconds"] = time.perf_counter() - t0
    log["settings"] = dict(dataclasses.asdict(s), threads=torch.get_num_threads(), world_size=world,
                           device=str(device), torch=torch.__version__)
    log["params"] = sum(p.numel() for p in ema_net.parameters())
    return ema_net.cpu(), log


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
    p.add_argument("--data", choices=sorted(STEMS), default="digits")
    for f in dataclasses.fields(TrainSettings):
        if f.name != "data":
            per = ", ".join(f"{d} {getattr(TrainSettings.for_data(d), f.name)}" for d in STEMS)
            p.add_argument(f"--{f.name.replace('_', '-')}", dest=f.name, type=type(f.default), default=None,
                           help=f"default: {per}")
    p.add_argument("--out", type=Path, default=WEIGHTS_DIR)
    args = vars(p.parse_args(argv))
    out = args.pop("out")
    given = {k: v for k, v in args.items() if v is not None and k != "data"}
    s = TrainSettings.for_data(args["data"], **given)
    if "eval_every" not in given:
        s = dataclasses.replace(s, eval_every=max(1, min(s.eval_every, s.steps)))
    if s.threads:
        torch.set_num_threads(s.threads)
    rank, world, local_rank = _distributed()
    if "RANK" in os.environ:
        if s.data == "kernels":
            raise ValueError("--data kernels trains in one process; run it without torchrun")
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        if backend == "nccl":
            torch.cuda.set_device(local_rank)
        torch.distributed.init_process_group(backend)
    try:
        net, log = train(s)
        if rank == 0:
            path = save(net, log, out, stem=STEMS[s.data])
            last = log["train_loss"][-1] if log["train_loss"] else float("nan")
            print(f"saved {path} ({path.stat().st_size / 1e6:.2f} MB, {log['params']:,} parameters) "
                  f"in {log['train_seconds'] / 60:.1f} min on {world} process(es); final train loss {last:.4f}; "
                  f"held-out MSE {log['heldout_mse'][-1]}")
    finally:
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()


if __name__ == "__main__":
    main()
