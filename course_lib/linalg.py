r"""Conjugate gradients for the symmetric positive (semi-)definite systems the course solves.

:func:`conjugate_gradient` solves :math:`M u = b` for a linear map :math:`M` given as a function
(never as a matrix): Tikhonov's normal equations, ΠGDM's :math:`(r_t^2 AA^\top + \sigma_y^2 I)v = r`,
DiffPIR's data subproblem. Each of the first ``batch_dims`` dimensions indexes an independent
system with its own step lengths (Hestenes & Stiefel 1952; Nocedal & Wright, *Numerical
Optimization*, 2nd ed., Algorithm 5.2): for :math:`k = 0, 1, \dots`

.. math::

    \alpha_k = \frac{r_k^\top r_k}{p_k^\top M p_k},\quad u_{k+1} = u_k + \alpha_k p_k,\quad
    r_{k+1} = r_k - \alpha_k M p_k,\quad p_{k+1} = r_{k+1} + \frac{r_{k+1}^\top r_{k+1}}{r_k^\top r_k}\,p_k .

In exact arithmetic it terminates in at most as many steps as :math:`M` has distinct eigenvalues
(Nocedal & Wright, Theorem 5.4): two for a 0/1 mask plus a multiple of the identity.

Example
-------
>>> import torch
>>> m = torch.tensor([[1.0, 0.0, 1.0], [0.0, 1.0, 1.0]])          # two diagonal systems
>>> b = torch.tensor([[2.0, 1.0, 4.0], [1.0, 3.0, 2.0]])
>>> u = conjugate_gradient(lambda v: m * v + 0.5 * v, b, batch_dims=1)
>>> torch.allclose(u, b / (m + 0.5))
True
"""

from __future__ import annotations

from typing import Callable

import torch

__all__ = ["conjugate_gradient"]


def conjugate_gradient(apply: Callable[[torch.Tensor], torch.Tensor], b: torch.Tensor, x0: torch.Tensor | None = None,
                       iters: int = 100, tol: float = 1e-10, batch_dims: int = 0) -> torch.Tensor:
    """Solve ``apply(u) = b`` for a symmetric positive definite linear ``apply``.

    ``b`` and the start ``x0`` (default 0) have the same shape; the first ``batch_dims``
    dimensions index independent systems. Stops after ``iters`` steps or when every residual
    norm is below ``tol`` times its right-hand side's norm. Returns ``u`` of ``b``'s shape.
    """
    if not callable(apply):
        raise TypeError(f"apply must be callable, got {type(apply).__name__}")
    if not isinstance(b, torch.Tensor):
        raise TypeError(f"b must be a torch.Tensor, got {type(b).__name__}")
    if not isinstance(iters, int) or iters < 1:
        raise ValueError(f"iters must be a positive int, got {iters!r}")
    if not isinstance(batch_dims, int) or not 0 <= batch_dims < b.dim():
        raise ValueError(f"batch_dims must be an int in [0, {b.dim() - 1}], got {batch_dims!r}")
    u = torch.zeros_like(b) if x0 is None else torch.broadcast_to(x0, b.shape).clone()
    dims = tuple(range(batch_dims, b.dim()))
    shape = b.shape[:batch_dims] + (1,) * (b.dim() - batch_dims)

    def dot(p: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
        return (p * q).sum(dims).reshape(shape)

    r = b - apply(u) if x0 is not None else b.clone()
    p, rs = r.clone(), dot(r, r)
    stop = (tol * b.flatten(batch_dims).norm(dim=-1)).reshape(shape) ** 2
    for _ in range(iters):
        if bool((rs <= stop).all()):
            break
        mp = apply(p)
        pmp = dot(p, mp)
        alpha = torch.where(pmp > 0, rs / pmp.clamp_min(torch.finfo(b.dtype).tiny), torch.zeros_like(rs))
        u, r = u + alpha * p, r - alpha * mp
        rs_new = dot(r, r)
        p = r + torch.where(rs > 0, rs_new / rs.clamp_min(torch.finfo(b.dtype).tiny), torch.zeros_like(rs)) * p
        rs = rs_new
    return u
