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
* :class:`KernelLeastSquares` -- the same :math:`f` from its normal equations,
  :math:`f(k) = \tfrac12 k^\top G k - b^\top k + c` with :math:`G = X^\top X/N`, solved to
  convergence (FISTA) with a certificate: the Frank--Wolfe gap bounds :math:`f(k) - \min_\Delta f`.
  It separates the error the noise leaves in the best kernel from an optimiser's unfinished work.
* :func:`relative_error` -- :math:`\|\hat k - k^\star\|_2 / \|k^\star\|_2`.

Example
-------
>>> x = torch.rand(1, 3, 48, 48, generator=torch.Generator().manual_seed(0))
>>> k_true = torch.zeros(1, 1, 5, 5)
>>> k_true[0, 0, 2, 1:4] = 1 / 3                    # a short horizontal smear
>>> y = convolve2d(x, k_true)                        # noise-free, (1, 3, 44, 44)
>>> k0 = constant_init(k_true, margin=1)
>>> k_hat, losses = pgd(x, y, k0, n_iter=300, progress=False)
>>> kept = [a for a in losses if a > 1e-12 * losses[0]]   # noise-free: f -> rounding
>>> decreasing = all(b <= a * (1 + 1e-9) for a, b in zip(kept, kept[1:]))
>>> relative_error(k_hat, k_true) < 0.05, decreasing
(True, True)
"""

from __future__ import annotations

import copy
from collections.abc import Callable

import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from .convolution import convolve2d
from .operators import ImageConvolution
from .projections import project_simplex

__all__ = ["constant_init", "kernel_loss", "lipschitz_constant", "pgd", "adam_projected", "relative_error",
           "KernelLeastSquares", "fista_simplex", "polish_on_support"]

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
    objective: Callable[[torch.Tensor], torch.Tensor] | None = None,
) -> tuple[torch.Tensor, list[float]]:
    """One optimiser step on ``objective`` (default :func:`kernel_loss`), then the projection, ``n_iter`` times."""
    if not isinstance(n_iter, int) or isinstance(n_iter, bool) or n_iter < 1:
        raise ValueError(f"n_iter must be a positive int, got {n_iter!r}")
    if objective is None:
        def objective(kernel: torch.Tensor) -> torch.Tensor:
            return kernel_loss(kernel, x, y)
    elif not callable(objective):
        raise TypeError(f"objective must be a callable kernel -> loss, got {type(objective).__name__}")
    kernel = kernel_init.detach().clone().requires_grad_(True)
    optimizer = make_optimizer([kernel])
    losses: list[float] = []
    for it in tqdm(range(n_iter), desc=desc, disable=not progress):
        optimizer.zero_grad()
        loss = objective(kernel)
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
    objective: Callable[[torch.Tensor], torch.Tensor] | None = None,
) -> tuple[torch.Tensor, list[float]]:
    r"""Projected gradient descent on :func:`kernel_loss`: :math:`k \leftarrow \Pi_\Delta(k - \tau\nabla f(k))`.

    ``step_size`` :math:`\tau` defaults to :math:`1/L` (:func:`lipschitz_constant`), which
    decreases the loss at every iteration; the original example's step is 0.7. The gradient
    step is ``torch.optim.SGD`` with ``lr=step_size``. Returns the kernel and the loss of each
    iterate before its step; ``callback(i, kernel)`` sees the kernel after step ``i``.
    ``objective`` replaces :func:`kernel_loss` by another form of the same loss, e.g.
    :meth:`KernelLeastSquares.loss` (one small matrix product per step instead of two convolutions).
    """
    if step_size is None:
        step_size = 1.0 / lipschitz_constant(x, tuple(kernel_init.shape))
    if not isinstance(step_size, (int, float)) or isinstance(step_size, bool) or not step_size > 0:
        raise ValueError(f"step_size must be a number > 0, got {step_size!r}")
    return _descend(
        x, y, kernel_init, lambda p: torch.optim.SGD(p, lr=float(step_size)), n_iter, "PGD", progress, callback,
        objective,
    )


def adam_projected(
    x: torch.Tensor,
    y: torch.Tensor,
    kernel_init: torch.Tensor,
    lr: float = 0.1,
    n_iter: int = 200,
    progress: bool = True,
    callback: Callable[[int, torch.Tensor], None] | None = None,
    objective: Callable[[torch.Tensor], torch.Tensor] | None = None,
) -> tuple[torch.Tensor, list[float]]:
    """Adam steps on :func:`kernel_loss` alternating with the simplex projection of the kernel.

    ``objective`` as in :func:`pgd`.
    """
    if not isinstance(lr, (int, float)) or isinstance(lr, bool) or not lr > 0:
        raise ValueError(f"lr must be a number > 0, got {lr!r}")
    return _descend(x, y, kernel_init, lambda p: torch.optim.Adam(p, lr=float(lr)), n_iter, "Adam", progress, callback,
                    objective)


def relative_error(estimate: torch.Tensor, truth: torch.Tensor) -> float:
    r""":math:`\|\hat k - k\|_2 / \|k\|_2` over all entries."""
    if estimate.shape != truth.shape:
        raise ValueError(f"estimate shape {tuple(estimate.shape)} differs from truth shape {tuple(truth.shape)}")
    return float((estimate - truth).norm() / truth.norm())


def _patch_gram(x: torch.Tensor, h: int, w: int) -> torch.Tensor:
    r"""The Gram matrix of all :math:`h \times w` patches of ``x`` ``(C, H, W)``, ``(hw, hw)``.

    Entry :math:`((a_1, b_1), (a_2, b_2))` is :math:`\sum_{c,i,j} x_{c,i+a_1,j+b_1}\,x_{c,i+a_2,j+b_2}`
    over the :math:`H' \times W'` valid positions. With the offset :math:`d = a_1 - a_2` it is the sum
    of the product image :math:`x_{u+d}\,x_u` over the window :math:`a_2 + [0, H') \times [0, W')`.
    So one product image per offset (:math:`(2h-1)(2w-1)` of them) and its window sums give every
    entry: :math:`O(hw\,HW)` work instead of the :math:`O(h^2w^2\,HW)` of a product of unfolded
    patches. Offsets with :math:`d_i < 0` follow by symmetry.
    """
    C, H, W = x.shape
    Hp, Wp = H - h + 1, W - w + 1
    G = x.new_zeros(h, w, h, w)
    xp = F.pad(x, (w - 1, w - 1, 0, h - 1))  # x[u + di, v + dj] for every di >= 0, |dj| < w
    u, v = torch.arange(H, device=x.device)[:, None], torch.arange(W, device=x.device)[:, None]
    a, b = torch.arange(h, device=x.device), torch.arange(w, device=x.device)
    rows_in = ((u >= a) & (u < a + Hp)).to(x.dtype)  # (H, h): u in the window of a2
    cols_in = ((v >= b) & (v < b + Wp)).to(x.dtype)  # (W, w)
    for di in range(h):
        shifted = xp[:, di : di + H].contiguous()
        prods = torch.stack([(shifted[..., m : m + W] * x).sum(0) for m in range(2 * w - 1)])
        sums = rows_in.T @ (prods @ cols_in)  # (2w - 1, h, w): window sums at every (a2, b2)
        a2 = a[: h - di]
        for m, dj in enumerate(range(-(w - 1), w)):
            b2 = b[max(0, -dj) : min(w, w - dj)]
            G[(a2 + di)[:, None], (b2 + dj)[None, :], a2[:, None], b2[None, :]] = sums[m][a2][:, b2]
    G = G.reshape(h * w, h * w)
    row = torch.arange(h * w, device=x.device) // w
    upper = row[:, None] < row[None, :]  # a1 < a2: the transposed entries
    return torch.where(upper, G.T, G)


class KernelLeastSquares:
    r""":func:`kernel_loss` from its normal equations, and its minimiser on the simplex to convergence.

    With :math:`X k = k * x` (``padding="valid"``, one kernel for every channel) and :math:`N` =
    ``y.numel()``,

    .. math::  f(k) = \tfrac1{2N}\|Xk - y\|^2 = \tfrac12 k^\top G k - b^\top k + c,

    .. math::  G = X^\top X / N,\quad b = X^\top y / N,\quad c = \tfrac1{2N}\|y\|^2.

    Column :math:`(a, b)` of :math:`X` is the image shifted by the kernel offset, so :math:`G`
    is the Gram matrix of the image's :math:`h \times w` patches (:func:`_patch_gram`), built once
    in float64, with its spectrum on zero-sum kernels (:meth:`zero_sum_curvatures`). A gradient is
    then one ``hw x hw`` product.

    :meth:`solve` runs FISTA (Beck & Teboulle 2009, with the adaptive restart of O'Donoghue &
    Candes 2015) at the step :math:`1/L`, :math:`L` the largest eigenvalue of :math:`G` on
    zero-sum kernels (exact, ``eigvalsh``), until the Frank--Wolfe gap
    :math:`g(k) = \nabla f(k)^\top k - \min_i \nabla f(k)_i` falls below ``tol`` times
    :math:`f(k)`. Since :math:`f` is convex and the simplex's vertices are the unit kernels,
    :math:`f(k) - \min_\Delta f \le g(k)` (Jaggi 2013, Sec. 2): the gap certifies how far the
    returned kernel's loss is from the optimum, whatever the optimiser did.

    Example
    -------
    >>> g = torch.Generator().manual_seed(0)
    >>> x = torch.rand(1, 3, 40, 40, dtype=torch.float64, generator=g)
    >>> k_true = torch.zeros(1, 1, 5, 5, dtype=torch.float64)
    >>> k_true[0, 0, 2, 1:4] = 1 / 3
    >>> ls = KernelLeastSquares(x, convolve2d(x, k_true), k_true.shape)
    >>> abs(float(ls.loss(k_true))) < 1e-12, relative_error(ls.solve(), k_true) < 1e-6
    (True, True)
    """

    def __init__(self, x: torch.Tensor, y: torch.Tensor, kernel_shape: tuple[int, ...]) -> None:
        if x.ndim != 4 or y.ndim != 4:
            raise ValueError(f"x and y must be (B, C, H, W), got shapes {tuple(x.shape)} and {tuple(y.shape)}")
        shape = tuple(int(n) for n in kernel_shape)
        if len(shape) != 4 or shape[:2] != (1, 1):
            raise ValueError(f"kernel_shape must be (1, 1, h, w): one kernel for every channel, got {shape}")
        h, w = shape[-2:]
        if y.shape[-2:] != (x.shape[-2] - h + 1, x.shape[-1] - w + 1) or y.shape[:2] != x.shape[:2]:
            raise ValueError(f"y has shape {tuple(y.shape)}, but the valid blur of x by a {h}x{w} kernel has shape "
                             f"{(*x.shape[:2], x.shape[-2] - h + 1, x.shape[-1] - w + 1)}")
        self.kernel_shape, self.n, self.y_shape = shape, y.numel(), tuple(y.shape)
        xd = x.detach().to(torch.float64).flatten(0, 1)  # (BC, H, W)
        self._X = ImageConvolution(xd[:, None], (1, 1, h, w))
        # (k * x)_p = sum_m k_m patch_p[hw - 1 - m]: the true convolution flips the kernel.
        self.G = _patch_gram(xd, h, w).flip(0, 1) / self.n
        n = self.G.shape[0]
        P = torch.eye(n, dtype=torch.float64, device=self.G.device) - 1.0 / n
        # P G P is G on zero-sum kernels plus one zero eigenvalue, along the all-ones kernel (G is
        # positive definite, so every other eigenvalue is positive): drop the smallest.
        self._curvatures = torch.linalg.eigvalsh(P @ self.G @ P)[1:]
        self._set_data(y)

    def _set_data(self, y: torch.Tensor) -> None:
        yd = y.detach().to(torch.float64).flatten(0, 1)[:, None]
        self.b = self._X.adjoint(yd).reshape(-1) / self.n
        self.c = 0.5 * float(yd.square().sum()) / self.n

    def with_data(self, y: torch.Tensor) -> KernelLeastSquares:
        """The same image and kernel shape with other data ``y``: :math:`G` is kept, :math:`b, c` recomputed."""
        if tuple(y.shape) != self.y_shape:
            raise ValueError(f"y must have the shape of the data this was built with, {self.y_shape}, got {tuple(y.shape)}")
        other = copy.copy(self)  # shares G and its spectrum
        other._set_data(y)
        return other

    def loss(self, kernel: torch.Tensor) -> torch.Tensor:
        r""":math:`f(k)`, differentiable in ``kernel``, in float64 (round-off about 1e-16 of :math:`\|y\|^2/N`)."""
        if tuple(kernel.shape) != self.kernel_shape:
            raise ValueError(f"kernel must have shape {self.kernel_shape}, got {tuple(kernel.shape)}")
        k = kernel.reshape(-1).to(torch.float64)
        return 0.5 * k @ (self.G @ k) - self.b @ k + self.c

    def gradient(self, kernel: torch.Tensor) -> torch.Tensor:
        r""":math:`\nabla f(k) = Gk - b`, in ``kernel``'s shape."""
        k = kernel.reshape(-1).to(torch.float64)
        return (self.G @ k - self.b).reshape(self.kernel_shape)

    def zero_sum_curvatures(self) -> torch.Tensor:
        """The ``hw - 1`` eigenvalues of :math:`G` on zero-sum kernels, ascending: the curvatures of
        :math:`f` along the directions a point of the simplex can move in."""
        return self._curvatures

    def lipschitz(self) -> float:
        """The largest eigenvalue of :math:`G` on zero-sum kernels: :math:`L` of :func:`lipschitz_constant`, exact."""
        return float(self._curvatures[-1])

    def gap(self, kernel: torch.Tensor) -> float:
        r"""The Frank--Wolfe gap at a kernel on the simplex: an upper bound on :math:`f(k) - \min_\Delta f`."""
        g = self.gradient(kernel).reshape(-1)
        return float(g @ kernel.reshape(-1).to(torch.float64) - g.min())

    def _polish(self, k: torch.Tensor) -> torch.Tensor:
        """:func:`polish_on_support` with this problem's :math:`G` and :math:`b`."""
        return polish_on_support(self.G, self.b, k)

    def solve(self, kernel_init: torch.Tensor | None = None, tol: float = 1e-9, max_iter: int = 100_000) -> torch.Tensor:
        """FISTA with adaptive restart from ``kernel_init`` (default the flat kernel) until ``gap <= tol * f``.

        Every 50 steps the minimiser on the current support is tried (:meth:`_polish`); the gap,
        not the method, certifies the result. On data that a kernel fits exactly, ``f`` falls to
        rounding level (computed as a quadratic form, it is then about ``1e-15 f(kernel_init)``
        either side of 0) and ``gap <= tol * f`` can never hold; there ``f`` itself is the
        certificate (``f - min f <= f``, as ``f >= 0``), and the solve stops once
        ``f <= 1e-12 f(kernel_init)``, far below any noise floor of the chapters.

        Returns the float64 kernel; raises ``RuntimeError`` if ``max_iter`` steps do not reach ``tol``.
        """
        if not tol > 0:
            raise ValueError(f"tol must be > 0, got {tol!r}")
        h, w = self.kernel_shape[-2:]
        if kernel_init is None:
            kernel_init = torch.full(self.kernel_shape, 1.0 / (h * w), dtype=torch.float64, device=self.G.device)
        k = project_simplex(kernel_init.detach().to(torch.float64).reshape(1, -1), dim=-1)[0]
        exact = 1e-12 * float(self.loss(k.reshape(self.kernel_shape)))  # an exact fit

        def check(k: torch.Tensor) -> tuple[torch.Tensor, bool]:
            k = self._polish(k)
            f = float(self.loss(k.reshape(self.kernel_shape)))
            return k, f <= exact or self.gap(k) <= tol * f

        k = fista_simplex(self.G, self.b, k, 1.0 / self.lipschitz(), check, max_iter)
        if k is None:
            raise RuntimeError(f"FISTA did not reach a Frank-Wolfe gap of {tol:g} x f in {max_iter} steps")
        return k.reshape(self.kernel_shape)


def polish_on_support(G: torch.Tensor, b: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    r"""The minimiser of :math:`\tfrac12 k^\top G k - b^\top k` on ``k``'s support, if it is feasible and better.

    On the support :math:`S = \{k > 0\}` with the entries summing to one, the KKT system
    :math:`[G_{SS}\ 1; 1^\top\ 0][k_S; \nu] = [b_S; 1]`: once an iterative method has found the
    support, one solve replaces its slow last digits. Otherwise ``k`` is returned unchanged.
    """
    S = k > 0
    n = int(S.sum())
    M = torch.zeros(n + 1, n + 1, dtype=k.dtype, device=k.device)
    M[:n, :n] = G[S][:, S]
    M[:n, n] = M[n, :n] = 1.0
    rhs = torch.cat([b[S], k.new_ones(1)])
    sol = torch.linalg.lstsq(M, rhs[:, None]).solution[:n, 0]
    if not bool((sol >= 0).all()):
        return k
    polished = torch.zeros_like(k)
    polished[S] = sol

    def f(v: torch.Tensor) -> float:
        return float(0.5 * v @ (G @ v) - b @ v)

    return polished if f(polished) <= f(k) else k


def fista_simplex(G: torch.Tensor, b: torch.Tensor, k: torch.Tensor, step: float,
                  check: Callable[[torch.Tensor], tuple[torch.Tensor, bool]],
                  max_iter: int = 100_000) -> torch.Tensor | None:
    r"""FISTA with adaptive restart for :math:`\tfrac12 k^\top G k - b^\top k` on the simplex.

    ``G`` ``(n, n)`` symmetric positive semi-definite, ``b`` and the start ``k`` ``(n,)`` (``k`` on
    the simplex), ``step`` at most :math:`1/L`. Every 50 steps, from the first, ``check(k)``
    returns ``(k, done)``: it may replace the iterate (a polishing solve) and says when to stop
    (a certificate such as the Frank--Wolfe gap). Beck & Teboulle (2009) with the gradient
    restart of O'Donoghue & Candes (2015): the momentum is dropped whenever it points uphill.
    Returns the kernel, or ``None`` if ``max_iter`` steps never satisfied ``check``.
    """
    z, t = k.clone(), 1.0
    for it in range(max_iter):
        if it % 50 == 0:
            k, done = check(k)
            if done:
                return k
        k_next = project_simplex((z - step * (G @ z - b))[None], dim=-1)[0]
        if float((z - k_next) @ (k_next - k)) > 0:  # the momentum points uphill: restart
            z, t = k_next.clone(), 1.0
        else:
            t_next = 0.5 * (1 + (1 + 4 * t * t) ** 0.5)
            z = k_next + (t - 1) / t_next * (k_next - k)
            t = t_next
        k = k_next
    return None
