r"""Euclidean projection onto the probability simplex.

The simplex :math:`\Delta = \{p \in \mathbb R^n : p_i \ge 0,\ \sum_i p_i = 1\}` is where blur
kernels live: non-negative (light is never subtracted) and summing to one (a
blur preserves the mean brightness). Its Euclidean projection

.. math::  \Pi_\Delta(v) = \arg\min_{p \in \Delta} \|p - v\|_2

has the closed form :math:`\Pi_\Delta(v) = \max(v - \tau, 0)`: shift every entry by one
threshold :math:`\tau` and clip at zero. The KKT conditions fix :math:`\tau` by
:math:`\sum_i \max(v_i - \tau, 0) = 1`. Sorting :math:`u = \mathrm{sort}(v)` in
decreasing order, the number of positive entries is

.. math::  \rho = \max\{j : u_j - \tfrac1j(\textstyle\sum_{i \le j} u_i - 1) > 0\},
           \qquad \tau = \tfrac1\rho\big(\textstyle\sum_{i\le\rho} u_i - 1\big),

an :math:`O(n \log n)` algorithm (Held et al. 1974; Duchi et al. 2008; Blondel,
Fujino & Ueda 2014).

**Batches.** Each slice needs its *own* :math:`\rho` and :math:`\tau`. A common bug takes the
last index where the condition holds *over the whole batch*, which projects every
kernel with the threshold of the last one; here :math:`\rho` is counted per slice.

Example
-------
>>> k = project_simplex(torch.randn(8, 1, 25, 25), dim=(-2, -1))   # 8 kernels
>>> torch.allclose(k.sum(dim=(-2, -1)), torch.ones(8, 1)), bool((k >= 0).all())
(True, True)
"""

from __future__ import annotations

import torch

__all__ = ["project_simplex"]


def _normalise_dims(dim: int | tuple[int, ...], ndim: int) -> tuple[int, ...]:
    dims = (dim,) if isinstance(dim, int) and not isinstance(dim, bool) else dim
    if not isinstance(dims, (tuple, list)) or not dims or not all(isinstance(d, int) and not isinstance(d, bool) for d in dims):
        raise TypeError(f"dim must be an int or a non-empty tuple of ints, got {dim!r}")
    out = []
    for d in dims:
        if not -ndim <= d < ndim:
            raise ValueError(f"dim {d} is out of range for a tensor v with {ndim} dims")
        out.append(d % ndim)
    if len(set(out)) != len(out):
        raise ValueError(f"dim contains repeated dimensions: {dim!r}")
    return tuple(sorted(out))


def project_simplex(v: torch.Tensor, dim: int | tuple[int, ...] = -1) -> torch.Tensor:
    """Project every slice of ``v`` over ``dim`` onto the probability simplex.

    Parameters
    ----------
    v : floating tensor, any shape; must be finite.
    dim : the dimension, or tuple of dimensions flattened together, that form one
        vector to project. All other dimensions index independent problems.

    Returns
    -------
    A tensor of ``v``'s shape, dtype and device whose slices are non-negative and sum to one.
    """
    if not isinstance(v, torch.Tensor):
        raise TypeError(f"v must be a torch.Tensor, got {type(v).__name__}")
    if not v.is_floating_point():
        raise TypeError(f"v must be a floating-point tensor, got {v.dtype}")
    if v.dim() == 0:
        raise ValueError("v must have at least one dimension")
    if not torch.isfinite(v).all():
        raise ValueError("v contains NaN or inf; the projection is undefined")
    dims = _normalise_dims(dim, v.dim())
    rest = tuple(d for d in range(v.dim()) if d not in dims)
    vp = v.permute(*rest, *dims)  # projected dims last
    batch_shape = vp.shape[: len(rest)]
    flat = vp.reshape(*batch_shape, -1)  # (..., n)
    n = flat.shape[-1]

    u = torch.sort(flat, dim=-1, descending=True).values  # (..., n)
    css = torch.cumsum(u, dim=-1) - 1.0  # partial sums minus the target mass
    j = torch.arange(1, n + 1, device=v.device, dtype=v.dtype)
    support = u - css / j > 0  # (..., n): true for j = 1..rho, then false
    rho = support.sum(dim=-1, keepdim=True)  # (..., 1), >= 1 always
    tau = torch.gather(css, -1, rho - 1) / rho.to(v.dtype)  # (..., 1) one threshold per slice
    w = torch.clamp(flat - tau, min=0.0)

    w = w.reshape(vp.shape)
    inverse = [0] * v.dim()
    for new, old in enumerate((*rest, *dims)):
        inverse[old] = new
    return w.permute(*inverse).contiguous()
