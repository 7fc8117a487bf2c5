"""Self-checks for the exercises of chapter 4 (inverting heat conduction with SIP updates).

* :func:`check_fourier_multiplier` -- exercise 1, the eigenvalue of diffusion on a Fourier mode;
* :func:`check_gd_gradient` -- exercise 2, the gradient of the physics loss;
* :func:`check_best_threshold` -- exercise 3, the damping threshold under noise;
* :func:`check_wrong_amount` -- exercise 4, a misspecified diffusion amount in the inverse.

:func:`exercise_problem` gives every exercise the same small, fixed problem.
"""

from __future__ import annotations

import math

import torch

from ..heat import diffuse, heat_sources, inverse_diffuse
from . import passed

__all__ = [
    "exercise_problem",
    "one_step_error",
    "check_fourier_multiplier",
    "check_gd_gradient",
    "check_best_threshold",
    "check_wrong_amount",
]

AMOUNT = 8.0


def exercise_problem(noise: float = 0.0) -> tuple[torch.Tensor, torch.Tensor]:
    """``(x_true, y)``: 16 fixed heat sources ``(16, 1, 64, 64)`` and ``diffuse(x_true, 8) + noise``."""
    g = torch.Generator().manual_seed(2024)
    x = heat_sources(16, generator=g)  # (16, 1, 64, 64) float64
    y = diffuse(x, AMOUNT) + noise * torch.randn(x.shape, generator=g, dtype=x.dtype)
    return x, y


def one_step_error(
    x_true: torch.Tensor, y: torch.Tensor, amount: float, sigma: float | None = None, threshold: float = 0.68
) -> float:
    """Mean per-example L1 error of one damped-inverse step from the mean guess.

    ``x1 = m + inverse_diffuse(y - diffuse(m, 8), amount, u)`` with ``m`` the constant field
    at ``y``'s mean, ``u = sigma`` (honest noise level) or ``|dy| * 1e-6`` when ``sigma`` is None.
    The *true* physics (amount 8) makes the residual; ``amount`` is what the inverse assumes.
    """
    guess = y.mean(dim=(-2, -1), keepdim=True).expand_as(y)  # (B, 1, H, W)
    dy = y - diffuse(guess, AMOUNT)
    u = dy.abs() * 1e-6 if sigma is None else torch.full_like(dy, sigma)
    x1 = guess + inverse_diffuse(dy, amount, u, threshold=threshold)
    return float((x1 - x_true).abs().sum(dim=(-3, -2, -1)).mean())


def check_fourier_multiplier(my_multiplier) -> None:
    """Exercise 1: ``my_multiplier(k2, amount)`` is the factor diffusion applies to a mode with ``|k|^2 = k2``."""
    n = 16
    i = torch.arange(n, dtype=torch.float64)
    for ky, kx, amount in ((1, 0, 2.0), (2, 3, 0.5), (8, 8, 0.05), (0, 0, 3.0), (5, 1, 0.1)):
        mode = torch.cos(2 * math.pi * (ky * i[:, None] + kx * i[None, :]) / n)  # (n, n) eigenfunction
        measured = float((diffuse(mode, amount) * mode).sum() / (mode * mode).sum())
        k2 = (ky / n) ** 2 + (kx / n) ** 2
        got = float(torch.as_tensor(my_multiplier(torch.tensor(k2, dtype=torch.float64), amount)))
        if not math.isclose(got, measured, rel_tol=1e-6, abs_tol=1e-300):
            raise AssertionError(
                f"for k = ({ky}/{n}, {kx}/{n}) cycles per cell and amount {amount}, diffusion multiplies the "
                f"mode by {measured:.6g}, your multiplier gives {got:.6g}. Hint: the Laplacian of "
                "exp(2πi k·r) is -(2π)^2 |k|^2 exp(2πi k·r); integrate d/dt c = -ν (2π)^2 |k|^2 c."
            )
    passed("your multiplier matches diffuse on five Fourier modes, Nyquist included")


def check_gd_gradient(my_gradient) -> None:
    """Exercise 2: ``my_gradient(x_hat, y, amount)`` = d/dx̂ of ½||diffuse(x̂) - y||², without autograd."""
    x_true, y = exercise_problem()
    x_hat = (y.mean(dim=(-2, -1), keepdim=True) + 0.1 * x_true).requires_grad_()
    loss = 0.5 * (diffuse(x_hat, AMOUNT) - y).square().sum()
    (want,) = torch.autograd.grad(loss, x_hat)
    got = torch.as_tensor(my_gradient(x_hat.detach(), y, AMOUNT), dtype=torch.float64)
    if got.shape != want.shape:
        raise AssertionError(f"expected a gradient of shape {tuple(want.shape)}, got {tuple(got.shape)}")
    err = float((got - want).norm() / want.norm())
    if err > 1e-8:
        raise AssertionError(
            f"relative error {err:.3g} against autograd. Hint: diffusion is symmetric (self-adjoint), so "
            "J^T r = diffuse(r, amount) with r = diffuse(x̂) - y."
        )
    passed(f"your gradient matches autograd (relative error {err:.1e}): GD diffuses the residual once more")


def check_best_threshold(best_threshold: float, noise: float = 1e-2,
                         thresholds=(0.5, 0.68, 0.8, 0.9, 0.99)) -> None:
    """Exercise 3: the threshold with the smallest :func:`one_step_error` at ``noise`` (honest sigma)."""
    x_true, y = exercise_problem(noise)
    errors = {t: one_step_error(x_true, y, AMOUNT, sigma=noise, threshold=t) for t in thresholds}
    best = min(errors, key=errors.get)
    table = ", ".join(f"{t}: {e:.1f}" for t, e in errors.items())
    if not math.isclose(float(best_threshold), best, abs_tol=1e-9):
        raise AssertionError(
            f"expected threshold {best} (errors per threshold: {table}), got {best_threshold}. "
            "Compute one_step_error(x_true, y, 8.0, sigma=noise, threshold=t) for every t."
        )
    passed(f"threshold {best} is best at noise {noise:g}; errors per threshold: {table}")


def check_wrong_amount(amounts, errors) -> None:
    """Exercise 4: ``errors[i]`` = noise-free :func:`one_step_error` when the inverse assumes ``amounts[i]``."""
    x_true, y = exercise_problem()
    amounts = [float(a) for a in amounts]
    if len(errors) != len(amounts):
        raise AssertionError(f"got {len(errors)} errors for {len(amounts)} amounts")
    for a, e in zip(amounts, errors):
        want = one_step_error(x_true, y, a)
        if not math.isclose(float(e), want, rel_tol=1e-4):
            raise AssertionError(
                f"for an assumed amount {a} the one-step error is {want:.4g}, you got {float(e):.4g}. "
                "Make the residual with the TRUE amount 8 and invert it with the assumed one."
            )
    if 8.0 not in amounts or min(amounts) >= 8.0 or max(amounts) <= 8.0:
        raise AssertionError("include amounts below, at and above the true 8.0 (e.g. 6, 7, 8, 9, 10)")
    best = amounts[min(range(len(amounts)), key=lambda i: errors[i])]
    under = [e for a, e in zip(amounts, errors) if a < 8.0]
    over = [e for a, e in zip(amounts, errors) if a > 8.0]
    passed(
        f"the error is smallest at amount {best:g}; underestimating costs at most a factor "
        f"{max(under) / min(errors):.1f}, overestimating up to {max(over) / min(errors):.1f}"
    )
