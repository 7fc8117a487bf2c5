"""Self-checks for the exercises of chapter 1 (blind kernel estimation).

Every reference answer is computed here without the library: the projection by bisection on
the threshold, the kernel gradient by autograd through ``torch.nn.functional.conv2d``, the safe
step from the singular values of a dense matrix.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from . import attempt, passed, self_check

__all__ = ["check_projection", "check_kernel_gradient", "check_safe_step"]


# ----------------------------------------------------------------------------- exercise 1
def _bisection_projection(v: np.ndarray) -> np.ndarray:
    """Reference: the tau with sum(max(v - tau, 0)) = 1, found by bisection, then max(v - tau, 0)."""
    lo, hi = v.min() - 1.0, v.max()  # mass(lo) >= 1 > mass(hi) = 0
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if np.maximum(v - mid, 0.0).sum() > 1.0 else (lo, mid)
    return np.maximum(v - 0.5 * (lo + hi), 0.0)


def _projection_cases() -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    mixed = torch.randn(4, 7, generator=g, dtype=torch.float64)
    mixed[1] += 10.0  # one row far above the simplex: its threshold differs from the others
    mixed[2] *= 0.01  # one row close to the centre: every entry survives
    wide = 3.0 * torch.randn(6, 25, generator=g, dtype=torch.float64)
    return [mixed, wide, torch.rand(2, 3, generator=g, dtype=torch.float64)]


@self_check(hint="sort each row in decreasing order (torch.sort(v, dim=-1, descending=True)), then cumsum.")
def check_projection(my_project) -> None:
    """Exercise 1: ``my_project(v)`` projects every row of a ``(B, n)`` tensor onto the simplex."""
    for v in _projection_cases():
        got = attempt(my_project, v.clone())
        got = torch.as_tensor(got).detach().to(torch.float64)
        want = np.stack([_bisection_projection(row) for row in v.numpy()])
        if tuple(got.shape) != tuple(v.shape):
            raise AssertionError(f"expected a result of shape {tuple(v.shape)}, got {tuple(got.shape)}")
        sums = got.sum(dim=-1)
        if float(got.min()) < -1e-12 or float((sums - 1).abs().max()) > 1e-9:
            raise AssertionError(
                f"expected rows on the simplex (entries >= 0, each row summing to 1); got min "
                f"{float(got.min()):.3g} and row sums {[round(float(s), 4) for s in sums]}. Hint: clip "
                "max(v - tau, 0) after subtracting the threshold, with one tau per row."
            )
        dev = float(np.abs(got.numpy() - want).max())
        if dev > 1e-9:
            raise AssertionError(
                f"expected the closest point of the simplex (bisection on tau); yours is on the simplex "
                f"but off by up to {dev:.3g}. Hint: rho is the LAST j with u_j - (sum_(i<=j) u_i - 1)/j > 0, "
                "counted per row, and tau = (sum_(i<=rho) u_i - 1) / rho."
            )
    passed("your projection matches a bisection on the threshold, row by row, on three batches")


# ----------------------------------------------------------------------------- exercise 2
def _reference_gradient(k: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Autograd of 0.5 ||k * x - y||^2 / N through F.conv2d (a correlation: flip for a convolution)."""
    kk = k.clone().requires_grad_(True)
    C = x.shape[1]
    blurred = F.conv2d(x, torch.flip(kk, dims=(-2, -1)).expand(C, 1, *k.shape[-2:]), groups=C)
    loss = 0.5 * (blurred - y).square().sum() / y.numel()
    (grad,) = torch.autograd.grad(loss, kk)
    return grad


@self_check(hint="the residual r = k * x - y, then F.conv2d(x, r) correlates the image with it; flip the result.")
def check_kernel_gradient(my_gradient) -> None:
    """Exercise 2: ``my_gradient(k, x, y)`` is the gradient of ||k*x - y||^2 / (2N) in k (valid padding)."""
    g = torch.Generator().manual_seed(1)
    x = torch.rand(1, 3, 24, 20, generator=g, dtype=torch.float64)
    k = torch.rand(1, 1, 5, 4, generator=g, dtype=torch.float64)  # not square: catches a transpose
    y = torch.rand(1, 3, 20, 17, generator=g, dtype=torch.float64)
    want = _reference_gradient(k, x, y)
    got = attempt(my_gradient, k.clone(), x.clone(), y.clone())
    got = torch.as_tensor(got).detach().to(torch.float64)
    if tuple(got.shape) != tuple(want.shape):
        raise AssertionError(f"expected a gradient of shape {tuple(want.shape)}, got {tuple(got.shape)}")
    err = float((got - want).norm() / want.norm())
    if err > 1e-8:
        ratio = float((got * want).sum() / want.square().sum())  # the best scalar multiple
        if ratio < 0 and float((got - ratio * want).norm() / want.norm()) < 1e-6:
            hint = "the sign is wrong: the residual is r = k * x - y, and the gradient is +X^T r / N."
        elif abs(ratio - 1) > 1e-3 and float((got - ratio * want).norm() / want.norm()) < 1e-6:
            hint = f"yours is {ratio:.4g} times the gradient: check the factor 1/N and the 1/2 of the loss."
        else:
            hint = "the shape of the answer is wrong: flip the correlation, index m -> h-1-m."
        raise AssertionError(f"expected the gradient of 0.5 ||k*x - y||^2 / N; relative error {err:.3g}. {hint}")
    passed(f"your gradient matches autograd through conv2d (relative error {err:.1e})")


# ----------------------------------------------------------------------------- exercise 3
class _Dense:
    """A linear map v -> M v on vectors of shape ``(n,)``, with only ``__call__`` and ``adjoint``."""

    def __init__(self, m: torch.Tensor) -> None:
        self._m = m

    def __call__(self, v: torch.Tensor) -> torch.Tensor:
        return self._m @ torch.as_tensor(v, dtype=self._m.dtype).reshape(-1)

    forward = __call__

    def adjoint(self, w: torch.Tensor) -> torch.Tensor:
        return self._m.T @ torch.as_tensor(w, dtype=self._m.dtype).reshape(-1)


def _dense_cases() -> list[torch.Tensor]:
    """Matrices with known singular values (3, 1.5, ...): a clear gap, so power iteration converges."""
    g = torch.Generator().manual_seed(2)
    out = []
    for m, n, top in ((40, 30, 3.0), (200, 50, 0.2)):
        u, _ = torch.linalg.qr(torch.randn(m, n, generator=g, dtype=torch.float64))
        v, _ = torch.linalg.qr(torch.randn(n, n, generator=g, dtype=torch.float64))
        rest = 0.4 * torch.rand(n - 2, generator=g, dtype=torch.float64)
        s = top * torch.cat([torch.tensor([1.0, 0.5], dtype=torch.float64), rest])
        out.append(u @ torch.diag(s) @ v.T)
    return out


@self_check(hint="repeat v <- A.adjoint(A(v)), normalised; then ||A v||^2 is the largest eigenvalue of A^T A.")
def check_safe_step(my_safe_step) -> None:
    """Exercise 3: ``my_safe_step(A, shape)`` is 1/L for f(k) = ||A k - y||^2 / (2N), N = A(k).numel()."""
    for m in _dense_cases():
        n_out, n_in = m.shape
        want = n_out / float(torch.linalg.matrix_norm(m, ord=2)) ** 2  # 1/L, L = sigma_max^2 / N
        got = float(attempt(my_safe_step, _Dense(m), (n_in,)))
        if not abs(got - want) <= 1e-3 * want:
            ratio = got / want
            hint = {
                2.0: "that is 2/L, the edge of the guarantee; the safe step asks for 1/L.",
                0.5: "a factor 2: the loss has a 1/2 in front, so its curvature is ||A||^2 / N.",
            }.get(round(ratio, 2), "L = (largest singular value of A)^2 / N, N the number of outputs of A.")
            raise AssertionError(f"for a {n_out}x{n_in} operator expected the step {want:.6g}, got {got:.6g}. Hint: {hint}")
    passed("your step is 1/L to 0.1 % on two operators (checked against their singular values)")
