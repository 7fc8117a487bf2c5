"""Self-checks for the exercises of chapter 1 (blind kernel estimation)."""

from __future__ import annotations

import torch

from ..convolution import convolve2d
from ..projections import project_simplex
from . import passed

__all__ = ["check_projection", "check_kernel_gradient", "check_lipschitz_step"]


def check_projection(my_project) -> None:
    """Exercise 1: ``my_project(v)`` projects a 1-D tensor onto the simplex."""
    g = torch.Generator().manual_seed(0)
    for n, scale in ((3, 1.0), (10, 5.0), (50, 0.01)):
        v = scale * torch.randn(n, generator=g, dtype=torch.float64)
        got = torch.as_tensor(my_project(v.clone()), dtype=torch.float64)
        want = project_simplex(v)
        if got.shape != want.shape:
            raise AssertionError(f"for v of shape {tuple(v.shape)} your projection returned shape {tuple(got.shape)}")
        if got.min() < -1e-12 or abs(float(got.sum()) - 1) > 1e-9:
            raise AssertionError(
                f"the result is not on the simplex (min {float(got.min()):.3g}, sum {float(got.sum()):.6f}); "
                "did you clip at zero after subtracting the threshold tau?"
            )
        if not torch.allclose(got, want, atol=1e-9):
            raise AssertionError(
                f"on the simplex but not the closest point (max deviation {float((got - want).abs().max()):.3g}); "
                "check how rho is chosen: the LAST index where u_j - (cumsum_j - 1)/j > 0."
            )
    passed("your projection matches project_simplex on three test vectors")


def check_kernel_gradient(my_gradient) -> None:
    """Exercise 2: ``my_gradient(k, x, y)`` is the gradient of ||k*x - y||^2 / N in k (valid padding)."""
    g = torch.Generator().manual_seed(1)
    x = torch.rand(1, 3, 24, 20, generator=g, dtype=torch.float64)
    k = torch.rand(1, 1, 5, 5, generator=g, dtype=torch.float64)
    y = torch.rand(1, 3, 20, 16, generator=g, dtype=torch.float64)
    kk = k.clone().requires_grad_(True)
    loss = (convolve2d(x, kk) - y).square().sum() / y.numel()
    (want,) = torch.autograd.grad(loss, kk)
    got = torch.as_tensor(my_gradient(k.clone(), x, y), dtype=torch.float64)
    if got.shape != want.shape:
        raise AssertionError(f"expected a gradient of shape {tuple(want.shape)}, got {tuple(got.shape)}")
    err = float((got - want).norm() / want.norm())
    if err > 1e-8:
        hint = "a factor 2/N?" if abs(float(got.norm() / want.norm()) - 1) > 1e-3 else "flipped kernel axes?"
        raise AssertionError(f"relative error {err:.3g} against autograd; {hint}")
    passed(f"your gradient matches autograd (relative error {err:.1e})")


def check_lipschitz_step(step_size: float, lipschitz: float) -> None:
    """Exercise 3: a step that makes PGD monotone, 1/L, is within 1 % of ``1/lipschitz``."""
    want = 1.0 / lipschitz
    if abs(step_size - want) > 0.01 * want:
        raise AssertionError(f"expected the step 1/L = {want:.4g}, got {step_size:.4g}")
    passed(f"step 1/L = {step_size:.4g}: PGD decreases the loss at every iteration")
