r"""The trap of joint MAP: blur lowers total variation, so the no-blur pair wins.

The joint objective over the image and the kernel,

.. math::  J(x, k) = \tfrac12\|k * x - y\|^2 + \lambda\,\mathrm{TV}(x),\qquad k \in \Delta,

is smallest not at the truth but at "no blur": :math:`k = \delta`, :math:`x \approx y`
(Levin, Weiss, Durand & Freeman, "Understanding and evaluating blind deconvolution algorithms",
CVPR 2009). One line shows why without noise: :math:`\nabla(k * x) = k * \nabla x`, and for
:math:`k \ge 0`, :math:`\sum k = 1` the triangle inequality gives
:math:`\mathrm{TV}(k * x) = \sum_p\|\sum_q k_q (\nabla x)_{p-q}\| \le \sum_q k_q \sum_p \|(\nabla x)_p\|
= \mathrm{TV}(x)`. So for :math:`y = k^\star * x^\star`, :math:`J(y, \delta) = \lambda\,\mathrm{TV}(y) \le
\lambda\,\mathrm{TV}(x^\star) = J(x^\star, k^\star)`: the blurred image is itself an
at-least-as-good "sharp" image. With noise, :math:`J(x^\star, k^\star)` gains the misfit
:math:`\tfrac12\|n\|^2`, and the best no-blur pair :math:`(x_\delta, \delta)`,
:math:`x_\delta = \arg\min_x J(x, \delta)` (TV denoising of :math:`y`), is lower still.

* :func:`total_variation`, :func:`joint_objective` -- :math:`\mathrm{TV}` (isotropic, periodic) and :math:`J`;
* :func:`delta_kernel` -- the no-blur kernel;
* :func:`naive_alternating` -- alternating minimisation of :math:`J` itself from a flat kernel,
  recording where the kernel goes.

Example
-------
>>> import torch
>>> from course_lib.operators import Blur
>>> x = torch.rand(1, 1, 32, 32, generator=torch.Generator().manual_seed(0))
>>> k = torch.ones(1, 1, 3, 3) / 9
>>> y = Blur(k, padding="circular")(x)
>>> bool(joint_objective(y, delta_kernel(3), y, 0.01) <= joint_objective(x, k, y, 0.01))
True
"""

from __future__ import annotations

import torch

from ..convolution import convolve2d
from ..projections import project_simplex
from .nonblind import grad_periodic, tv_deconvolve
from .tv_blind import kernel_solve, kernel_step

__all__ = ["total_variation", "joint_objective", "delta_kernel", "naive_alternating"]


def total_variation(x: torch.Tensor) -> torch.Tensor:
    r"""Isotropic TV with periodic differences, :math:`\sum_p \|(\nabla x)_p\|_2`, per image: ``(B,)``."""
    g = grad_periodic(x)  # (B, C, 2, H, W)
    return torch.hypot(g[:, :, 0], g[:, :, 1]).flatten(1).sum(1)


def joint_objective(x: torch.Tensor, kernel: torch.Tensor, y: torch.Tensor, lam: float) -> torch.Tensor:
    r""":math:`J(x, k) = \tfrac12\|k * x - y\|^2 + \lambda\,\mathrm{TV}(x)` per image (circular blur): ``(B,)``."""
    r = convolve2d(x, kernel.to(x.dtype), padding="circular") - y
    return 0.5 * r.pow(2).flatten(1).sum(1) + lam * total_variation(x)


def delta_kernel(size: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """The identity blur: ``(1, 1, size, size)`` with a 1 at the centre."""
    if not isinstance(size, int) or size < 1 or size % 2 == 0:
        raise ValueError(f"size must be an odd positive int, got {size!r}")
    k = torch.zeros(1, 1, size, size, dtype=dtype)
    k[0, 0, size // 2, size // 2] = 1.0
    return k


def naive_alternating(y: torch.Tensor, kernel_size: int, lam: float = 3e-3, n_iter: int = 20,
                      x_iter: int = 50, k_iter: int | None = 50, kernel_init: torch.Tensor | None = None,
                      x_init: torch.Tensor | None = None, normalise: str = "project") -> dict[str, list]:
    r"""Alternate :math:`x \leftarrow \arg\min_x J(x, k)` (ADMM) and PGD on :math:`k` for :math:`J` itself.

    No pyramid, no schedule, the image-domain misfit: the textbook scheme, from ``kernel_init``
    (default: the flat kernel) and ``x_init`` (default: ``y``). ``k_iter`` PGD steps of size
    :math:`1/L` per round, or ``None``: the kernel subproblem solved to convergence
    (:func:`~.tv_blind.kernel_solve`, Frank--Wolfe gap at most 1e-6 f); ``normalise`` is
    :func:`~.tv_blind.kernel_step`'s (``"delayed"``: Perrone & Favaro's). Returns a dict of per-iteration
    lists: ``"objective"`` (``(B,)`` arrays), ``"kernel"`` (the iterates) and the final ``"x"``.
    """
    if normalise not in ("project", "delayed"):
        raise ValueError(f"normalise must be 'project' or 'delayed', got {normalise!r}")
    if k_iter is None and normalise != "project":
        raise ValueError("normalise='delayed' needs k_iter PGD steps: the exact solve (k_iter=None) projects")
    B = y.shape[0]
    if kernel_init is None:
        k = project_simplex(torch.ones(B, 1, kernel_size, kernel_size, dtype=y.dtype), dim=(-2, -1))
    else:
        k = kernel_init.detach().clone()
    x = y.clone() if x_init is None else x_init.detach().clone()
    out: dict[str, list] = {"objective": [], "kernel": []}
    for _ in range(n_iter):
        x = tv_deconvolve(y, k, lam, n_iter=x_iter, x0=x)
        k = (kernel_solve(x, y, k, gradient_domain=False) if k_iter is None
             else kernel_step(x, y, k, n_iter=k_iter, gradient_domain=False, normalise=normalise))
        out["objective"].append(joint_objective(x, k, y, lam).numpy())
        out["kernel"].append(k.clone())
    out["x"] = [x]
    return out
