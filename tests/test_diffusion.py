"""Tests for course_lib.diffusion (chapter 3): schedule, Gaussian ground truth, DPS sampler, weights."""

from __future__ import annotations

import hashlib
import math

import numpy as np
import pytest
import torch

from course_lib.diffusion import (
    GaussianPriorDenoiser, Observation, WEIGHTS_PATH, alphas_cumprod, ddim_step, dps_sample, expected_sha256,
    gaussian_log_likelihood, gaussian_posterior, linear_betas, load_digit_denoiser, measure, metrics,
    operator_matrix, sample_gaussian, score_sample, sigmas, tikhonov, timesteps, training_log, tweedie,
)
from course_lib.diffusion.baselines import _grad, _grad_adjoint
from course_lib.models import DenoisingUNet
from course_lib.operators import Blur, Inpainting



def _random_prior(d_shape=(1, 2, 3), seed=0):
    g = torch.Generator().manual_seed(seed)
    d = math.prod(d_shape)
    mean = 0.3 * torch.randn(d_shape, generator=g, dtype=torch.float64)
    m = torch.randn(d, d, generator=g, dtype=torch.float64)
    cov = 0.1 * m @ m.T / d + 0.05 * torch.eye(d, dtype=torch.float64)
    return mean, cov


# ---------------------------------------------------------------- schedule
def test_schedule_values():
    betas = linear_betas()
    assert betas.shape == (1000,) and betas[0] == pytest.approx(1e-4) and betas[-1] == pytest.approx(2e-2)
    abar = alphas_cumprod(betas)
    np.testing.assert_allclose(abar.numpy(), np.cumprod(1 - np.linspace(1e-4, 2e-2, 1000)), rtol=1e-12)
    s = sigmas(abar)
    np.testing.assert_allclose(s.numpy(), np.sqrt((1 - abar.numpy()) / abar.numpy()), rtol=1e-12)
    assert s[0] == pytest.approx(0.0100005, rel=1e-4) and 150 < s[-1] < 165
    assert timesteps(200).tolist()[:3] == [995, 990, 985] and timesteps(200)[-1] == 0
    t7 = timesteps(7)
    assert len(t7) == 7 and t7[-1] == 0 and bool(torch.all(t7[:-1] > t7[1:]))


@pytest.mark.parametrize("call, match", [
    (lambda: linear_betas(1), "n"), (lambda: linear_betas(start=0.1, end=0.01), "start"),
    (lambda: alphas_cumprod(torch.ones(3, 3)), "betas"), (lambda: timesteps(0), "steps"),
    (lambda: timesteps(1001), "steps"), (lambda: sigmas(torch.tensor([1.5])), "abar"),
])
def test_schedule_bad_input(call, match):
    with pytest.raises(ValueError, match=match):
        call()


# ---------------------------------------------------------------- Gaussian ground truth
def test_gaussian_denoiser_matches_closed_form_and_keeps_dtype():
    mean, cov = _random_prior()
    D = GaussianPriorDenoiser(mean, cov)
    x = torch.randn(3, 1, 2, 3, dtype=torch.float64)
    sig = torch.tensor([0.1, 1.0, 7.0], dtype=torch.float64)
    out = D(x, sig)
    eye = torch.eye(6, dtype=torch.float64)
    for b in range(3):
        ref = mean.flatten() + cov @ torch.linalg.solve(cov + sig[b] ** 2 * eye, (x[b] - mean).flatten())
        torch.testing.assert_close(out[b].flatten(), ref)
    assert D(x.float(), 0.5).dtype == torch.float32
    torch.autograd.gradcheck(lambda v: D(v, 0.7), (x.clone().requires_grad_(True),))


def test_gaussian_posterior_matches_information_form():
    mean, cov = _random_prior()
    A = Blur(torch.tensor([[[[0.2, 0.5, 0.3]]]], dtype=torch.float64), padding="valid")  # (1, 2, 3) -> (1, 2, 1)
    a = operator_matrix(A, (1, 2, 3))
    x = torch.randn(1, 1, 2, 3, dtype=torch.float64)
    torch.testing.assert_close(a @ x.flatten(), A(x).flatten())
    y = A(x) + 0.01
    pm, pc = gaussian_posterior(mean, cov, A, y, sigma_y=0.2)
    prec = torch.linalg.inv(cov) + a.T @ a / 0.04
    ref_cov = torch.linalg.inv(prec)
    ref_mean = ref_cov @ (torch.linalg.solve(cov, mean.flatten()) + a.T @ y.flatten() / 0.04)
    torch.testing.assert_close(pc, ref_cov)
    torch.testing.assert_close(pm.flatten(), ref_mean)
    with pytest.raises(ValueError, match="sigma_y"):
        gaussian_posterior(mean, cov, A, y, sigma_y=0.0)
    with pytest.raises(ValueError, match="y must hold"):
        gaussian_posterior(mean, cov, A, torch.zeros(5), sigma_y=0.1)


@pytest.mark.parametrize("eta, steps", [(0.0, 200), (1.0, 1000)])  # with few steps both lose variance
def test_prior_sampling_reproduces_mean_and_covariance(eta, steps):
    mean, cov = _random_prior((1, 2, 2), seed=1)
    D = GaussianPriorDenoiser(mean, cov)
    xs = dps_sample(D, None, None, steps=steps, zeta=0.0, eta=eta, x_shape=(4000, 1, 2, 2),
                    generator=torch.Generator().manual_seed(0), dtype=torch.float64, progress=False)
    assert xs.dtype == torch.float64
    emp_cov = torch.cov(xs.flatten(1).T)
    assert float((xs.mean(0) - mean).abs().max()) < 0.05
    assert float((emp_cov - cov).norm() / cov.norm()) < 0.1


def test_dps_moves_towards_exact_posterior_mean():
    mean, cov = _random_prior((1, 3, 3), seed=2)
    D = GaussianPriorDenoiser(mean, cov)
    g = torch.Generator().manual_seed(3)
    x0 = sample_gaussian(mean, cov, 1, g)  # (1, 1, 3, 3)
    mask = torch.zeros(1, 1, 3, 3, dtype=torch.float64)
    mask[..., ::2, ::2] = 1.0
    obs = measure(Inpainting(mask), x0, 0.05, g)
    pm, _ = gaussian_posterior(mean, cov, obs.operator, obs.y, 0.05)
    xs = dps_sample(D, obs.operator, obs, steps=50, zeta=0.5, x_shape=(1000, 1, 3, 3), generator=g, progress=False)
    err_dps, err_prior = float((xs.mean(0) - pm).norm()), float((mean - pm).norm())
    assert err_dps < 0.4 * err_prior, (err_dps, err_prior)
    # the exact posterior denoiser with zeta = 0 samples the exact posterior: the sampler itself is right
    xp = dps_sample(GaussianPriorDenoiser(pm, _), None, obs, steps=50, zeta=0.0, x_shape=(1000, 1, 3, 3),
                    generator=g, progress=False)
    assert float((xp.mean(0) - pm).norm()) < 0.2 * err_prior


def test_gaussian_log_likelihood_is_the_exact_density_of_y_given_xt():
    mean, cov = _random_prior((1, 2, 3), seed=5)
    D = GaussianPriorDenoiser(mean, cov)
    A = Blur(torch.tensor([[[[0.2, 0.5, 0.3]]]], dtype=torch.float64), padding="valid")
    a = operator_matrix(A, (1, 2, 3))
    y = torch.randn(1, 1, 2, 1, dtype=torch.float64)
    abar_t, sigma_t = 0.3, math.sqrt(0.7 / 0.3)
    # C_t = Sigma - Sigma (Sigma + s^2 I)^{-1} Sigma, written with a solve
    c_ref = cov - cov @ torch.linalg.solve(cov + sigma_t**2 * torch.eye(6, dtype=torch.float64), cov)
    torch.testing.assert_close(D.cov_given(sigma_t), c_ref)
    x0_hat = torch.randn(3, 1, 2, 3, dtype=torch.float64, requires_grad=True)
    ll = gaussian_log_likelihood(D, A, y, sigma_y=0.2)
    dist = torch.distributions.MultivariateNormal(x0_hat.flatten(1) @ a.T, 0.04 * torch.eye(2, dtype=torch.float64)
                                                  + a @ c_ref @ a.T)
    ref = dist.log_prob(y.flatten())  # differs by a constant only
    torch.testing.assert_close(ll(x0_hat, abar_t) - ref, (ll(x0_hat, abar_t) - ref)[:1].expand(3))
    torch.autograd.gradcheck(lambda v: ll(v, abar_t), (x0_hat,))
    approx = gaussian_log_likelihood(D, A, y, sigma_y=0.2, exact=False)
    r = y.flatten() - x0_hat.flatten(1) @ a.T
    torch.testing.assert_close(approx(x0_hat, abar_t), -0.5 * r.pow(2).sum(1) / 0.04)
    with pytest.raises(TypeError, match="prior"):
        gaussian_log_likelihood("nope", A, y, 0.2)
    with pytest.raises(ValueError, match="sigma_y"):
        gaussian_log_likelihood(D, A, y, 0.0)


def test_exact_score_guidance_is_the_exact_posterior_sampler():
    mean, cov = _random_prior((1, 2, 2), seed=6)
    D = GaussianPriorDenoiser(mean, cov)
    mask = torch.tensor([[[[1.0, 0.0], [0.0, 1.0]]]], dtype=torch.float64)
    obs = measure(Inpainting(mask), mean[None] + 0.3, 0.1, torch.Generator().manual_seed(0))
    pm, pc = gaussian_posterior(mean, cov, obs.operator, obs.y, 0.1)
    ll = gaussian_log_likelihood(D, obs.operator, obs.y, 0.1)
    a = score_sample(D, ll, (30, 1, 2, 2), steps=40, generator=torch.Generator().manual_seed(1),
                     dtype=torch.float64, progress=False)
    b = dps_sample(GaussianPriorDenoiser(pm, pc), None, None, steps=40, zeta=0.0, x_shape=(30, 1, 2, 2),
                   generator=torch.Generator().manual_seed(1), dtype=torch.float64, progress=False)
    torch.testing.assert_close(a, b)  # E[x0 | x_t, y] = x0_hat + (1 - abar)/sqrt(abar) grad log p(y | x_t)
    with pytest.raises(ValueError, match="log_likelihood must return"):
        score_sample(D, lambda x0, t: x0.sum(), (2, 1, 2, 2), steps=3, progress=False)
    with pytest.raises(TypeError, match="log_likelihood"):
        score_sample(D, None, (2, 1, 2, 2), steps=3, progress=False)


def test_clip_residual_cuts_the_gradient_at_saturated_pixels_and_callback_sees_every_step():
    def saturated(x, sigma):  # x0_hat = 3 everywhere, slightly dependent on x so a gradient exists
        return 3.0 + 1e-3 * x

    obs = measure(Inpainting(torch.ones(1, 1, 2, 2)), torch.zeros(1, 1, 2, 2), 0.1, torch.Generator().manual_seed(0))
    kw = dict(steps=10, x_shape=(2, 1, 2, 2), progress=False, clip=True)
    prior = dps_sample(saturated, None, None, zeta=0.0, generator=torch.Generator().manual_seed(1), **kw)
    cut = dps_sample(saturated, None, obs, zeta=1.0, clip_residual=True, generator=torch.Generator().manual_seed(1), **kw)
    kept = dps_sample(saturated, None, obs, zeta=1.0, generator=torch.Generator().manual_seed(1), **kw)
    torch.testing.assert_close(cut, prior)  # clamp's gradient is 0 above 1: no guidance left
    assert float((kept - prior).abs().max()) > 1e-4  # unclipped residual: the guidance acts
    seen = []
    dps_sample(saturated, None, obs, zeta=0.5, callback=lambda i, t, x, x0: seen.append((i, t, x0.shape)),
               generator=torch.Generator().manual_seed(1), **kw)
    assert [t for _, t, _ in seen] == timesteps(10).tolist() and seen[0][2] == (2, 1, 2, 2)


# ---------------------------------------------------------------- sampler pieces
def test_ddim_step_matches_seed_coefficients_and_eta0_is_exact():
    g = torch.Generator().manual_seed(0)
    x0 = torch.randn(2, 1, 4, 4, generator=g, dtype=torch.float64)
    eps = torch.randn(2, 1, 4, 4, generator=g, dtype=torch.float64)
    z = torch.randn(2, 1, 4, 4, generator=g, dtype=torch.float64)
    a, a2, eta = 0.3, 0.6, 0.7
    xt = math.sqrt(a) * x0 + math.sqrt(1 - a) * eps
    # the x_t/x0 coefficients of the DDIM paper, written independently of ddim_step
    st = eta * math.sqrt((1 - a / a2) * (1 - a2) / (1 - a))
    c_x = math.sqrt(1 - a2 - st**2) / math.sqrt(1 - a)
    c_0 = math.sqrt(a2) - math.sqrt(1 - a2 - st**2) * math.sqrt(a) / math.sqrt(1 - a)
    torch.testing.assert_close(ddim_step(xt, x0, a, a2, eta, z), c_x * xt + c_0 * x0 + st * z)
    # eta = 0 with the true x0 moves exactly along the same noise: x' = sqrt(a2) x0 + sqrt(1 - a2) eps
    torch.testing.assert_close(ddim_step(xt, x0, a, a2, 0.0), math.sqrt(a2) * x0 + math.sqrt(1 - a2) * eps)
    torch.testing.assert_close(ddim_step(xt, x0, a, 1.0, 1.0, z), x0)  # the last step lands on x0_hat
    with pytest.raises(ValueError, match="abar_next"):
        ddim_step(xt, x0, 0.6, 0.3, 0.0)
    with pytest.raises(ValueError, match="noise"):
        ddim_step(xt, x0, a, a2, 0.5)


def test_tweedie_uses_the_rescaled_chain():
    seen = {}

    def D(x, s):
        seen["sigma"] = s
        return x

    out = tweedie(D, torch.ones(1, 1, 4, 4), 0.25)
    assert seen["sigma"] == pytest.approx(math.sqrt(3)) and float(out.mean()) == pytest.approx(2.0)


def test_measure_and_guidance_operator_must_be_the_one_that_made_y():
    mean, cov = _random_prior((1, 2, 2), seed=4)
    D = GaussianPriorDenoiser(mean, cov)
    g = torch.Generator().manual_seed(0)
    m = torch.tensor([[[[1.0, 0.0], [0.0, 1.0]]]], dtype=torch.float64)
    A, B = Inpainting(m), Inpainting(1 - m)
    obs = measure(A, mean[None], 0.1, g)
    assert isinstance(obs, Observation) and obs.operator is A and obs.sigma_y == 0.1
    assert bool(torch.all(obs.y[m == 0] == 0))  # unobserved pixels carry no value and no noise
    with pytest.raises(ValueError, match="sigma_y"):
        measure(A, mean[None], float("nan"))
    with pytest.raises(ValueError, match="operator is not the operator that made y"):
        dps_sample(D, B, obs, steps=5, progress=False)
    with pytest.raises(ValueError, match="operator is not the operator that made y"):
        dps_sample(D, Inpainting(m.clone()), obs, steps=5, progress=False)  # equal mask, other object: refused
    a = dps_sample(D, A, obs, steps=5, generator=torch.Generator().manual_seed(1), progress=False)
    b = dps_sample(D, None, obs, steps=5, generator=torch.Generator().manual_seed(1), progress=False)
    torch.testing.assert_close(a, b)  # seeded: same generator seed, same sample


def test_dps_zeta_per_sample_is_a_sweep_in_one_batch():
    mean, cov = _random_prior((1, 2, 2), seed=4)
    D = GaussianPriorDenoiser(mean, cov)
    obs = measure(Inpainting(torch.tensor([[[[1.0, 0.0], [0.0, 1.0]]]], dtype=torch.float64)),
                  (mean + 0.4)[None], 0.1, torch.Generator().manual_seed(0))

    def run(zeta):
        return dps_sample(D, None, obs, steps=20, zeta=zeta, x_shape=(3, 1, 2, 2), progress=False,
                          generator=torch.Generator().manual_seed(5))
    swept = run(torch.tensor([0.0, 0.3, 1.0]))
    for i, z in enumerate((0.0, 0.3, 1.0)):  # row i is the run with zeta = z, draw for draw
        torch.testing.assert_close(swept[i], run(z)[i])
    assert (swept[1] - swept[2]).abs().max() > 1e-3  # the steps differ: not one zeta for all
    for bad in (torch.tensor([0.1, 0.2]), torch.tensor([0.1, -0.2, 0.3]), torch.ones(3, 1)):
        with pytest.raises(ValueError, match="zeta"):
            run(bad)


@pytest.mark.parametrize("kwargs, err, match", [
    ({"zeta": -1.0}, ValueError, "zeta"), ({"zeta": float("nan")}, ValueError, "zeta"),
    ({"eta": 1.5}, ValueError, "eta"), ({"steps": 0}, ValueError, "steps"), ({"steps": 2.5}, ValueError, "steps"),
    ({"x_shape": (2, 1, 3, 3)}, ValueError, "x_shape"), ({"y": torch.zeros(3, 1, 2, 2, dtype=torch.float64), "x_shape": (2, 1, 2, 2)}, ValueError, "y has shape"), ({"x_shape": (2, 4)}, ValueError, "x_shape"),
    ({"denoiser": "nope"}, TypeError, "denoiser"), ({"y": torch.full((1, 1, 2, 2), float("nan"))}, ValueError, "y must be finite"),
    ({"operator": None, "y": None}, ValueError, "operator and y are needed"),
    ({"operator": None, "y": None, "zeta": 0.0}, ValueError, "x_shape must be given"),
])
def test_dps_bad_input(kwargs, err, match):
    mean, cov = _random_prior((1, 2, 2))
    args = {"denoiser": GaussianPriorDenoiser(mean, cov), "operator": Inpainting(torch.ones(1, 1, 2, 2)),
            "y": torch.zeros(1, 1, 2, 2, dtype=torch.float64), "steps": 3, "progress": False}
    args.update(kwargs)
    with pytest.raises(err, match=match):
        dps_sample(**args)


def test_denoisers_reject_bad_sigma_and_shapes():
    mean, cov = _random_prior((1, 2, 2))
    D = GaussianPriorDenoiser(mean, cov)
    with pytest.raises(ValueError, match="sigma"):
        D(torch.zeros(2, 1, 2, 2), -1.0)
    with pytest.raises(ValueError, match="x must have shape"):
        D(torch.zeros(2, 1, 3, 3), 1.0)
    with pytest.raises(ValueError, match="cov"):
        GaussianPriorDenoiser(mean, torch.eye(3))
    net = DenoisingUNet(width=4, emb_dim=8)
    with pytest.raises(ValueError, match="sigma"):
        net(torch.zeros(2, 1, 8, 8), 0.0)
    with pytest.raises(ValueError, match="sigma"):
        net(torch.zeros(2, 1, 8, 8), torch.ones(3))
    with pytest.raises(ValueError, match="divisible by 4"):
        net(torch.zeros(2, 1, 6, 6), 1.0)
    with pytest.raises(ValueError, match="channels"):
        net(torch.zeros(2, 3, 8, 8), 1.0)
    out = net(torch.randn(2, 1, 8, 8, dtype=torch.float64).float(), torch.tensor([0.1, 10.0]))
    assert out.shape == (2, 1, 8, 8)


# ---------------------------------------------------------------- weights
def test_weights_checksum_and_safe_loading():
    digest = hashlib.sha256(WEIGHTS_PATH.read_bytes()).hexdigest()
    assert digest == expected_sha256()
    blob = torch.load(WEIGHTS_PATH, weights_only=True)  # plain tensors and containers only
    assert set(blob) == {"config", "state_dict"}
    net = load_digit_denoiser()
    n_params = sum(p.numel() for p in net.parameters())
    assert n_params <= 1_000_000 and WEIGHTS_PATH.stat().st_size < 5e6
    assert not any(p.requires_grad for p in net.parameters())
    x = torch.zeros(2, 1, 32, 32)
    assert net(x, 0.5).shape == x.shape
    log = training_log()
    assert len(log["train_loss"]) == len(log["step"]) > 0 and log["sha256"] == digest


def test_corrupted_or_missing_weights_give_clear_errors(weights_copy):
    bad = weights_copy(WEIGHTS_PATH, corrupt=True)
    with pytest.raises(ValueError, match=f"{bad.name}.*corrupted.*expected {expected_sha256()}"):
        load_digit_denoiser(bad)
    bad.unlink()
    with pytest.raises(FileNotFoundError, match=f"{bad.name} is missing.*{expected_sha256()}"):
        load_digit_denoiser(bad)
    bad.with_suffix(".sha256").unlink()
    with pytest.raises(FileNotFoundError, match="sha256 is missing"):
        load_digit_denoiser(bad)


# ---------------------------------------------------------------- baselines
def test_gradient_adjoint_and_tikhonov_normal_equations():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(1, 1, 5, 6, generator=g, dtype=torch.float64)
    u, v = torch.randn(1, 1, 5, 6, generator=g, dtype=torch.float64), torch.randn(1, 1, 5, 6, generator=g, dtype=torch.float64)
    dx, dy = _grad(x)
    assert float((dx * u).sum() + (dy * v).sum()) == pytest.approx(float((x * _grad_adjoint(u, v)).sum()))
    A = Inpainting((torch.rand(1, 1, 5, 6, generator=g) < 0.5).double())
    y = A(x)
    xt = tikhonov(A, y, lam=0.1, iters=200)
    resid = A.adjoint(A(xt) - y) + 0.1 * _grad_adjoint(*_grad(xt))
    assert float(resid.norm()) < 1e-6


def test_metrics():
    x = torch.zeros(1, 1, 16, 16)
    y = x + 0.2  # 0.1 on the [0, 1] scale: MSE 0.01, PSNR 20 dB
    psnr, ssim = metrics(y, x)
    assert psnr[0] == pytest.approx(20.0, abs=1e-6) and 0 < ssim[0] < 1
    with pytest.raises(ValueError, match="x_true"):
        metrics(y, torch.zeros(1, 1, 8, 8))
    with pytest.raises(ValueError, match="lam"):
        tikhonov(Inpainting(torch.ones(1, 1, 4, 4)), torch.zeros(1, 1, 4, 4), lam=0.0)
    with pytest.raises(ValueError, match="y must be"):
        tikhonov(Inpainting(torch.ones(1, 1, 4, 4)), torch.zeros(4, 4), lam=1.0)


# ---------------------------------------------------------------- learned prior
def test_denoising_unet_gradcheck_and_dps_with_learned_prior():
    torch.manual_seed(0)
    net = DenoisingUNet(width=4, emb_dim=8).double()
    for p in net.parameters():  # non-zero output layers, so that the check sees the whole network
        p.data.add_(0.05 * torch.randn_like(p))
    x = torch.randn(1, 1, 8, 8, dtype=torch.float64, requires_grad=True)
    torch.autograd.gradcheck(lambda v: net(v, 0.7), (x,))
    D = load_digit_denoiser()
    mask = (torch.rand(1, 1, 32, 32, generator=torch.Generator().manual_seed(0)) < 0.3).float()
    obs = measure(Inpainting(mask), torch.zeros(1, 1, 32, 32), 0.1, torch.Generator().manual_seed(1))
    xs = dps_sample(D, None, obs, steps=3, zeta=1.0, x_shape=(2, 1, 32, 32), generator=torch.Generator().manual_seed(2),
                    progress=False, clip=True)
    assert xs.shape == (2, 1, 32, 32) and xs.dtype == torch.float32 and bool(torch.isfinite(xs).all())


def test_train_prior_roundtrip(tmp_path):
    from course_lib.train_prior import save, train

    net, log = train(steps=2, batch=4, width=4, log_every=1, eval_every=2, progress=False)
    path = save(net, log, tmp_path)
    loaded = load_digit_denoiser(path)
    x = torch.randn(2, 1, 32, 32)
    torch.testing.assert_close(loaded(x, 0.3), net.eval()(x, 0.3))
    assert training_log(tmp_path / "digits32_training.json")["step"] == [1, 2]


def test_interpolate_equals_scipy_griddata_on_the_lattice():
    from scipy.interpolate import griddata

    from course_lib.diffusion import interpolate

    g = torch.Generator().manual_seed(4)
    for frac in (0.1, 0.3):
        mask = (torch.rand(1, 1, 24, 24, generator=g) < frac).double()
        y = torch.rand(1, 1, 24, 24, generator=g, dtype=torch.float64) * mask
        pts = np.argwhere(mask[0, 0].numpy() != 0)
        grid = np.stack(np.meshgrid(np.arange(24), np.arange(24), indexing="ij"), -1).reshape(-1, 2)
        lin = griddata(pts, y[0, 0].numpy()[mask[0, 0].numpy() != 0], grid, method="linear")
        near = griddata(pts, y[0, 0].numpy()[mask[0, 0].numpy() != 0], grid, method="nearest")
        want = np.where(np.isnan(lin), near, lin).reshape(24, 24)
        np.testing.assert_allclose(interpolate(y, mask)[0, 0].numpy(), want, atol=1e-12)
