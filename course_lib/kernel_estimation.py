r"""Estimating a blur kernel from a sharp/blurred pair (chapter 1).

Given the sharp image :math:`x` and its blurred, noisy version :math:`y = k^\star * x + n`,
find the kernel on the probability simplex :math:`\Delta` that explains the data,

.. math::  \hat k = \arg\min_{k \in \Delta}\ f(k), \qquad f(k) = \frac{1}{N}\,\|k * x - y\|_2^2,

with :math:`N` the number of measurements. :math:`f` is a convex quadratic in
:math:`k` (the convolution is linear in the kernel too), its gradient is a
*correlation* of the residual with the image, :math:`\nabla f(k) = \tfrac2N\, x \star (k * x - y)`,
and it is :math:`L`-smooth with :math:`L = \tfrac2N\|X\|_2^2`, :math:`X` the linear map
:math:`k \mapsto k * x`. Projected gradient descent (PGD)

.. math::  k_{t+1} = \Pi_\Delta\big(k_t - \tau\,\nabla f(k_t)\big)

decreases :math:`f` monotonically for :math:`\tau \le 1/L` and converges for :math:`\tau < 2/L`.

* :func:`constant_init` -- the flat start on the central window, projected.
* :func:`kernel_loss` -- :math:`f(k)`.
* :func:`lipschitz_constant` -- :math:`L` by power iteration.
* :func:`pgd` and :func:`adam_projected` -- the two hand-written solvers.
* :func:`relative_error` -- :math:`\|\hat k - k^\star\|_2 / \|k^\star\|_2`.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from tqdm.auto import tqdm

from .convolution import convolve2d
from .projections import project_simplex

__all__ = ["constant_init", "kernel_loss", "lipschitz_constant", "pgd", "adam_projected", "relative_error"]

KERNEL_DIMS = (-2, -1)


def constant_init(like: torch.Tensor, margin: int = 5) -> torch.Tensor:
    """A kernel of ``like``'s shape, constant on its central window (``margin`` pixels dropped
    on each side), projected on the simplex: the least informative start."""
    h, w = like.shape[-2:]
    if not isinstance(margin, int) or margin < 0 or 2 * margin >= min(h, w):
        raise ValueError(f"margin must be an int in [0, {min(h, w) // 2}), got {margin!r}")
    k0 = torch.zeros_like(like)
    k0[..., margin : h - margin, margin : w - margin] = 1.0
    return project_simplex(k0, dim=KERNEL_DIMS)


def kernel_loss(kernel: torch.Tensor, x: torch.Tensor, y: torch.Tensor, padding: str = "valid") -> torch.Tensor:
    r""":math:`\|k * x - y\|^2 / N`, with :math:`N` = ``y.numel()``."""
    residual = convolve2d(x, kernel, padding=padding) - y
    if residual.shape != y.shape:
        raise ValueError(f"y has shape {tuple(y.shape)}, but the blur of x has shape {tuple(residual.shape)}")
    return residual.square().sum() / y.numel()


def lipschitz_constant(
    x: torch.Tensor,
    kernel_shape: tuple[int, ...],
    n_iter: int = 50,
    padding: str = "valid",
    zero_sum: bool = True,
) -> float:
    r"""Smoothness constant :math:`L = \tfrac2N \|X P\|^2` of :func:`kernel_loss` in the kernel, by power iteration.

    With ``zero_sum=True`` (the default) :math:`P` projects onto kernels whose entries
    sum to zero: the directions in which a point of the simplex can move. The
    all-ones direction -- the image's brightness, by far the largest curvature --
    is then excluded, because the simplex projection removes any step along it.
    ``zero_sum=False`` gives the unconstrained constant.
    """
    g = torch.Generator().manual_seed(0)
    k = torch.randn(kernel_shape, generator=g, dtype=x.dtype).to(x.device)
    n = None
    for _ in range(n_iter):
        if zero_sum:
            k = k - k.mean(dim=KERNEL_DIMS, keepdim=True)
        k = k / k.norm()
        k.requires_grad_(True)
        y = convolve2d(x, k, padding=padding)
        n = y.numel()
        # X^T X k is the gradient of 0.5 ||X k||^2
        (k_next,) = torch.autograd.grad(0.5 * y.square().sum(), k)
        k = k_next.detach()
    if zero_sum:
        k = k - k.mean(dim=KERNEL_DIMS, keepdim=True)
    return float(2.0 / n * k.norm())


def _record(losses: list[float], loss: torch.Tensor) -> None:
    losses.append(float(loss.detach()))


def pgd(
    x: torch.Tensor,
    y: torch.Tensor,
    kernel_init: torch.Tensor,
    step_size: float = 0.7,
    n_iter: int = 1000,
    padding: str = "valid",
    progress: bool = True,
    callback: Callable[[int, torch.Tensor], None] | None = None,
) -> tuple[torch.Tensor, list[float]]:
    """Projected gradient descent on :func:`kernel_loss`; returns the kernel and the loss per iteration."""
    if not step_size > 0:
        raise ValueError(f"step_size must be > 0, got {step_size!r}")
    if not isinstance(n_iter, int) or n_iter < 1:
        raise ValueError(f"n_iter must be a positive int, got {n_iter!r}")
    kernel = kernel_init.detach().clone()
    losses: list[float] = []
    for it in tqdm(range(n_iter), desc="PGD", disable=not progress):
        kernel.requires_grad_(True)
        loss = kernel_loss(kernel, x, y, padding)
        (grad,) = torch.autograd.grad(loss, kernel)
        with torch.no_grad():
            kernel = project_simplex(kernel - step_size * grad, dim=KERNEL_DIMS)  # step, then project
        _record(losses, loss)
        if callback is not None:
            callback(it, kernel)
    return kernel, losses


def adam_projected(
    x: torch.Tensor,
    y: torch.Tensor,
    kernel_init: torch.Tensor,
    lr: float = 0.1,
    n_iter: int = 200,
    padding: str = "valid",
    progress: bool = True,
) -> tuple[torch.Tensor, list[float]]:
    """Adam steps alternating with the simplex projection of the kernel."""
    if not lr > 0:
        raise ValueError(f"lr must be > 0, got {lr!r}")
    kernel = kernel_init.detach().clone().requires_grad_(True)
    optimizer = torch.optim.Adam([kernel], lr=lr)
    losses: list[float] = []
    for _ in tqdm(range(n_iter), desc="Adam", disable=not progress):
        optimizer.zero_grad()
        loss = kernel_loss(kernel, x, y, padding)
        loss.backward()
        optimizer.step()
        with torch.no_grad():  # project in place: the optimizer keeps its handle on `kernel`
            kernel.copy_(project_simplex(kernel, dim=KERNEL_DIMS))
        _record(losses, loss)
    return kernel.detach(), losses


def relative_error(estimate: torch.Tensor, truth: torch.Tensor) -> float:
    r""":math:`\|\hat k - k\|_2 / \|k\|_2` over all entries."""
    if estimate.shape != truth.shape:
        raise ValueError(f"estimate shape {tuple(estimate.shape)} differs from truth shape {tuple(truth.shape)}")
    return float((estimate - truth).norm() / truth.norm())
