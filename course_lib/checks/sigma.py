"""Self-checks for the exercises of chapter 2 (learning a filter's scale).

* :func:`check_tap_derivative` -- exercise 1, the closed-form derivative of the taps.
* :func:`check_newton` -- exercise 2, Newton's method on :math:`\\log\\sigma`.
* :func:`anisotropic_problem`, :func:`check_anisotropic` -- exercise 3, an unknown
  axis-aligned blur :math:`(\\sigma_x, \\sigma_y)`.
"""

from __future__ import annotations

import torch

from ..sigma import anisotropic_gaussian_blur2d, gaussian_blur1d, gaussian_kernel1d
from . import expect_close, passed

__all__ = ["check_tap_derivative", "check_newton", "anisotropic_problem", "check_anisotropic"]

# Hidden scales of exercise 3; 2*sigma is not an integer, so the truth is not on a support jump.
_SIGMA_X, _SIGMA_Y = 1.3, 3.6


def check_tap_derivative(my_dtaps) -> None:
    """Exercise 1: ``my_dtaps(sigma, std_devs)`` returns d(taps)/d(sigma), shape ``(2r+1,)``."""
    for sigma, std_devs in ((0.7, 2), (1.3, 2), (2.6, 2), (4.1, 3)):
        s = torch.tensor(sigma, dtype=torch.float64)
        want = torch.autograd.functional.jacobian(lambda t: gaussian_kernel1d(t, std_devs), s)  # (2r+1,)
        got = torch.as_tensor(my_dtaps(sigma, std_devs), dtype=torch.float64)
        if got.shape != want.shape:
            raise AssertionError(
                f"at sigma={sigma}, std_devs={std_devs} expected {want.numel()} values (taps on [-r, r], "
                f"r = ceil(std_devs*sigma)), got shape {tuple(got.shape)}"
            )
        err = float((got - want).abs().max() / want.abs().max())
        if err > 1e-8:
            hint = (
                "the entries should sum to zero (the taps always sum to one); did you subtract sum_j w_j j^2?"
                if abs(float(got.sum())) > 1e-8
                else "check the constant factor and the power of sigma in the denominator (sigma^3)."
            )
            raise AssertionError(f"at sigma={sigma}: relative error {err:.3g} against autograd; {hint}")
    passed("your closed-form derivative matches autograd at four scales")


def check_newton(my_newton, steps: int = 8) -> None:
    """Exercise 2: ``my_newton(x, target, sigma0, steps)`` returns the recovered sigma (a float)."""
    x = torch.randn(1, 1, 100, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    sigma_true = 2.7
    target = gaussian_blur1d(x, sigma_true)
    got = float(my_newton(x, target, 1.0, steps))
    expect_close(
        f"sigma after {steps} Newton steps from sigma0 = 1",
        got,
        sigma_true,
        rtol=0.005,
        hint="differentiate the gradient again (torch.autograd.grad(..., create_graph=True) the first time) "
        "and step log sigma by -g/h; fall back to -g where h <= 0.",
    )
    passed(f"asked for {steps} steps from sigma0 = 1, your solver returns sigma = {got:.4f} (true {sigma_true})")


def anisotropic_problem(size: int = 48, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """A sharp random image ``x`` ``(1, 1, size, size)`` and its blur by a hidden ``(sigma_x, sigma_y)``."""
    x = torch.randn(1, 1, size, size, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    return x, anisotropic_gaussian_blur2d(x, _SIGMA_X, _SIGMA_Y)


def check_anisotropic(sigma_x: float, sigma_y: float) -> None:
    """Exercise 3: the scales recovered from :func:`anisotropic_problem`, each within 1 %."""
    sx, sy = float(sigma_x), float(sigma_y)
    if abs(sx - _SIGMA_Y) < 0.01 * _SIGMA_Y and abs(sy - _SIGMA_X) < 0.01 * _SIGMA_X:
        raise AssertionError(
            "sigma_x and sigma_y are swapped: sigma_x blurs along the width (the last axis, W), "
            "sigma_y along the height (H)."
        )
    hint = "learn (log sigma_x, log sigma_y) from (0, 0) with Adam (lr ~0.05) for a few hundred steps."
    expect_close("sigma_x", sx, _SIGMA_X, rtol=0.01, hint=hint)
    expect_close("sigma_y", sy, _SIGMA_Y, rtol=0.01, hint=hint)
    passed(f"recovered (sigma_x, sigma_y) = ({sx:.3f}, {sy:.3f}); the hidden blur was ({_SIGMA_X}, {_SIGMA_Y})")
