"""The chapter-4 self-checks: right answers pass, typical mistakes raise, placeholders only print."""

import math

import numpy as np
import pytest
import torch

from course_lib.checks.sip import (
    AMOUNT_GRID,
    MU_GRID,
    MU_NOISE,
    _np_damped_inverse,
    check_best_amount,
    check_best_mu,
    check_fourier_multiplier,
    check_gd_gradient,
    check_signal_weight,
    check_sip_loss,
    check_tikhonov,
    exercise_problem,
)
from course_lib.heat import diffuse, inverse_diffuse, inverse_diffuse_details, log_kernel, tikhonov_inverse


def placeholder(*args):
    raise NotImplementedError


def assert_not_attempted(capsys, check, value):
    check(value)  # must not raise
    out = capsys.readouterr().out
    assert "not attempted yet" in out and "✓" not in out


def assert_passes(capsys, check, value):
    check(value)
    assert capsys.readouterr().out.startswith("✓")


# ----------------------------------------------------------------------------- exercise 1
def right_multiplier(k2, amount):
    return torch.exp(-4 * math.pi**2 * k2 * amount)


def test_multiplier_right_and_placeholder(capsys):
    assert_passes(capsys, check_fourier_multiplier, right_multiplier)
    assert_not_attempted(capsys, check_fourier_multiplier, placeholder)


@pytest.mark.parametrize("wrong", [
    lambda k2, a: torch.exp(-math.pi**2 * k2 * a),            # (2π)² written as π²
    lambda k2, a: torch.exp(-2 * math.pi * k2 * a),           # 2π instead of (2π)²
    lambda k2, a: torch.exp(4 * math.pi**2 * k2 * a),         # sign: the inverse
    lambda k2, a: torch.exp(-8 * math.pi**2 * k2 * a),        # factor 2: λ², the gradient's factor
    lambda k2, a: torch.exp(-4 * math.pi**2 * k2.sqrt() * a),  # |k| instead of |k|²
    lambda k2, a: torch.ones_like(k2),                        # identity
    lambda k2, a: torch.exp(-4 * math.pi**2 * k2 * a)[:1],    # not vectorised
], ids=["pi2", "2pi", "sign", "square", "abs_k", "identity", "shape"])
def test_multiplier_rejects_mistakes(wrong):
    with pytest.raises(AssertionError):
        check_fourier_multiplier(wrong)


def test_multiplier_without_return_is_wrong():
    with pytest.raises(AssertionError, match="return"):
        check_fourier_multiplier(lambda k2, a: None)


# ----------------------------------------------------------------------------- exercise 2
def right_gradient(x_hat, y, amount):
    return diffuse(diffuse(x_hat, amount) - y, amount)


def test_gradient_right_and_placeholder(capsys):
    assert_passes(capsys, check_gd_gradient, right_gradient)
    assert_not_attempted(capsys, check_gd_gradient, placeholder)


@pytest.mark.parametrize("wrong", [
    lambda x, y, a: diffuse(x, a) - y,                               # the residual, not diffused
    lambda x, y, a: -diffuse(diffuse(x, a) - y, a),                  # sign
    lambda x, y, a: 2 * diffuse(diffuse(x, a) - y, a),               # without the ½
    lambda x, y, a: diffuse(diffuse(x, a) - y, 2 * a),               # P² on the residual
    lambda x, y, a: x - y,                                           # no physics
    lambda x, y, a: torch.zeros_like(x),                             # zeros
], ids=["residual", "sign", "factor2", "p_squared", "no_physics", "zeros"])
def test_gradient_rejects_mistakes(wrong):
    with pytest.raises(AssertionError):
        check_gd_gradient(wrong)


# ----------------------------------------------------------------------------- exercise 3
def right_weight(amp, s, sigma):
    w_signal = 0.5 * torch.exp(-0.5 * (amp / s) ** 2)
    w_noise = 0.5 * torch.exp(-0.5 * (amp / sigma) ** 2)
    total = w_signal + w_noise
    return torch.where(total > 0, w_signal / total, torch.zeros_like(total))


def test_signal_weight_right_and_placeholder(capsys):
    assert_passes(capsys, check_signal_weight, right_weight)
    assert_not_attempted(capsys, check_signal_weight, placeholder)


def test_signal_weight_agrees_with_the_library():
    # the library's p_k on a real residual equals the reference rule applied to its amplitudes
    x, y = exercise_problem(1e-3)
    r = y[:2] - y[:2].mean(dim=(-2, -1), keepdim=True)
    details = inverse_diffuse_details(r, 8.0, torch.full_like(r, 1e-3))
    s = 64 * torch.exp(-log_kernel((64, 64), 8.0))
    sigma = torch.full_like(r, 1e-3).square().sum(dim=(-2, -1), keepdim=True).sqrt()
    torch.testing.assert_close(details.probability_signal, right_weight(details.amplitude, s, sigma))


def _without_guard(amp, s, sigma):
    w_signal, w_noise = torch.exp(-0.5 * (amp / s) ** 2), torch.exp(-0.5 * (amp / sigma) ** 2)
    return w_signal / (w_signal + w_noise)  # NaN where both underflow


def _normalised(amp, s, sigma):  # the exact Gaussian densities, with 1/s and 1/sigma
    w_signal = torch.exp(-0.5 * (amp / s) ** 2) / s
    w_noise = torch.exp(-0.5 * (amp / sigma) ** 2) / sigma
    return torch.nan_to_num(w_signal / (w_signal + w_noise))


@pytest.mark.parametrize("wrong", [
    lambda a, s, n: 1 - right_weight(a, s, n),                 # signal and noise swapped
    _normalised,                                               # normalised densities
    _without_guard,                                            # NaN where both weights underflow
    lambda a, s, n: right_weight(a ** 0.5, s ** 0.5, n ** 0.5),  # no square in the exponent
    lambda a, s, n: right_weight(a, 2 * s, n),                 # scale off by a factor 2
    lambda a, s, n: torch.full_like(a, 0.5),                   # the prior alone
], ids=["swapped", "normalised", "nan", "no_square", "factor2", "prior"])
def test_signal_weight_rejects_mistakes(wrong):
    with pytest.raises(AssertionError):
        check_signal_weight(wrong)


def test_one_step_reference_is_the_library_inverse():
    # the NumPy transcription of the original notebook and course_lib.heat agree
    x, y = exercise_problem(1e-3)
    r = y - y.mean(dim=(-2, -1), keepdim=True)
    for u in (torch.full_like(r, 1e-3), r.abs() * 1e-6):
        np.testing.assert_allclose(inverse_diffuse(r, 8.0, u).numpy(), _np_damped_inverse(r.numpy(), 8.0, u.numpy()),
                                   atol=1e-9)


# ----------------------------------------------------------------------------- exercise 4
def test_best_amount_right_and_placeholder(capsys):
    assert_passes(capsys, check_best_amount, 7.5)
    assert_not_attempted(capsys, check_best_amount, None)
    assert_not_attempted(capsys, check_best_amount, ...)


@pytest.mark.parametrize("wrong", [8.0, 7.0, 8.5, 6.0, 0.0, 15.0], ids=str)
def test_best_amount_rejects_neighbours_and_the_true_amount(wrong):
    with pytest.raises(AssertionError, match="expected the amount 7.5"):
        check_best_amount(wrong)


def test_amount_grid_brackets_the_true_amount():
    assert min(AMOUNT_GRID) < 8.0 < max(AMOUNT_GRID) and 8.0 in AMOUNT_GRID


# ----------------------------------------------------------------------------- exercise 5
def right_sip_loss(x_hat, y, amount, inverse):
    with torch.no_grad():
        target = x_hat + inverse(y - diffuse(x_hat, amount))
    return 0.5 * (x_hat - target).square().sum(dim=(-3, -2, -1))


def _no_stop_gradient(x_hat, y, amount, inverse):
    target = x_hat + inverse(y - diffuse(x_hat, amount))
    return 0.5 * (x_hat - target).square().sum(dim=(-3, -2, -1))


def _all_detached(x_hat, y, amount, inverse):
    return right_sip_loss(x_hat, y, amount, inverse).detach()


def test_sip_loss_right_and_placeholder(capsys):
    assert_passes(capsys, check_sip_loss, right_sip_loss)
    assert_not_attempted(capsys, check_sip_loss, placeholder)


@pytest.mark.parametrize("wrong", [
    _no_stop_gradient,                                                     # the gradient flows through Δx
    _all_detached,                                                         # no gradient at all
    lambda x, y, a, inv: right_sip_loss(x, y, a, inv).sum(),               # summed over the batch
    lambda x, y, a, inv: 2 * right_sip_loss(x, y, a, inv),                 # without the ½
    lambda x, y, a, inv: right_sip_loss(x, y, a, lambda r: -inv(r)),       # sign of the update
    lambda x, y, a, inv: 0.5 * (diffuse(x, a) - y).square().sum(dim=(-3, -2, -1)),  # GD's loss
], ids=["no_stopgrad", "detached", "batch_sum", "factor2", "sign", "gd_loss"])
def test_sip_loss_rejects_mistakes(wrong):
    with pytest.raises(AssertionError):
        check_sip_loss(wrong)


# ----------------------------------------------------------------------------- exercise 6
def test_tikhonov_right_and_placeholder(capsys):
    assert_passes(capsys, check_tikhonov, tikhonov_inverse)
    assert_not_attempted(capsys, check_tikhonov, placeholder)


def _lam(dy, a):
    return torch.exp(-log_kernel(dy.shape[-2:], a))


@pytest.mark.parametrize("wrong", [
    lambda dy, a, mu: torch.fft.ifft2(torch.fft.fft2(dy) / (_lam(dy, a) + mu)).real,        # 1/(λ + μ)
    lambda dy, a, mu: torch.fft.ifft2(torch.fft.fft2(dy) / (_lam(dy, a) ** 2 + mu)).real,   # without P
    lambda dy, a, mu: tikhonov_inverse(dy, a, mu**2),                                      # μ² for μ
    lambda dy, a, mu: tikhonov_inverse(dy, a, 1.01 * mu),                                  # 1 % off
    lambda dy, a, mu: diffuse(dy, a) / mu,                                                 # GD's limit
], ids=["lam_plus_mu", "no_p", "mu_squared", "near_miss", "gd_limit"])
def test_tikhonov_rejects_mistakes(wrong):
    with pytest.raises(AssertionError):
        check_tikhonov(wrong)


def _one_step_errors(noise):
    x, y = exercise_problem(noise)
    m = y.mean(dim=(-2, -1), keepdim=True)
    return {mu: float((m + tikhonov_inverse(y - m, 8.0, mu) - x).abs().sum(dim=(-3, -2, -1)).mean())
            for mu in MU_GRID}


def test_best_mu_right_placeholder_and_neighbours(capsys):
    errors = _one_step_errors(MU_NOISE)
    best = min(errors, key=errors.get)
    assert MU_GRID[0] < best < MU_GRID[-1]  # an interior optimum: the grid brackets it
    assert_passes(capsys, check_best_mu, best)
    assert_not_attempted(capsys, check_best_mu, None)
    i = MU_GRID.index(best)
    for wrong in (MU_GRID[i - 1], MU_GRID[i + 1], min(_one_step_errors(0.0), key=_one_step_errors(0.0).get)):
        if wrong != best:
            with pytest.raises(AssertionError):
                check_best_mu(wrong)


def test_tikhonov_with_mu_is_one_check(capsys):
    errors = _one_step_errors(MU_NOISE)
    best = min(errors, key=errors.get)
    assert_passes(capsys, lambda f: check_tikhonov(f, best), tikhonov_inverse)
    check_tikhonov(tikhonov_inverse, None)  # the inverse done, the damping not yet: one line
    out = capsys.readouterr().out
    assert out.count("not attempted yet") == 1 and "✓" not in out
    with pytest.raises(AssertionError):
        check_tikhonov(tikhonov_inverse, 1e-12)
