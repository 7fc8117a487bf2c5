"""Self-checks for the exercises of chapter 4 (inverting heat conduction with SIP updates).

* :func:`check_fourier_multiplier` -- exercise 1, the eigenvalue of diffusion on a Fourier mode;
* :func:`check_gd_gradient` -- exercise 2, the gradient of the physics loss, without autograd;
* :func:`check_signal_weight` -- exercise 3, the weight p_k of "signal" in the damped inverse;
* :func:`check_best_amount` -- exercise 4, a misspecified diffusion amount in the inverse;
* :func:`check_sip_loss` -- exercise 5, the SIP proxy loss and its gradient -Δx;
* :func:`check_tikhonov` -- exercise 6, the Tikhonov (Levenberg--Marquardt) inverse;
* :func:`check_best_mu` -- exercise 6, its damping for one step at noise 1e-4.

:func:`exercise_problem` gives the exercises the same small, fixed problem. The references are
computed here with NumPy from the closed forms and from the original notebook's formulas
(``apply_damping`` / ``inv_diffuse``), independently of ``course_lib.heat``'s ``diffuse`` and
``inverse_diffuse``, which the learner calls.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from ..heat import heat_sources
from . import answer, attempt, passed, self_check

__all__ = [
    "exercise_problem",
    "AMOUNT_GRID",
    "check_fourier_multiplier",
    "check_gd_gradient",
    "check_signal_weight",
    "check_best_amount",
    "MU_GRID",
    "check_sip_loss",
    "check_tikhonov",
    "check_best_mu",
]

AMOUNT = 8.0
AMOUNT_GRID = (6.0, 7.0, 7.5, 8.0, 8.5, 9.0, 10.0)  # exercise 4: the amounts the inverse may assume
MU_GRID = tuple(10.0**e for e in range(-12, 1))  # exercise 6: the damping values to try
MU_NOISE = 1e-4  # exercise 6: the noise of its observations


def exercise_problem(noise: float = 0.0) -> tuple[torch.Tensor, torch.Tensor]:
    """``(x_true, y)``: 16 fixed heat sources ``(16, 1, 64, 64)`` and ``diffuse(x_true, 8) + noise``."""
    g = torch.Generator().manual_seed(2024)
    x = heat_sources(16, generator=g)  # (16, 1, 64, 64) float64
    y = _np_diffuse(x.numpy(), AMOUNT) + noise * torch.randn(x.shape, generator=g, dtype=x.dtype).numpy()
    return x, torch.from_numpy(y)


# ----------------------------------------------------------------------------- NumPy references
def _log_kernel(shape: tuple[int, int], amount: float) -> np.ndarray:
    """``4 pi^2 |k|^2 amount`` on NumPy's FFT layout, ``(H, W)``."""
    fy, fx = np.fft.fftfreq(shape[0]), np.fft.fftfreq(shape[1])
    return 4 * np.pi**2 * (fy[:, None] ** 2 + fx[None, :] ** 2) * amount


def _np_diffuse(x: np.ndarray, amount: float) -> np.ndarray:
    return np.fft.ifft2(np.fft.fft2(x) * np.exp(-_log_kernel(x.shape[-2:], amount))).real


def _np_damped_inverse(dy: np.ndarray, amount: float, u: np.ndarray) -> np.ndarray:
    """The original notebook's ``inv_diffuse`` / ``apply_damping``, transcribed to NumPy."""
    log_k = _log_kernel(dy.shape[-2:], amount)
    spectrum = np.fft.fft2(dy)
    f_uncertainty = np.sqrt((u**2).sum(axis=(-2, -1), keepdims=True))
    expected_amp = dy.shape[-1] * np.exp(-log_k)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        signal = np.exp(-0.5 * (np.abs(spectrum) / expected_amp) ** 2) * 0.5
        signal = np.where(np.isfinite(signal), signal, 0.0)
        noise = np.exp(-0.5 * (np.abs(spectrum) / f_uncertainty) ** 2) * 0.5
        p = np.where(signal + noise > 0, signal / (signal + noise), 0.0)
    action = np.where((p <= 0.5) | (p >= 0.68), 2 * (p - 0.5), 0.0)
    return np.fft.ifft2(spectrum * np.exp(log_k * action)).real


def _one_step_reference(y: np.ndarray, amount: float, u_of_r) -> np.ndarray:
    """``m + damped_inverse(y - P m)`` from the constant mean guess ``m``; ``P m = m``."""
    guess = np.broadcast_to(y.mean(axis=(-2, -1), keepdims=True), y.shape)
    r = y - guess
    return guess + _np_damped_inverse(r, amount, u_of_r(r))


def _l1(a: np.ndarray, b: np.ndarray) -> float:
    """Mean over the batch of the per-example L1 distance."""
    return float(np.abs(a - b).sum(axis=(-3, -2, -1)).mean())


def _as_array(value, shape, what: str) -> np.ndarray:
    out = value.detach().cpu().double().numpy() if isinstance(value, torch.Tensor) else np.asarray(value, float)
    if out.shape != tuple(shape):
        raise AssertionError(f"expected {what} of shape {tuple(shape)}, got {out.shape}")
    return out


# ----------------------------------------------------------------------------- checks
@self_check(hint="the Laplacian of exp(2πi k·r) is -(2π)^2 |k|^2 exp(2πi k·r); solve dc/dt = -ν (2π)^2 |k|^2 c.")
def check_fourier_multiplier(my_multiplier) -> None:
    """Exercise 1: ``my_multiplier(k2, amount)`` is the factor diffusion applies to a mode with ``|k|^2 = k2``."""
    k2 = torch.tensor([0.0, 1 / 64**2, 0.01, 0.04, 0.125, 0.5], dtype=torch.float64)  # up to the corner
    for amount in (0.5, 2.0, 8.0):
        got = _as_array(attempt(my_multiplier, k2, amount), k2.shape, "one factor per k2")
        want = np.exp(-4 * np.pi**2 * k2.numpy() * amount)
        if not np.allclose(got, want, rtol=1e-6, atol=1e-300):
            i = int(np.argmax(np.abs(got - want) / np.maximum(want, 1e-300)))
            raise AssertionError(
                f"for |k|^2 = {float(k2[i]):.4g} (cycles per cell)^2 and amount {amount}, diffusion multiplies "
                f"the mode by {want[i]:.6g}; your multiplier gives {got[i]:.6g}. Hint: the Laplacian of "
                "exp(2πi k·r) is -(2π)^2 |k|^2 exp(2πi k·r); integrate dc/dt = -ν (2π)^2 |k|^2 c."
            )
    passed("your multiplier exp(-4π²|k|²a) is right for six wave numbers and three amounts")


@self_check(hint="diffusion is symmetric (self-adjoint), so the chain rule gives P^T r = P r with r = P x̂ - y.")
def check_gd_gradient(my_gradient) -> None:
    """Exercise 2: ``my_gradient(x_hat, y, amount)`` = d/dx̂ of ½||P x̂ - y||², without autograd."""
    x_true, y = exercise_problem()
    x_hat = y.mean(dim=(-2, -1), keepdim=True) + 0.1 * x_true  # (16, 1, 64, 64) a point that is not the optimum
    got = _as_array(attempt(my_gradient, x_hat.clone(), y.clone(), AMOUNT), x_hat.shape, "a gradient")
    lam = np.exp(-_log_kernel(x_hat.shape[-2:], AMOUNT))  # closed form: mode k times lambda_k (lambda_k x̂ - ŷ)
    want = np.fft.ifft2(lam * (lam * np.fft.fft2(x_hat.numpy()) - np.fft.fft2(y.numpy()))).real
    err = float(np.linalg.norm(got - want) / np.linalg.norm(want))
    if not err < 1e-8:
        raise AssertionError(
            f"your gradient differs from P(P x̂ - y) by a relative {err:.3g} (norm of the right one "
            f"{np.linalg.norm(want):.4g}, of yours {np.linalg.norm(got):.4g}). Hint: diffusion is symmetric, "
            "so the gradient of ½||P x̂ - y||² is P applied to the residual P x̂ - y."
        )
    passed(f"your gradient equals P(P x̂ - y) (relative error {err:.1e}): GD diffuses the residual once more")


def _signal_weight_cases() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Amplitudes, signal scales and noise scales that cover every regime of the weight."""
    rng = np.random.default_rng(4)
    amp = np.concatenate([10.0 ** rng.uniform(-8, 2, 200), [0.0, 1.0, 1e3, 1e6]])
    s = np.concatenate([10.0 ** rng.uniform(-10, 2, 200), [1.0, 1e-300, 1e-3, 1e-3]])
    sigma = np.concatenate([10.0 ** rng.uniform(-8, 0, 200), [1e-6, 1e-6, 1e-3, 1e-2]])
    return amp, s, sigma  # the last two cases: both weights underflow to 0


def _signal_weight_reference(amp: np.ndarray, s: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        w_signal = 0.5 * np.exp(-0.5 * (amp / s) ** 2)
        w_noise = 0.5 * np.exp(-0.5 * (amp / sigma) ** 2)
        return np.where(w_signal + w_noise > 0, w_signal / (w_signal + w_noise), 0.0)


@self_check(hint="weigh exp(-|r|²/2s²) against exp(-|r|²/2σ²), without the densities' 1/s and 1/σ.")
def check_signal_weight(my_signal_weight) -> None:
    """Exercise 3: ``my_signal_weight(amplitude, s, sigma)`` is the original notebook's p_k."""
    amp, s, sigma = _signal_weight_cases()
    args = [torch.from_numpy(v) for v in (amp, s, sigma)]
    got = _as_array(attempt(my_signal_weight, *args), amp.shape, "one weight per amplitude")
    want = _signal_weight_reference(amp, s, sigma)
    bad = ~(np.abs(got - want) <= 1e-9 + 1e-6 * np.abs(want))  # NaN counts as wrong
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise AssertionError(
            f"for |r| = {amp[i]:.3g}, s = {s[i]:.3g}, sigma = {sigma[i]:.3g} the weight is {want[i]:.6g}, yours "
            f"is {got[i]:.6g} ({int(bad.sum())} of {bad.size} cases wrong). Hint: p = w_s / (w_s + w_n) with "
            "w = ½ exp(-|r|²/2·scale²) and no 1/scale in front; where both weights underflow to 0, p = 0 "
            "(the original's divide_no_nan)."
        )
    passed(f"your weight matches the original's rule on {amp.size} cases, underflow included")


@self_check(hint="for each a in AMOUNT_GRID: one step from the mean guess with inverse_diffuse(r, a, r.abs() * 1e-6).")
def check_best_amount(my_amount) -> None:
    """Exercise 4: the assumed amount in :data:`AMOUNT_GRID` whose one-step estimate is closest to the sources."""
    value = float(answer(my_amount))
    x_true, y = exercise_problem()
    errors = {a: _l1(_one_step_reference(y.numpy(), a, lambda r: np.abs(r) * 1e-6), x_true.numpy())
              for a in AMOUNT_GRID}
    best = min(errors, key=errors.get)
    table = ", ".join(f"{a:g}: {e:.1f}" for a, e in errors.items())
    if not math.isclose(value, best, abs_tol=1e-9):
        raise AssertionError(
            f"expected the amount {best:g}, got {value:g}. Mean L1 error of one step per assumed amount: "
            f"{table}. Make the residual with the TRUE amount 8 (the mean guess is constant, so it is "
            "y - m) and invert it with the assumed one."
        )
    passed(f"amount {best:g} is best; mean L1 error per assumed amount: {table}")


# ----------------------------------------------------------------------------- exercises 5 and 6
def _torch_tikhonov(amount: float, mu: float):
    """A differentiable Tikhonov inverse built here from the closed form (not ``course_lib.heat``)."""

    def inverse(dy: torch.Tensor) -> torch.Tensor:
        lam = torch.from_numpy(np.exp(-_log_kernel(dy.shape[-2:], amount)))  # (H, W)
        return torch.fft.ifft2(torch.fft.fft2(dy) * (lam / (lam**2 + mu))).real

    return inverse


@self_check(hint="compute Δx under torch.no_grad() from r = y - diffuse(x̂); the loss is ½ sum (x̂ - (x̂ + Δx))², per example.")
def check_sip_loss(my_sip_loss) -> None:
    """Exercise 5: ``my_sip_loss(x_hat, y, amount, inverse)`` is SIP's proxy loss per example, gradient -Δx."""
    x_true, y = exercise_problem()
    x_true, y = x_true[:4], y[:4]
    g = torch.Generator().manual_seed(11)
    x0 = y.mean(dim=(-2, -1), keepdim=True) + 0.5 * x_true + 0.05 * torch.randn(x_true.shape, generator=g,
                                                                                  dtype=x_true.dtype)
    x_hat = x0.clone().requires_grad_(True)
    inverse = _torch_tikhonov(AMOUNT, 1e-8)  # differentiable: a missing stop-gradient shows in the gradient
    loss = attempt(my_sip_loss, x_hat, y.clone(), AMOUNT, inverse)
    if not isinstance(loss, torch.Tensor) or loss.shape != (4,):
        raise AssertionError(f"expected one loss per example, a tensor of shape (4,), got "
                             f"{getattr(loss, 'shape', type(loss).__name__)}. Sum over the cells only.")
    # reference in NumPy: r = y - P x̂, Δx = λ/(λ²+μ) r mode by mode, loss ½||Δx||², gradient -Δx
    lam = np.exp(-_log_kernel(x0.shape[-2:], AMOUNT))
    r = y.numpy() - _np_diffuse(x0.numpy(), AMOUNT)
    dx = np.fft.ifft2(np.fft.fft2(r) * lam / (lam**2 + 1e-8)).real
    want_loss = 0.5 * (dx**2).sum(axis=(-3, -2, -1))
    got_loss = loss.detach().double().numpy()
    if not np.allclose(got_loss, want_loss, rtol=1e-6):
        raise AssertionError(f"the losses should be ½||Δx||² per example, {np.round(want_loss, 3)}; yours are "
                             f"{np.round(got_loss, 3)}. Hint: the target is x̂ + Δx, a constant.")
    if not loss.requires_grad:
        raise AssertionError("your loss has no gradient: x̂ itself must stay in the graph; only the target "
                             "x̂ + Δx is computed without gradient.")
    (grad,) = torch.autograd.grad(loss.sum(), x_hat)
    err = float(np.linalg.norm(grad.double().numpy() + dx) / np.linalg.norm(dx))
    if not err < 1e-6:
        raise AssertionError(f"autograd's gradient of your loss differs from -Δx by a relative {err:.3g}. Hint: "
                             "compute the target x̂ + Δx under torch.no_grad() (or detach it); otherwise the "
                             "gradient also flows through Δx(x̂).")
    passed(f"your loss is ½||Δx||² and autograd's gradient is -Δx (relative error {err:.1e}): SIP's step")


_NO_MU = object()  # check_tikhonov without a damping to check


@self_check(hint="mode by mode, multiply the FFT of dy by λ/(λ² + μ) with λ = exp(-4π²|k|² a).")
def check_tikhonov(my_tikhonov, my_mu=_NO_MU) -> None:
    """Exercise 6: ``my_tikhonov(dy, amount, mu)`` is ``(P² + μ)⁻¹ P dy``; with ``my_mu``, also :func:`check_best_mu`'s test."""
    g = torch.Generator().manual_seed(12)
    dy = torch.randn(2, 1, 32, 32, generator=g, dtype=torch.float64)
    for amount, mu in ((2.0, 1e-12), (8.0, 1e-3), (1.0, 1.0)):
        got = _as_array(attempt(my_tikhonov, dy.clone(), amount, mu), dy.shape, "an update of dy's shape")
        lam = np.exp(-_log_kernel(dy.shape[-2:], amount))
        want = np.fft.ifft2(np.fft.fft2(dy.numpy()) * lam / (lam**2 + mu)).real
        err = float(np.linalg.norm(got - want) / np.linalg.norm(want))
        if not err < 1e-8:
            raise AssertionError(f"for amount {amount:g} and mu {mu:g} your update differs from (P² + μ)⁻¹ P dy by a "
                                 f"relative {err:.3g}. Hint: the multiplier is λ/(λ² + μ), not 1/(λ + μ): it "
                                 "minimises ½||P d - dy||² + (μ/2)||d||².")
    if my_mu is _NO_MU:
        passed("your inverse is (P² + μ)⁻¹ P for three amounts and dampings")
        return
    best, table = _best_mu_check(my_mu)
    passed(f"your inverse is (P² + μ)⁻¹ P, and mu = {best:g} is best at noise {MU_NOISE:g} ({table})")


@self_check(hint="for each mu in MU_GRID: one step m + my_tikhonov(y - m, 8, mu) from the mean guess m of exercise_problem(MU_NOISE).")
def check_best_mu(my_mu) -> None:
    """Exercise 6: the μ of :data:`MU_GRID` whose one step on ``exercise_problem(MU_NOISE)`` is closest to the sources."""
    best, table = _best_mu_check(my_mu)
    passed(f"mu = {best:g} is best at noise {MU_NOISE:g}; mean L1 error per mu: {table}")


def _best_mu_check(my_mu) -> tuple[float, str]:
    """Raise unless ``my_mu`` is the best damping; return it and the table of one-step errors."""
    value = float(answer(my_mu))
    x_true, y = exercise_problem(MU_NOISE)
    y = y.numpy()
    m = y.mean(axis=(-2, -1), keepdims=True)
    lam = np.exp(-_log_kernel(y.shape[-2:], AMOUNT))
    errors = {mu: _l1(m + np.fft.ifft2(np.fft.fft2(y - m) * lam / (lam**2 + mu)).real, x_true.numpy())
              for mu in MU_GRID}
    best = min(errors, key=errors.get)
    table = ", ".join(f"{mu:.0e}: {e:.1f}" for mu, e in errors.items())
    if not math.isclose(value, best, rel_tol=1e-9):
        raise AssertionError(f"expected mu = {best:g}, got {value:g}. Mean L1 error of one step per mu: {table}.")
    return best, table
