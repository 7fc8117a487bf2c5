r"""Estimating a blur kernel from a sharp/blurred pair (chapter 1).

Given the sharp image :math:`x` and its blurred, noisy version :math:`y = k^\star * x + n`,
find the kernel on the probability simplex :math:`\Delta` that explains the data,

.. math::  \hat k = \arg\min_{k \in \Delta}\ f(k), \qquad f(k) = \frac{1}{2N}\,\|k * x - y\|_2^2,

with :math:`N` the number of measurements: the original example's objective (deepinv's
``L2()`` is :math:`\tfrac12\|\cdot\|^2`, divided there by ``y.numel()``). Write
:math:`X k = k * x` (:class:`~course_lib.operators.ImageConvolution`). Then :math:`f` is a convex
quadratic, its gradient is a *correlation* of the image with the residual,
:math:`\nabla f(k) = \tfrac1N X^\top(Xk - y)`, and on the directions a point of the simplex can
move in (kernels summing to zero, projection :math:`P`) it is :math:`L`-smooth with
:math:`L = \|XP\|^2 / N`. Projected gradient descent (PGD)

.. math::  k_{t+1} = \Pi_\Delta\big(k_t - \tau\,\nabla f(k_t)\big)

satisfies :math:`f(k_{t+1}) \le f(k_t) - (\tfrac1\tau - \tfrac L2)\|k_{t+1} - k_t\|^2` (the
descent lemma plus the projection's variational inequality,
:math:`\langle k_t - \tau\nabla f(k_t) - k_{t+1},\ k_t - k_{t+1}\rangle \le 0`), so it decreases
:math:`f` at every step for any :math:`\tau < 2/L` (A. Beck, *First-Order Methods in
Optimization*, SIAM 2017, Lemma 10.4, the sufficient decrease lemma, stated there for a step
:math:`1/L'` with :math:`L' > L/2`).

* :func:`constant_init` -- the flat start on the central window, projected.
* :func:`kernel_loss` -- :math:`f(k)`.
* :func:`lipschitz_constant` -- :math:`L`, by :meth:`~course_lib.operators.LinearOperator.norm_squared`.
* :func:`pgd` and :func:`adam_projected` -- the two solvers; both project after every step.
* :func:`relative_error` -- :math:`\|\hat k - k^\star\|_2 / \|k^\star\|_2`.

Example
-------
>>> x = torch.rand(1, 3, 48, 48, generator=torch.Generator().manual_seed(0))
>>> k_true = torch.zeros(1, 1, 5, 5)
>>> k_true[0, 0, 2, 1:4] = 1 / 3                    # a short horizontal smear
>>> y = convolve2d(x, k_true)                        # noise-free, (1, 3, 44, 44)
>>> k0 = constant_init(k_true, margin=1)
>>> k_hat, losses = pgd(x, y, k0, n_iter=300, progress=False)
>>> decreasing = all(b <= a for a, b in zip(losses, losses[1:]))
>>> relative_error(k_hat, k_true) < 0.05, decreasing
(True, True)
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from tqdm.auto import tqdm

from .convolution import convolve2d
from .operators import ImageConvolution
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


def kernel_loss(kernel: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    r""":math:`\tfrac12\|k * x - y\|^2 / N` (``padding="valid"``), with :math:`N` = ``y.numel()``."""
    blurred = convolve2d(x, kernel, padding="valid")
    if blurred.shape != y.shape:
        raise ValueError(f"y has shape {tuple(y.shape)}, but the blur of x has shape {tuple(blurred.shape)}")
    return 0.5 * (blurred - y).square().sum() / y.numel()


def lipschitz_constant(
    x: torch.Tensor, kernel_shape: tuple[int, ...], n_iter: int = 50, zero_sum: bool = True
) -> float:
    r"""Smoothness constant :math:`L = \|X P\|^2 / N` of :func:`kernel_loss` in the kernel.

    A power iteration (:meth:`~course_lib.operators.LinearOperator.norm_squared`) on
    :math:`X k = k * x`, :math:`N` the number of measured values. With ``zero_sum=True`` (the
    default) :math:`P` projects onto kernels whose entries sum to zero -- the directions in which
    a point of the simplex can move, so the difference of two PGD iterates lies there. The
    all-ones direction (the image's brightness, the largest curvature) is then excluded.
    ``zero_sum=False`` gives the unconstrained constant :math:`\|X\|^2 / N`.
    """
    X = ImageConvolution(x, kernel_shape)
    n = X(torch.zeros(kernel_shape, dtype=x.dtype, device=x.device)).numel()

    def zero_mean(k: torch.Tensor) -> torch.Tensor:
        return k - k.mean(dim=KERNEL_DIMS, keepdim=True)

    example = torch.zeros(kernel_shape, dtype=x.dtype, device=x.device)
    g = torch.Generator().manual_seed(0)  # drawn on the CPU: the same start on every device
    return X.norm_squared(example, n_iter=n_iter, generator=g, subspace=zero_mean if zero_sum else None) / n


def _descend(
    x: torch.Tensor,
    y: torch.Tensor,
    kernel_init: torch.Tensor,
    make_optimizer: Callable[[list[torch.Tensor]], torch.optim.Optimizer],
    n_iter: int,
    desc: str,
    progress: bool,
    callback: Callable[[int, torch.Tensor], None] | None,
) -> tuple[torch.Tensor, list[float]]:
    """One optimiser step on :func:`kernel_loss`, then the projection, ``n_iter`` times."""
    if not isinstance(n_iter, int) or isinstance(n_iter, bool) or n_iter < 1:
        raise ValueError(f"n_iter must be a positive int, got {n_iter!r}")
    kernel = kernel_init.detach().clone().requires_grad_(True)
    optimizer = make_optimizer([kernel])
    losses: list[float] = []
    for it in tqdm(range(n_iter), desc=desc, disable=not progress):
        optimizer.zero_grad()
        loss = kernel_loss(kernel, x, y)
        loss.backward()
        optimizer.step()
        with torch.no_grad():  # project in place: the optimizer keeps its handle on `kernel`
            kernel.copy_(project_simplex(kernel, dim=KERNEL_DIMS))
        losses.append(float(loss.detach()))  # f at the iterate before this step
        if callback is not None:
            callback(it, kernel.detach())
    return kernel.detach(), losses


def pgd(
    x: torch.Tensor,
    y: torch.Tensor,
    kernel_init: torch.Tensor,
    step_size: float | None = None,
    n_iter: int = 1000,
    progress: bool = True,
    callback: Callable[[int, torch.Tensor], None] | None = None,
) -> tuple[torch.Tensor, list[float]]:
    r"""Projected gradient descent on :func:`kernel_loss`: :math:`k \leftarrow \Pi_\Delta(k - \tau\nabla f(k))`.

    ``step_size`` :math:`\tau` defaults to :math:`1/L` (:func:`lipschitz_constant`), which
    decreases the loss at every iteration; the original example's step is 0.7. The gradient
    step is ``torch.optim.SGD`` with ``lr=step_size``. Returns the kernel and the loss of each
    iterate before its step; ``callback(i, kernel)`` sees the kernel after step ``i``.
    """
    if step_size is None:
        step_size = 1.0 / lipschitz_constant(x, tuple(kernel_init.shape))
    if not isinstance(step_size, (int, float)) or isinstance(step_size, bool) or not step_size > 0:
        raise ValueError(f"step_size must be a number > 0, got {step_size!r}")
    return _descend(
        x, y, kernel_init, lambda p: torch.optim.SGD(p, lr=float(step_size)), n_iter, "PGD", progress, callback
    )


def adam_projected(
    x: torch.Tensor,
    y: torch.Tensor,
    kernel_init: torch.Tensor,
    lr: float = 0.1,
    n_iter: int = 200,
    progress: bool = True,
    callback: Callable[[int, torch.Tensor], None] | None = None,
) -> tuple[torch.Tensor, list[float]]:
    """Adam steps on :func:`kernel_loss` alternating with the simplex projection of the kernel."""
    if not isinstance(lr, (int, float)) or isinstance(lr, bool) or not lr > 0:
        raise ValueError(f"lr must be a number > 0, got {lr!r}")
    return _descend(x, y, kernel_init, lambda p: torch.optim.Adam(p, lr=float(lr)), n_iter, "Adam", progress, callback)


def relative_error(estimate: torch.Tensor, truth: torch.Tensor) -> float:
    r""":math:`\|\hat k - k\|_2 / \|k\|_2` over all entries."""
    if estimate.shape != truth.shape:
        raise ValueError(f"estimate shape {tuple(estimate.shape)} differs from truth shape {tuple(truth.shape)}")
    return float((estimate - truth).norm() / truth.norm())
