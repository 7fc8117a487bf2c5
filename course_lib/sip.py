r"""Scale-invariant physics (SIP) updates for learning to invert heat conduction.

Holl, Koltun & Thuerey, "Scale-invariant Learning by Physics Inversion", NeurIPS 2022.

A network :math:`f_\theta` maps an observation :math:`y^* = P(x^*)` (here ``diffuse``) to
an estimate :math:`\hat x = f_\theta(y^*)` of the source. Three ways to train it:

* **GD** (differentiable physics): minimise :math:`\tfrac12\|P(\hat x) - y^*\|^2`. Its
  gradient :math:`J_P^\top (P(\hat x) - y^*)` is the residual *diffused once more*, so the
  fine scales that ``P`` damped by :math:`e^{-158}` are practically never corrected.
* **SIP**: compute a physics update with the damped inverse of ``P`` (``inverse_diffuse``),
  :math:`\Delta x = \tilde P^{-1}(y^* - P(\hat x))`, and regress the network onto the fixed
  target :math:`\hat x + \Delta x` with the proxy loss
  :math:`\tfrac12\|\hat x - \operatorname{stopgrad}(\hat x + \Delta x)\|^2`, whose gradient
  w.r.t. :math:`\hat x` is :math:`-\Delta x`: a step in the inverse problem's own scale.
* **supervised**: :math:`\tfrac12\|\hat x - x^*\|^2`, the reference that sees the answer.
* **pseudo** (supervised on pseudo-labels): :math:`\tfrac12\|\hat x - \tilde x\|^2` with the fixed
  label :math:`\tilde x = \bar y + \tilde P^{-1}(y^* - \bar y)`, one damped-inverse step from the
  mean guess computed once per example. It uses the inverse but never the network's own
  prediction: the gap between it and SIP is what SIP's iteration adds.

Conventions (as in the original notebook's code): physics in float64, the network in float32; the
prediction's mean is set to the observation's mean (diffusion conserves the mean, so the
network need not learn it); losses are summed over the batch; fresh data every step.
Logged errors are per-example sums averaged over the batch: ``x_l1 = mean_b sum|x̂ - x*|``,
``x_l2 = mean_b ½ sum (x̂ - x*)²``, ``y_l2 = mean_b ½ sum (P(x̂) - y*)²``.

Example
-------
>>> hist = train_heat_inverter("sip", steps=20, batch_size=16, progress=False)
>>> hist["x_l1"][-1] < hist["x_l1"][0]
True
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import torch
from tqdm.auto import tqdm

from .heat import diffuse, heat_sources, inverse_diffuse
from .models import UNet

__all__ = [
    "METHODS",
    "predict",
    "sip_loss",
    "gd_loss",
    "supervised_loss",
    "pseudo_labels",
    "heat_errors",
    "train_heat_inverter",
]

METHODS = ("sip", "gd", "supervised", "pseudo")
OPTIMIZERS = ("adam", "sgd")


def predict(net: torch.nn.Module, y: torch.Tensor) -> torch.Tensor:
    """Run ``net`` in float32 on ``y`` ``(B, 1, H, W)`` and return ``x̂`` in ``y``'s dtype.

    As everywhere in PyTorch, the caller places ``y`` on the network's device; the result
    lives there too. The prediction's mean is replaced by ``y``'s mean: diffusion conserves
    the mean exactly, so ``mean(y) = mean(x*)`` (the original notebook shifts its prediction
    to ``mean(x*)``, the same value).
    """
    if not isinstance(y, torch.Tensor) or y.ndim != 4:
        raise ValueError(f"y must be a (B, C, H, W) tensor, got {getattr(y, 'shape', type(y))}")
    x_hat = net(y.float()).to(y.dtype)  # (B, 1, H, W)
    return x_hat - x_hat.mean(dim=(-2, -1), keepdim=True) + y.mean(dim=(-2, -1), keepdim=True)


def _half_sq(r: torch.Tensor) -> torch.Tensor:
    return 0.5 * r.square().sum(dim=(-3, -2, -1))  # (B,)


def _damped_step(dy: torch.Tensor, amount: float, uncertainty: float | None) -> torch.Tensor:
    """``inverse_diffuse(dy)`` with ``u = 1e-6 |dy|`` (``None``, the original's) or a constant level."""
    u = dy.abs() * 1e-6 if uncertainty is None else torch.full_like(dy, uncertainty)
    return inverse_diffuse(dy, amount, u)


def sip_loss(
    x_hat: torch.Tensor,
    y_target: torch.Tensor,
    amount: float,
    uncertainty: float | None = None,
    *,
    inverse: Callable[[torch.Tensor], torch.Tensor] | None = None,
):
    r"""SIP proxy loss per example, ``(B,)``: :math:`\tfrac12\|\hat x - \mathrm{sg}(\hat x + \Delta x)\|^2`.

    :math:`\Delta x` = ``inverse_diffuse(r, amount, u)`` with ``r = y* - diffuse(x̂)``, computed
    without gradient. ``uncertainty=None`` takes the original notebook's ``u = 1e-6 |r|``; a
    number is a constant per-cell level (e.g. the floor ``1e-14``). ``inverse``, a function
    ``r -> Δx`` such as ``lambda r: tikhonov_inverse(r, 8.0, 1e-12)``, replaces the damped
    inverse (``uncertainty`` is then unused). Also returns ``diffuse(x̂)``.
    """
    if inverse is not None and not callable(inverse):
        raise TypeError(f"inverse must be None or a function r -> dx, got {type(inverse).__name__}")
    with torch.no_grad():
        y_hat = diffuse(x_hat, amount)  # (B, 1, H, W)
        dy = y_target - y_hat
        dx = _damped_step(dy, amount, uncertainty) if inverse is None else inverse(dy)
        if dx.shape != dy.shape:
            raise ValueError(f"inverse must return the residual's shape {tuple(dy.shape)}, got {tuple(dx.shape)}")
        target = x_hat + dx  # a constant: the point SIP wants x̂ to move to
    return _half_sq(x_hat - target), y_hat


@torch.no_grad()
def pseudo_labels(
    y: torch.Tensor,
    amount: float,
    uncertainty: float | None = None,
    *,
    inverse: Callable[[torch.Tensor], torch.Tensor] | None = None,
) -> torch.Tensor:
    r"""One inverse step from the constant mean guess, :math:`\bar y + \tilde P^{-1}(y - \bar y)`, ``y``'s shape.

    The labels of the ``"pseudo"`` method: what the inverse alone makes of ``y``, without a
    network. ``uncertainty`` and ``inverse`` as in :func:`sip_loss`.
    """
    guess = y.mean(dim=(-2, -1), keepdim=True)  # (B, 1, 1, 1): P keeps the mean
    dy = y - guess
    return guess + (_damped_step(dy, amount, uncertainty) if inverse is None else inverse(dy))


def gd_loss(x_hat: torch.Tensor, y_target: torch.Tensor, amount: float):
    r"""Physics loss per example, ``(B,)``: :math:`\tfrac12\|P(\hat x) - y^*\|^2`; also ``P(x̂)``."""
    y_hat = diffuse(x_hat, amount)  # (B, 1, H, W), differentiable
    return _half_sq(y_hat - y_target), y_hat


def supervised_loss(x_hat: torch.Tensor, x_true: torch.Tensor) -> torch.Tensor:
    r"""Supervised loss per example, ``(B,)``: :math:`\tfrac12\|\hat x - x^*\|^2`."""
    return _half_sq(x_hat - x_true)


@torch.no_grad()
def heat_errors(x_hat: torch.Tensor, x_true: torch.Tensor, amount: float) -> dict[str, torch.Tensor]:
    """Per-example errors ``(B,)``: ``x_l1``, ``x_l2`` (½ sum of squares) and ``y_l2``."""
    y_true, y_hat = diffuse(x_true, amount), diffuse(x_hat, amount)
    return {
        "x_l1": (x_hat - x_true).abs().sum(dim=(-3, -2, -1)),
        "x_l2": _half_sq(x_hat - x_true),
        "y_l2": _half_sq(y_hat - y_true),
    }


def train_heat_inverter(
    method: str,
    steps: int,
    batch_size: int,
    seed: int = 0,
    lr: float = 1e-3,
    amount: float = 8.0,
    *,
    size: int = 64,
    schedule: str = "constant",
    optimizer: str = "adam",
    noise: float = 0.0,
    sip_uncertainty: float | None = None,
    sip_inverse: Callable[[torch.Tensor], torch.Tensor] | None = None,
    net: torch.nn.Module | None = None,
    device: torch.device | str | None = None,
    snapshots: torch.Tensor | None = None,
    snapshot_every: int = 100,
    progress: bool = True,
) -> dict:
    """Train a U-Net to invert ``diffuse(·, amount)`` with ``method`` in :data:`METHODS`.

    Every step draws a fresh batch of :func:`~course_lib.heat.heat_sources`. The same ``seed``
    gives every method the same initial weights, the same data stream and the same noise
    (weights from ``torch.manual_seed(seed)``, data and noise from separate generators).

    Parameters
    ----------
    method : ``"sip"``, ``"gd"``, ``"supervised"`` or ``"pseudo"`` (supervised on
        :func:`pseudo_labels`).
    steps, batch_size : optimiser steps and examples per step (ints >= 1).
    seed, lr, amount : seed, learning rate, diffusion amount of the forward model.
    size : grid side (divisible by 8 for the default U-Net).
    schedule : ``"constant"`` learning rate, or ``"cosine"`` decay from ``lr`` to 0 over ``steps``.
    optimizer : ``"adam"`` (``torch.optim.Adam``) or ``"sgd"`` (plain SGD, no momentum).
    noise : per-cell std of white noise added to every observation (``0`` for exact data).
    sip_uncertainty : SIP and pseudo-labels: ``None`` uses the original notebook's ``1e-6 * |r|``;
        a number is a fixed per-cell noise level for the damped inverse (see :func:`sip_loss`);
        with noisy data pass the noise level.
    sip_inverse : SIP and pseudo-labels: a function ``r -> Δx`` replacing the damped inverse,
        e.g. ``lambda r: tikhonov_inverse(r, amount, mu)``.
    net : a network to train in place; default a fresh ``UNet(1, 1)`` (4 levels, 16 filters).
    device : where the network, the data and the physics live (e.g. ``config.device()``);
        default the given ``net``'s device, or the CPU. The data stream is drawn on the CPU
        and moved, so every device sees the same batches.
    snapshots : optional observations ``(n, 1, size, size)`` to predict from while training,
        in eval mode (running batch-norm statistics) before the update of every
        ``snapshot_every``-th step and once more with the final model; taking them changes
        nothing in the training.
    progress : show a tqdm bar.

    Returns a dict with per-step lists ``"x_l1"``, ``"x_l2"``, ``"y_l2"`` (batch means of
    per-example errors of the prediction *before* that step's update) and cumulative
    wall-clock ``"seconds"``; the trained network under ``"model"`` (in eval mode, batch-norm
    statistics re-estimated for the final weights by ``torch.optim.swa_utils.update_bn`` on
    four fresh batches of at least 32: during training the running averages trail the
    moving weights); ``"diverged"``, the step whose loss was not finite, where training stopped
    there (a learning rate too large); with ``snapshots``, ``"snapshots"``: a list of ``(step, x̂)``, ``x̂`` on
    the CPU in ``snapshots``' dtype.

    Example
    -------
    >>> h = train_heat_inverter("gd", steps=5, batch_size=8, progress=False)
    >>> len(h["x_l1"]), h["model"].training
    (5, False)
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    for name, value in (("steps", steps), ("batch_size", batch_size), ("seed", seed), ("size", size)):
        if not isinstance(value, int) or isinstance(value, bool):
            raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    if not (isinstance(lr, (int, float)) and lr > 0):
        raise ValueError(f"lr must be a positive number, got {lr!r}")
    if not (isinstance(amount, (int, float)) and amount > 0):
        raise ValueError(f"amount must be a positive number, got {amount!r}")
    if sip_uncertainty is not None and not (isinstance(sip_uncertainty, (int, float)) and sip_uncertainty > 0):
        raise ValueError(f"sip_uncertainty must be None or a positive number, got {sip_uncertainty!r}")
    if snapshots is not None and (not isinstance(snapshots, torch.Tensor) or snapshots.ndim != 4):
        raise ValueError(f"snapshots must be None or a (n, 1, H, W) tensor, got {getattr(snapshots, 'shape', snapshots)!r}")
    if not isinstance(snapshot_every, int) or isinstance(snapshot_every, bool) or snapshot_every < 1:
        raise ValueError(f"snapshot_every must be an int >= 1, got {snapshot_every!r}")
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {optimizer!r}")
    if not (isinstance(noise, (int, float)) and not isinstance(noise, bool)) or not (0 <= noise < math.inf):
        raise ValueError(f"noise must be a number >= 0, got {noise!r}")
    if sip_inverse is not None and not callable(sip_inverse):
        raise TypeError(f"sip_inverse must be None or a function r -> dx, got {type(sip_inverse).__name__}")
    if schedule not in ("constant", "cosine"):
        raise ValueError(f"schedule must be 'constant' or 'cosine', got {schedule!r}")
    if device is not None:
        try:
            device = torch.device(device)
        except (RuntimeError, TypeError) as err:
            raise ValueError(f"device must be a torch.device or a device name such as 'cpu', got {device!r}") from err

    if net is None:
        torch.manual_seed(seed)  # same initial weights for every method
        net = UNet(1, 1).to(memory_format=torch.channels_last)  # NHWC convolutions: faster on CPU
    if device is not None:
        net = net.to(device)
    dev = next(net.parameters()).device
    data_gen = torch.Generator().manual_seed(seed + 1)  # same data stream for every method
    noise_gen = torch.Generator().manual_seed(seed + 2)  # the noise does not shift the data stream
    opt = (torch.optim.Adam if optimizer == "adam" else torch.optim.SGD)(net.parameters(), lr=lr)
    if schedule == "cosine":  # the step size goes to 0: the last steps average out batch noise
        decay = lambda step: 0.5 * (1 + math.cos(math.pi * step / steps))  # noqa: E731
    else:
        decay = lambda step: 1.0  # noqa: E731
    scheduler = torch.optim.lr_scheduler.LambdaLR(opt, decay)
    hist: dict[str, list] = {"x_l1": [], "x_l2": [], "y_l2": [], "seconds": []}

    @torch.no_grad()
    def snapshot(step: int) -> None:
        was_training = net.training
        x_snap = predict(net.eval(), snapshots.to(dev))  # eval: the running statistics stay put
        hist["snapshots"].append((step, x_snap.to(device="cpu", dtype=snapshots.dtype)))
        net.train(was_training)

    if snapshots is not None:
        hist["snapshots"] = []

    def observe(x: torch.Tensor) -> torch.Tensor:
        """``diffuse(x)`` plus this run's noise, drawn on the CPU so every device sees the same."""
        y = diffuse(x, amount)
        if noise > 0:
            y = y + noise * torch.randn(y.shape, generator=noise_gen, dtype=torch.float64).to(dev)
        return y

    net.train()
    start = time.perf_counter()
    bar = tqdm(range(steps), desc=method, disable=not progress, leave=False)
    for step in bar:
        if snapshots is not None and step % snapshot_every == 0:
            snapshot(step)
        x_true = heat_sources(batch_size, size, data_gen, torch.float64, dev)  # (B, 1, H, W)
        y_target = observe(x_true)  # (B, 1, H, W) the observation
        x_hat = predict(net, y_target)  # (B, 1, H, W) float64, float32 network inside
        if method == "sip":
            loss, _ = sip_loss(x_hat, y_target, amount, sip_uncertainty, inverse=sip_inverse)
        elif method == "gd":
            loss, _ = gd_loss(x_hat, y_target, amount)
        elif method == "pseudo":
            labels = pseudo_labels(y_target, amount, sip_uncertainty, inverse=sip_inverse)
            loss = supervised_loss(x_hat, labels)
        else:
            loss = supervised_loss(x_hat, x_true)
        if not torch.isfinite(loss).all():  # a diverging learning rate: stop, the history says so
            hist["diverged"] = step
            break
        opt.zero_grad(set_to_none=True)
        loss.sum().backward()  # summed over the batch, as the original's update_weights does
        opt.step()
        scheduler.step()

        errs = heat_errors(x_hat.detach(), x_true, amount)
        for key, value in errs.items():
            hist[key].append(value.mean().item())
        hist["seconds"].append(time.perf_counter() - start)
        if progress:
            bar.set_postfix(x_l1=f"{hist['x_l1'][-1]:.1f}")
    # Fresh observations from the same distribution give the final weights their own statistics.
    n_recal = max(batch_size, 32)
    recal = (observe(heat_sources(n_recal, size, data_gen, torch.float64, dev)).float() for _ in range(4))
    torch.optim.swa_utils.update_bn(recal, net)
    hist["model"] = net.eval()
    if snapshots is not None:
        snapshot(steps)
    return hist
