"""The chapter-3 self-checks: a right answer prints the tick, wrong ones raise, placeholders do not."""

from __future__ import annotations

import math

import pytest
import torch

from course_lib.checks import dps as checks
from course_lib.diffusion import (GaussianPriorDenoiser, ddim_step, diffpir_sample, digits8, dps_sample, fit_gaussian,
                                  gaussian_posterior, measure)
from course_lib.operators import Inpainting


@pytest.fixture(scope="module")
def bench():
    """The chapter's Gaussian 8x8 inpainting problem."""
    mean, cov = fit_gaussian(digits8("train"), ridge=1e-2)
    g = torch.Generator().manual_seed(0)
    x = digits8("test")[:1]
    mask = (torch.rand(1, 1, 8, 8, generator=g) < 0.3).double()
    sigma_y = 2 * 12.75 / 255
    obs = measure(Inpainting(mask), x, sigma_y, generator=g)
    post_mean, _ = gaussian_posterior(mean, cov, obs.operator, obs.y, sigma_y)
    return mean, cov, obs, post_mean


def _placeholder(*args, **kwargs):
    raise NotImplementedError


def _not_attempted(capsys, check, *args):
    check(*args)
    assert "not attempted yet" in capsys.readouterr().out


# ---------------------------------------------------------------- exercise 1: the DDIM step
def test_ddim_step_check(capsys):
    checks.check_ddim_step(lambda *a: ddim_step(*a))
    assert capsys.readouterr().out.startswith("✓")
    _not_attempted(capsys, checks.check_ddim_step, _placeholder)


@pytest.mark.parametrize("wrong", [
    lambda x_t, x0, a, a2, eta, z: x0,                                        # returns x0_hat
    lambda x_t, x0, a, a2, eta, z: ddim_step(x_t, x0, a, a2, 0.0),            # forgets the fresh noise
    lambda x_t, x0, a, a2, eta, z: math.sqrt(a2) * x0 + math.sqrt(1 - a2) * (x_t - math.sqrt(a) * x0)
    / math.sqrt(1 - a) + (eta * math.sqrt((1 - a2) / (1 - a) * (1 - a / a2))) * z,  # eps coefficient without sigma
    lambda x_t, x0, a, a2, eta, z: ddim_step(x_t, x0, a, a2, eta, -z),        # sign of the noise
    lambda x_t, x0, a, a2, eta, z: None,                                      # forgot to return
], ids=["x0_hat", "no_noise", "eps_coefficient", "noise_sign", "returns_none"])
def test_ddim_step_check_rejects(wrong):
    with pytest.raises(AssertionError):
        checks.check_ddim_step(wrong)


# ---------------------------------------------------------------- exercise 2: the Gaussian denoiser
def test_gaussian_denoiser_check(bench, capsys):
    mean, cov, _, _ = bench
    checks.check_gaussian_denoiser(GaussianPriorDenoiser(mean, cov), mean, cov)
    assert capsys.readouterr().out.startswith("✓")
    _not_attempted(capsys, checks.check_gaussian_denoiser, _placeholder, mean, cov)


def _linear(mean, cov, var_of_sigma, with_mean=True):
    def denoise(x, sigma):
        d = cov.shape[0]
        r = (x - mean).flatten(1).T
        w = torch.linalg.solve(cov + var_of_sigma(sigma) * torch.eye(d, dtype=cov.dtype), r)
        return (mean if with_mean else 0) + (cov @ w).T.reshape(x.shape)
    return denoise


@pytest.mark.parametrize("make", [
    lambda m, c: (lambda x, s: x),                                   # identity
    lambda m, c: (lambda x, s: m.expand_as(x)),                      # prior mean
    lambda m, c: _linear(m, c, lambda s: s),                         # sigma instead of sigma^2
    lambda m, c: _linear(m, c, lambda s: s**2, with_mean=False),     # forgets mu
    lambda m, c: _linear(m, c, lambda s: 4 * s**2),                  # noise variance doubled in std
], ids=["identity", "mean", "sigma_not_squared", "no_mean", "factor_2_sigma"])
def test_gaussian_denoiser_check_rejects(bench, make):
    mean, cov, _, _ = bench
    with pytest.raises(AssertionError):
        checks.check_gaussian_denoiser(make(mean, cov), mean, cov)


# ---------------------------------------------------------------- exercise 3: the variance kept
def _variance_kept(mean, cov, transform=lambda v: v, eta_map=lambda e: e):
    D = GaussianPriorDenoiser(mean, cov)

    def kept(eta):
        xs = dps_sample(D, None, None, steps=20, zeta=0.0, eta=eta_map(eta), x_shape=(2000, 1, 8, 8),
                        generator=torch.Generator().manual_seed(0), dtype=torch.float64, progress=False)
        return transform(float(torch.cov(xs.flatten(1).T).trace() / cov.trace()))
    return kept


def test_variance_kept_check(bench, capsys):
    mean, cov, _, _ = bench
    checks.check_variance_kept(_variance_kept(mean, cov), cov)
    assert capsys.readouterr().out.startswith("✓")
    _not_attempted(capsys, checks.check_variance_kept, _placeholder, cov)


def test_variance_kept_exact_matches_a_long_monte_carlo(bench):
    mean, cov, _, _ = bench
    D = GaussianPriorDenoiser(mean, cov)
    for eta in (0.0, 1.0):
        xs = dps_sample(D, None, None, steps=20, zeta=0.0, eta=eta, x_shape=(20000, 1, 8, 8),
                        generator=torch.Generator().manual_seed(5), dtype=torch.float64, progress=False)
        mc = float(torch.cov(xs.flatten(1).T).trace() / cov.trace())
        assert abs(mc - checks._variance_kept_exact(cov, eta, 20)) < 0.01


@pytest.mark.parametrize("wrong", [
    {"transform": math.sqrt},                       # standard deviations, not variances
    {"eta_map": lambda e: 1.0 - e},                 # the two etas swapped
    {"eta_map": lambda e: 0.0},                     # eta ignored
    {"transform": lambda v: 1.0 - v},               # the variance lost
], ids=["std", "swapped", "eta_ignored", "lost"])
def test_variance_kept_check_rejects(bench, wrong):
    mean, cov, _, _ = bench
    with pytest.raises(AssertionError):
        checks.check_variance_kept(_variance_kept(mean, cov, **wrong), cov)


# ---------------------------------------------------------------- exercise 4: retuning zeta
def test_reference_dps_matches_the_library(bench):
    mean, cov, obs, _ = bench
    ref = checks._dps_matrix(obs, mean, cov, steps=50, zeta=0.3, n=50, seed=0)
    lib = dps_sample(GaussianPriorDenoiser(mean, cov), None, obs, steps=50, zeta=0.3, x_shape=(50, 1, 8, 8),
                     generator=torch.Generator().manual_seed(0), progress=False)
    torch.testing.assert_close(ref, lib.flatten(1))


def test_zeta_retuning_check(bench, capsys):
    mean, cov, obs, post_mean = bench
    best = {s: checks._best_zeta(obs, mean, cov, post_mean, s)[0] for s in (50, 200)}
    assert best[50] > best[200]
    checks.check_zeta_retuning(best[50], best[200], obs, mean, cov, post_mean)
    assert capsys.readouterr().out.startswith("✓")
    _not_attempted(capsys, checks.check_zeta_retuning, None, None, obs, mean, cov, post_mean)
    grid = checks.ZETA_GRID
    nxt = {s: grid[(grid.index(best[s]) + 1) % len(grid)] for s in best}
    for wrong in ((best[200], best[50]), (nxt[50], best[200]), (best[50], nxt[200]),
                  (2 * best[50], best[200]), ("1.0", best[200])):
        with pytest.raises(AssertionError):
            checks.check_zeta_retuning(*wrong, obs, mean, cov, post_mean)


def test_diffpir_reference_follows_the_library_draw_for_draw(bench):
    mean, cov, obs, _ = bench
    ref = checks._diffpir_matrix(obs, mean, cov, steps=40, lam=1.0, zeta=0.3, n=30, seed=0)
    lib = diffpir_sample(GaussianPriorDenoiser(mean, cov), None, obs, 40, lam=1.0, zeta=0.3, x_shape=(30, 1, 8, 8),
                         generator=torch.Generator().manual_seed(0), progress=False)
    torch.testing.assert_close(ref, lib.flatten(1))


def test_diffpir_tradeoff_check(bench, capsys):
    mean, cov, obs, post_mean = bench
    post_cov = gaussian_posterior(mean, cov, obs.operator, obs.y, obs.sigma_y)[1]
    args = (obs, mean, cov, post_mean, post_cov)
    checks.check_diffpir_tradeoff(1.0, 0.3, *args)
    assert capsys.readouterr().out.startswith("✓")
    _not_attempted(capsys, checks.check_diffpir_tradeoff, None, None, *args)
    for wrong in ((0.3, 1.0), (0.6, 0.3), (1.0, 0.6), (1.0, 0.0), ("1", 0.3), (True, 0.3)):
        with pytest.raises(AssertionError):
            checks.check_diffpir_tradeoff(*wrong, *args)
