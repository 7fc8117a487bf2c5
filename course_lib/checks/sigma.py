r"""Self-checks for the exercises of chapter 2 (learning a filter's scale).

* :func:`check_loss_gradient` -- exercise 1: :math:`\partial\ell/\partial\sigma` by hand, from the
  tap derivative and the chain rule. Reference: the complex-step derivative
  :math:`\operatorname{Im}\,\ell(\sigma + i\epsilon)/\epsilon` of the loss written out in NumPy,
  exact to rounding and independent of :mod:`course_lib.sigma`.
* :func:`check_newton_step` -- exercise 2: one safeguarded Newton step on a scalar parameter.
  References: the closed-form Newton steps of four test functions; then eight of the learner's
  steps on :math:`\log\sigma` must reach the scale the data were made with.
* :func:`check_anisotropic_fit` -- exercise 3: recover :math:`(\sigma_x, \sigma_y)` of a hidden
  axis-aligned blur. Reference: the hidden scales; the data are blurred with
  ``scipy.ndimage.correlate``, not with the course's blur.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.ndimage as ndi
import torch

from . import answer, attempt, expect_close, passed, self_check

__all__ = ["check_loss_gradient", "check_newton_step", "check_anisotropic_fit"]


# ----------------------------------------------------------------------------- independent references
def _taps_np(sigma, std_devs: float = 2.0) -> np.ndarray:
    """Normalised truncated Gaussian taps; ``sigma`` may be complex (for the complex step)."""
    r = math.ceil(std_devs * np.real(sigma))
    k = np.arange(-r, r + 1, dtype=np.float64)
    w = np.exp(-(k**2) / (2 * sigma**2))
    return w / w.sum()


def _blur_np(x: np.ndarray, sigma) -> np.ndarray:
    """Zero-padded, same-size blur of a 1-D signal (the taps are symmetric)."""
    w = _taps_np(sigma)
    r = w.size // 2
    return np.convolve(x, w)[r : r + x.size]


def _loss_np(x: np.ndarray, y: np.ndarray, sigma) -> complex:
    return 0.5 * np.mean((_blur_np(x, sigma) - y) ** 2)


def _dloss_dsigma(x: np.ndarray, y: np.ndarray, sigma: float) -> float:
    """Complex-step derivative: no subtraction, so no cancellation; exact to rounding."""
    eps = 1e-30
    return float(np.imag(_loss_np(x, y, sigma + 1j * eps)) / eps)


def _signal(n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(n)


# ----------------------------------------------------------------------------- exercise 1
_GRAD_SIGMA_TRUE = 2.6
_GRAD_SCALES = (0.8, 1.7, 2.2, 3.3)  # 2*sigma is never within 0.1 of an integer: no support jump


@self_check(
    hint="the prediction g_sigma * x depends on sigma only through the taps, so d(prediction)/d(sigma) "
    "is x blurred with the taps' derivative dw_k/dsigma (torch.nn.functional.conv1d with padding r), "
    "and dl/dsigma = mean((prediction - y) * d(prediction)/d(sigma))."
)
def check_loss_gradient(my_loss_grad) -> None:
    """Exercise 1: ``my_loss_grad(x, y, sigma)`` returns :math:`\\partial\\ell/\\partial\\sigma`.

    ``x`` and ``y`` are ``(1, 1, N)`` float64 tensors, ``sigma`` a float, and
    :math:`\\ell(\\sigma) = \\tfrac12\\,\\mathrm{mean}\\,(g_\\sigma * x - y)^2` with the chapter's
    truncated Gaussian (``std_devs = 2``, zero padding).
    """
    x_np = _signal(80, seed=5)
    y_np = _blur_np(x_np, _GRAD_SIGMA_TRUE)
    x = torch.tensor(x_np).reshape(1, 1, -1)
    y = torch.tensor(y_np).reshape(1, 1, -1)
    for sigma in _GRAD_SCALES:
        want = _dloss_dsigma(x_np, y_np, sigma)
        got = float(torch.as_tensor(attempt(my_loss_grad, x.clone(), y.clone(), sigma)).detach())
        if abs(got - want) <= 1e-6 * abs(want):
            continue
        ratio = got / want
        hints = (
            (sigma, "that is sigma times the answer: you returned dl/dtheta for theta = log sigma"),
            (-1.0, "the sign is flipped: the residual is prediction - y"),
            (2.0, "twice the answer: the loss has a factor 1/2"),
            (float(x.numel()), "N times the answer: the loss is a mean over the samples, not a sum"),
        )
        hint = next((h for r, h in hints if abs(ratio - r) < 1e-3 * abs(r)),
                    "check dw_k/dsigma = w_k (k^2 - sum_j w_j j^2) / sigma^3, and blur x with it")
        raise AssertionError(f"at sigma = {sigma}: expected dl/dsigma = {want:.8g}, got {got:.8g}. Hint: {hint}")
    passed(f"your dl/dsigma matches the complex-step derivative at sigma = {', '.join(map(str, _GRAD_SCALES))}")


# ----------------------------------------------------------------------------- exercise 2
# (name, function of a 0-dim tensor, start, the exact result of one safeguarded Newton step)
_NEWTON_CASES = (
    ("3 (t - 0.5)^2 + 1", lambda t: 3 * (t - 0.5) ** 2 + 1, 2.0, 0.5),
    ("exp(t) - 2 t", lambda t: torch.exp(t) - 2 * t, 0.3, 0.3 - 1 + 2 * math.exp(-0.3)),
    ("t^4", lambda t: t**4, 1.0, 2 / 3),
    ("-t^2 (concave: h < 0)", lambda t: -(t**2), 0.5, 1.5),
)
_NEWTON_SIGMA_TRUE, _NEWTON_STEPS = 2.7, 8


@self_check(
    hint="g = torch.autograd.grad(loss_fn(theta), theta, create_graph=True)[0] keeps g differentiable; "
    "h = torch.autograd.grad(g, theta)[0]; return theta - g / h if h > 0, else theta - g."
)
def check_newton_step(my_newton_step) -> None:
    """Exercise 2: ``my_newton_step(loss_fn, theta)`` returns the next :math:`\\theta`.

    ``theta`` is a 0-dim float64 tensor; ``loss_fn`` maps such a tensor to a 0-dim loss. The
    step is :math:`\\theta - g/h` where :math:`h > 0` and :math:`\\theta - g` otherwise.
    """
    for name, f, t0, want in _NEWTON_CASES:
        got = float(attempt(my_newton_step, f, torch.tensor(t0, dtype=torch.float64)))
        if abs(got - want) > 1e-9:
            hint = ("where h <= 0 take the gradient step theta - g instead of theta - g / h"
                    if name.startswith("-t^2") else "the Newton step is theta - g / h, with h = d^2 loss / d theta^2")
            raise AssertionError(f"one step on {name} from theta = {t0}: expected {want:.10g}, got {got:.10g}. "
                                 f"Hint: {hint}")
    # the sigma problem, with data blurred by the NumPy reference (not by the course's blur)
    from ..sigma import gaussian_blur1d  # what the learner's chapter uses for the model

    x_np = _signal(100, seed=3)
    x = torch.tensor(x_np).reshape(1, 1, -1)
    y = torch.tensor(_blur_np(x_np, _NEWTON_SIGMA_TRUE)).reshape(1, 1, -1)

    def loss_fn(theta):
        return 0.5 * (gaussian_blur1d(x, theta.exp()) - y).pow(2).mean()

    theta = torch.tensor(0.0, dtype=torch.float64)  # sigma0 = 1
    for _ in range(_NEWTON_STEPS):
        theta = torch.as_tensor(attempt(my_newton_step, loss_fn, theta.detach()), dtype=torch.float64).detach()
    expect_close(f"sigma after {_NEWTON_STEPS} of your steps from sigma0 = 1", math.exp(float(theta)),
                 _NEWTON_SIGMA_TRUE, rtol=0.005, hint="each step must use the current theta's g and h")
    passed(f"your step is exact on four test functions, and {_NEWTON_STEPS} steps on log sigma from sigma0 = 1 "
           f"give sigma = {math.exp(float(theta)):.4f} (the data were made with {_NEWTON_SIGMA_TRUE})")


# ----------------------------------------------------------------------------- exercise 3
_SIGMA_X, _SIGMA_Y = 1.3, 3.6  # hidden; 2*sigma is not an integer, so neither is on a support jump


def _anisotropic_problem(size: int = 48, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    x = np.random.default_rng(seed).standard_normal((size, size))
    kernel = np.outer(_taps_np(_SIGMA_Y), _taps_np(_SIGMA_X))  # rows: y (height), columns: x (width)
    y = ndi.correlate(x, kernel, mode="constant", cval=0.0)
    return torch.tensor(x)[None, None], torch.tensor(y)[None, None]  # (1, 1, size, size) each


@self_check(
    hint="learn theta = (log sigma_x, log sigma_y) from (0, 0) with torch.optim.Adam (lr about 0.05) for "
    "a few hundred steps on 0.5 * mean((anisotropic_gaussian_blur2d(x, *theta.exp()) - target)^2)."
)
def check_anisotropic_fit(my_fit) -> None:
    """Exercise 3: ``my_fit(x, target)`` returns ``(sigma_x, sigma_y)`` of the blur, each within 1 %.

    ``x`` and ``target`` are ``(1, 1, 48, 48)`` float64 tensors; the check blurs ``x`` itself
    with hidden scales, so an answer typed in from elsewhere cannot pass.
    """
    x, target = _anisotropic_problem()
    out = attempt(my_fit, x.clone(), target.clone())
    out = answer(out)
    if not (isinstance(out, (tuple, list)) or torch.is_tensor(out)) or len(out) != 2:
        raise AssertionError(f"expected a pair (sigma_x, sigma_y), got {out!r}")
    sx, sy = (float(torch.as_tensor(v).detach()) for v in out)
    if abs(sx - _SIGMA_Y) < 0.01 * _SIGMA_Y and abs(sy - _SIGMA_X) < 0.01 * _SIGMA_X:
        raise AssertionError("sigma_x and sigma_y are swapped: sigma_x blurs along the width "
                             "(the last axis, W), sigma_y along the height (H).")
    hint = ("the two scales came out (almost) equal: learn two parameters, not one"
            if abs(sx - sy) < 0.05 * max(sx, sy) else
            "run more steps, or check that sigma_x acts along the last axis (W)")
    expect_close("sigma_x", sx, _SIGMA_X, rtol=0.01, hint=hint)
    expect_close("sigma_y", sy, _SIGMA_Y, rtol=0.01, hint=hint)
    passed(f"recovered (sigma_x, sigma_y) = ({sx:.3f}, {sy:.3f}); the hidden blur was ({_SIGMA_X}, {_SIGMA_Y})")
