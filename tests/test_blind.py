"""Chapter 5's library: kernel error up to a shift, non-blind solvers, the kernel step, the blind
method, the kernel prior and its loader, blind DPS."""

import doctest

import numpy as np
import pytest
import torch
from torch.nn import functional as F

import course_lib.blind.blind_dps as blind_dps_mod
import course_lib.blind.edges as edges_mod
import course_lib.blind.kernel_prior as kernel_prior_mod
import course_lib.blind.metrics as metrics_mod
import course_lib.blind.nonblind as nonblind_mod
import course_lib.blind.trap as trap_mod
import course_lib.blind.tv_blind as tv_blind_mod
from course_lib.blind import (align, kernel_error, kernel_step, tikhonov_cg, tv_blind_deconvolution, tv_deconvolve,
                              wiener)
from course_lib.blind.blind_dps import blind_dps_sample
from course_lib.blind.edges import l0_latent
from course_lib.blind.kernel_prior import KernelDenoiser, from_model, load_kernel_denoiser, to_model
from course_lib.blind.metrics import kernel_similarity, shift_zero
from course_lib.blind.nonblind import estimate_noise, grad_periodic
from course_lib.blind.trap import delta_kernel, joint_objective, naive_alternating, total_variation
from course_lib.blind.tv_blind import (centre_kernel, kernel_lipschitz, kernel_normal_equations, kernel_solve,
                                      pyramid_sizes, upsample_kernel)
from course_lib.convolution import convolve2d
from course_lib.data import load_image
from course_lib.kernels import motion_blur_kernel
from course_lib.operators import Blur, add_gaussian_noise
from course_lib.projections import project_simplex

G = lambda s=0: torch.Generator().manual_seed(s)  # noqa: E731


def _kernel(size=9, seed=0, dtype=torch.float64):
    return motion_blur_kernel(size, generator=G(seed), dtype=dtype)


# ----------------------------------------------------------------------------- kernel error
def test_kernel_error_is_zero_for_a_shifted_copy_and_positive_otherwise():
    k = _kernel(9, 1)
    for di, dj in [(0, 0), (1, 0), (-1, 1), (1, -1)]:
        assert kernel_error(shift_zero(k, di, dj), k) < 1e-12
    assert kernel_error(_kernel(9, 2), k) > 0.3
    assert kernel_error(project_simplex(torch.ones_like(k), dim=(-2, -1)), k) > 0.5


def test_kernel_error_is_shift_invariant():
    a, b = _kernel(9, 3), _kernel(9, 4)
    base = kernel_error(a, b)
    for di, dj in [(1, 0), (0, -1), (1, 1)]:
        moved = shift_zero(a, di, dj)
        if abs(float(moved.sum()) - 1) < 1e-12:  # nothing pushed out of the window
            assert kernel_error(moved, b) == pytest.approx(base, abs=1e-12)


def test_kernel_error_takes_batches_and_rejects_bad_input():
    a = torch.cat([_kernel(9, 1), _kernel(9, 2)])
    e = kernel_error(a, a.flip(0))
    assert e.shape == (2,) and np.all(e > 0)
    with pytest.raises(ValueError, match="k_hat"):
        kernel_error(torch.full((1, 1, 3, 3), float("nan")), _kernel(3))
    with pytest.raises(ValueError, match="k_true"):
        kernel_error(_kernel(3), torch.ones(3, 3))


def test_align_undoes_the_shift_of_image_and_kernel():
    x = torch.rand(1, 1, 32, 32, generator=G(0), dtype=torch.float64)
    k = _kernel(9, 1)
    s = (1, -2)
    x_al, k_al = align(torch.roll(x, (-s[0], -s[1]), dims=(-2, -1)), shift_zero(k, *s), k)
    assert torch.allclose(k_al, k) and torch.allclose(x_al, x)


# ----------------------------------------------------------------------------- non-blind
def test_wiener_matches_skimage():
    from skimage.restoration import wiener as sk_wiener

    x = torch.rand(1, 1, 40, 36, generator=G(1), dtype=torch.float64)
    k = _kernel(7, 2)
    y = Blur(k, padding="circular")(x)
    for balance in (1e-3, 0.1):
        ours = wiener(y, k, balance=balance)[0, 0].numpy()
        theirs = sk_wiener(y[0, 0].numpy(), k[0, 0].numpy(), balance=balance, clip=False)
        assert np.abs(ours - theirs).max() < 1e-10


def test_tikhonov_cg_solves_its_normal_equations():
    from course_lib.diffusion.baselines import _grad, _grad_adjoint

    x = torch.rand(1, 1, 24, 24, generator=G(2), dtype=torch.float64)
    k = _kernel(5, 3)
    A = Blur(k, padding="circular")
    y = A(x)
    mu = 1e-2
    xh = tikhonov_cg(y, k, mu=mu, n_iter=500)
    resid = A.adjoint(A(xh)) + mu * _grad_adjoint(*_grad(xh)) - A.adjoint(y)
    assert float(resid.norm() / A.adjoint(y).norm()) < 1e-6


def test_tv_deconvolve_is_a_local_minimum_of_its_objective():
    x = torch.zeros(1, 1, 24, 24, dtype=torch.float64)
    x[..., 6:18, 8:16] = 1.0
    k = _kernel(5, 1)
    y = add_gaussian_noise(Blur(k, padding="circular")(x), 0.02, generator=G(0))
    lam = 0.02
    xh = tv_deconvolve(y, k, lam=lam, n_iter=600)
    J = lambda v: float(joint_objective(v, k, y, lam)[0])  # noqa: E731
    g = G(5)
    for _ in range(10):
        assert J(xh) <= J(xh + 1e-3 * torch.randn(xh.shape, generator=g, dtype=xh.dtype)) + 1e-9
    assert J(xh) < J(y)


def test_estimate_noise_reads_the_noise_level():
    x = load_image("camera", size=96, color=False).double()
    y = add_gaussian_noise(Blur(_kernel(9, 1), padding="circular")(x), 0.02, generator=G(0))
    assert float(estimate_noise(y)[0]) == pytest.approx(0.02, rel=0.15)


def test_nonblind_solvers_reject_bad_input():
    y = torch.rand(1, 1, 16, 16)
    with pytest.raises(ValueError, match="kernel"):
        wiener(y, torch.ones(1, 1, 17, 17) / 289)
    with pytest.raises(ValueError, match="y"):
        tv_deconvolve(torch.full_like(y, float("nan")), torch.ones(1, 1, 3, 3) / 9)
    with pytest.raises(ValueError, match="lam"):
        tv_deconvolve(y, torch.ones(1, 1, 3, 3) / 9, lam=-1.0)
    with pytest.raises(ValueError, match="balance"):
        wiener(y, torch.ones(1, 1, 3, 3) / 9, balance=0.0)


# ----------------------------------------------------------------------------- the trap
def test_blur_lowers_total_variation_and_the_no_blur_pair_wins():
    g = G(7)
    for _ in range(5):
        x = torch.rand(2, 1, 20, 20, generator=g, dtype=torch.float64)
        k = project_simplex(torch.rand(1, 1, 5, 5, generator=g, dtype=torch.float64), dim=(-2, -1))
        y = convolve2d(x, k, padding="circular")
        assert bool((total_variation(y) <= total_variation(x) + 1e-12).all())
        assert bool((joint_objective(y, delta_kernel(5, torch.float64), y, 0.1)
                     <= joint_objective(x, k, y, 0.1) + 1e-12).all())


def test_joint_objective_gradcheck():
    g = G(8)
    x = torch.rand(1, 1, 8, 8, generator=g, dtype=torch.float64, requires_grad=True)
    k = torch.rand(1, 1, 3, 3, generator=g, dtype=torch.float64, requires_grad=True)
    y = torch.rand(1, 1, 8, 8, generator=g, dtype=torch.float64)
    assert torch.autograd.gradcheck(lambda a, b: joint_objective(a, b, y, 0.05), (x, k))


# ----------------------------------------------------------------------------- kernel step
def test_kernel_lipschitz_bounds_the_kernel_map_on_zero_sum_directions():
    x = torch.rand(2, 3, 20, 20, generator=G(3), dtype=torch.float64)
    L = kernel_lipschitz(x)
    g = G(4)
    for _ in range(20):
        d = torch.randn(2, 1, 5, 5, generator=g, dtype=torch.float64)
        d = d - d.mean((-2, -1), keepdim=True)
        lhs = convolve2d(x, d, padding="circular").pow(2).flatten(1).sum(1)
        assert bool((lhs <= L * d.pow(2).flatten(1).sum(1) + 1e-9).all())


@pytest.mark.parametrize("size", [(5, 5), (3, 7), (9, 9)])
def test_kernel_normal_equations_give_the_autograd_gradient(size):
    """M k - b is the gradient of 1/2 sum_c ||k * x_c - y_c||^2 (circular), for odd and unequal sides."""
    x = torch.rand(2, 3, 16, 20, generator=G(5), dtype=torch.float64)
    y = torch.rand(2, 3, 16, 20, generator=G(6), dtype=torch.float64)
    k = torch.rand(2, 1, *size, generator=G(7), dtype=torch.float64, requires_grad=True)
    f = (convolve2d(x, k, padding="circular") - y).pow(2).sum() / 2
    (ref,) = torch.autograd.grad(f, k)
    M, b = kernel_normal_equations(x, y, size)
    got = (M @ k.detach().flatten(1)[:, :, None])[:, :, 0] - b
    assert torch.allclose(got, ref.flatten(1), atol=1e-10, rtol=0)
    assert torch.allclose(M, M.transpose(1, 2))  # A(d) = A(-d): the Hessian is symmetric


@pytest.mark.parametrize("gradient_domain", [True, False])
def test_kernel_step_stays_on_the_simplex_and_decreases_its_objective(gradient_domain):
    x = load_image("camera", size=64, color=False).double()
    k_true = _kernel(9, 1)
    y = Blur(k_true, padding="circular")(x)
    a, b = (grad_periodic(x).flatten(1, 2), grad_periodic(y).flatten(1, 2)) if gradient_domain else (x, y)
    f = lambda k: float((convolve2d(a, k, padding="circular") - b).pow(2).sum() / 2)  # noqa: E731
    k = project_simplex(torch.ones(1, 1, 9, 9, dtype=torch.float64), dim=(-2, -1))
    values = []
    for _ in range(30):
        k = kernel_step(x, y, k, n_iter=1, gradient_domain=gradient_domain)
        assert float(k.min()) >= 0 and abs(float(k.sum()) - 1) < 1e-12
        values.append(f(k))
    assert all(v2 <= v1 + 1e-12 for v1, v2 in zip(values, values[1:]))
    if gradient_domain:  # with the sharp image known, the kernel is recovered
        assert kernel_error(kernel_step(x, y, k, n_iter=500), k_true) < 0.1


def test_kernel_step_treats_every_image_on_its_own():
    x = torch.rand(2, 1, 24, 24, generator=G(1), dtype=torch.float64)
    k = torch.cat([_kernel(5, 1), _kernel(5, 2)])
    y = convolve2d(x, k, padding="circular")
    k0 = project_simplex(torch.ones(2, 1, 5, 5, dtype=torch.float64), dim=(-2, -1))
    both = kernel_step(x, y, k0, n_iter=5)
    one = kernel_step(x[1:], y[1:], k0[1:], n_iter=5)
    assert torch.allclose(both[1:], one)


@pytest.mark.parametrize("gradient_domain", [True, False])
def test_kernel_solve_reaches_the_minimum_that_many_steps_approach(gradient_domain):
    x = load_image("camera", size=48, color=False).double()
    k = _kernel(7, 3)
    y = add_gaussian_noise(Blur(k, padding="circular")(x), 0.01, generator=G(0))
    flat = project_simplex(torch.ones_like(k), dim=(-2, -1))
    k_hat = kernel_solve(x, y, flat, tol=1e-8, gradient_domain=gradient_domain)
    assert k_hat.shape == k.shape and float(k_hat.min()) >= 0 and abs(float(k_hat.sum()) - 1) < 1e-9

    def f(kk):
        xx, yy = (grad_periodic(x), grad_periodic(y)) if gradient_domain else (x, y)
        kern = kk.reshape(1, 1, 7, 7)
        return 0.5 * float(sum((convolve2d(xx[:, :, i], kern, padding="circular") - yy[:, :, i]).pow(2).sum()
                               for i in range(2))) if gradient_domain else \
            0.5 * float((convolve2d(xx, kern, padding="circular") - yy).pow(2).sum())

    many = kernel_step(x, y, flat, n_iter=20000, gradient_domain=gradient_domain)
    assert f(k_hat) <= f(many) * (1 + 1e-7)           # no worse than 20,000 PGD steps
    assert f(k_hat) <= f(k) and kernel_error(k_hat, k) < 0.3
    with pytest.raises(ValueError, match="tol"):
        kernel_solve(x, y, flat, tol=0.0)


def test_kernel_step_delayed_normalisation_leaves_delta_and_projection_does_not():
    x = load_image("camera", size=48, color=False)
    k = _kernel(7, 3).float()
    y = add_gaussian_noise(Blur(k, padding="circular")(x), 0.01, generator=G(0))
    d = delta_kernel(7)
    x_d = tv_deconvolve(y, d, 3e-2, n_iter=50)
    kept = kernel_step(x_d, y, d, n_iter=5, gradient_domain=False)
    spread = kernel_step(x_d, y, d, n_iter=5, gradient_domain=False, normalise="delayed")
    assert abs(float(spread.sum()) - 1) < 1e-5 and float(spread.min()) >= 0
    assert int((spread > 0).sum()) > int((kept > 0).sum())
    with pytest.raises(ValueError, match="normalise"):
        kernel_step(x_d, y, d, normalise="clip")
    with pytest.raises(ValueError, match="normalise"):
        naive_alternating(y, 7, n_iter=1, k_iter=None, normalise="delayed")


def test_centre_kernel_keeps_the_blurred_image():
    x = torch.rand(1, 1, 20, 20, generator=G(2), dtype=torch.float64)
    k = torch.zeros(1, 1, 9, 9, dtype=torch.float64)
    k[0, 0, 1:3, 5:8] = 1 / 6  # off-centre, fits after centring
    kc, xc = centre_kernel(k, x)
    assert torch.allclose(convolve2d(xc, kc, padding="circular"), convolve2d(x, k, padding="circular"))
    assert float(kc[0, 0, 4].sum()) > 0  # the mass moved to the centre rows


def test_l0_latent_keeps_a_sharp_edge():
    y = torch.zeros(1, 1, 16, 16, dtype=torch.float64)
    y[..., 8:] = 1.0
    assert float((l0_latent(y, torch.ones(1, 1, 1, 1, dtype=torch.float64), lam=1e-2) - y).abs().max()) < 1e-2


def test_kernel_similarity_is_shape_only_and_splits_the_kernel_error():
    k = F.pad(_kernel(11, 1), (4, 4, 4, 4))          # margins: no shift below pushes mass out
    assert kernel_similarity(3.0 * shift_zero(k, 1, -2), k) == pytest.approx(1.0, abs=1e-12)
    flat = F.pad(torch.full((1, 1, 11, 11), 1 / 121, dtype=k.dtype), (4, 4, 4, 4))   # too wide, r < 1
    for k_hat in (shift_zero(F.pad(_kernel(11, 2), (4, 4, 4, 4)), 1, 2), 0.5 * k + 0.5 * flat, flat):
        ks, e = kernel_similarity(k_hat, k), kernel_error(k_hat, k)
        r = float(k_hat.norm() / k.norm())
        assert 0 < ks < 0.999
        assert e == pytest.approx(((r - ks) ** 2 + 1 - ks**2) ** 0.5, abs=1e-9)  # e^2 = (r - KS)^2 + 1 - KS^2
    with pytest.raises(ValueError, match="k_hat"):
        kernel_similarity(torch.full((1, 1, 3, 3), float("nan")), _kernel(3))


# ----------------------------------------------------------------------------- the blind method
def test_pyramid_goes_from_a_small_to_the_full_kernel():
    plan = pyramid_sizes(15)
    assert plan[0][1] <= 5 and plan[-1] == (1.0, 15) and all(k % 2 for _, k in plan)


def test_upsample_kernel_stretches_about_the_centre_by_the_image_scale():
    d = torch.zeros(1, 1, 5, 5, dtype=torch.float64)
    d[..., 2, 2] = 1.0
    assert torch.equal(upsample_kernel(d, 9, 1.0), F.pad(d, (2, 2, 2, 2)))   # factor 1: only padded
    line = torch.zeros(1, 1, 5, 5, dtype=torch.float64)
    line[..., 2, 1:4] = 1 / 3                                                 # 3 px long
    up = upsample_kernel(line, 9, 2.0)[0, 0]
    assert float(up.sum()) == pytest.approx(1.0, abs=1e-12) and float(up.min()) >= 0
    cols = torch.nonzero(up.sum(0) > 1e-12).flatten()
    rows = torch.nonzero(up.sum(1) > 1e-12).flatten()
    # old columns 1..3 (centre 2) land on 4 -/+ 2, old row 2 on row 4; the bilinear ramps reach one
    # pixel further on each side (half-way samples)
    assert cols.tolist() == [1, 2, 3, 4, 5, 6, 7] and rows.tolist() == [3, 4, 5]
    assert torch.allclose(up, up.flip(-1)) and torch.allclose(up, up.flip(-2))
    assert torch.allclose(up[3], up[4] / 2) and float(up[4, 2:7].std()) < 1e-12 < float(up[4, 1])
    # the old rule (resize the array to the window, project a kernel that sums to ~3) kept fewer entries
    k = motion_blur_kernel(15, generator=G(1), dtype=torch.float64)
    k5 = tv_blind_mod._resize(k, (5, 5))
    k5 = k5 / k5.sum()
    old = project_simplex(tv_blind_mod._resize(k5, (9, 9)).clamp_min(0), dim=(-2, -1))
    assert int((upsample_kernel(k5, 9, 2**0.5) > 0).sum()) > 2 * int((old > 0).sum())
    with pytest.raises(ValueError, match="size"):
        upsample_kernel(d, 8, 2.0)
    with pytest.raises(ValueError, match="factor"):
        upsample_kernel(d, 9, 0.0)


def test_tv_blind_recovers_a_kernel_on_a_small_synthetic_case():
    x = load_image("camera", size=96, color=False)
    k = motion_blur_kernel(11, generator=G(2))
    y = Blur(k, padding="circular")(x)
    x_hat, k_hat = tv_blind_deconvolution(y, 11, progress=False)
    assert k_hat.shape == (1, 1, 11, 11)
    assert float(k_hat.min()) >= 0 and abs(float(k_hat.sum()) - 1) < 1e-5
    assert kernel_error(k_hat, k) < 0.4


def test_tv_blind_refinement_runs_at_full_size_after_the_schedule():
    x = load_image("camera", size=96, color=False)
    k = motion_blur_kernel(15, generator=G(1))
    y = add_gaussian_noise(Blur(k, padding="circular")(x), 0.01, generator=G(0))
    sizes = []
    _, k_hat = tv_blind_deconvolution(y, 15, progress=False, callback=lambda lev, xs, ks: sizes.append(xs.shape[-1]))
    _, k_plain = tv_blind_deconvolution(y, 15, progress=False, refine=0)
    assert sizes[-10:] == [96] * 10 and len(sizes) == 10 + 20 * len(pyramid_sizes(15))
    assert float((k_hat - k_plain).abs().max()) > 1e-3  # refine=0 turns it off
    assert float(k_hat.min()) >= 0 and abs(float(k_hat.sum()) - 1) < 1e-5
    assert max(kernel_error(k_hat, k), kernel_error(k_plain, k)) < 0.4


@pytest.mark.parametrize("kwargs, name", [
    (dict(kernel_size=10), "kernel_size"), (dict(kernel_size=99), "kernel_size"),
    (dict(kernel_size=9, lam=-1.0), "lam"), (dict(kernel_size=9, padding="valid"), "padding"),
    (dict(kernel_size=9, latent="tv2"), "latent"), (dict(kernel_size=9, refine=-1), "refine"),
    (dict(kernel_size=9, refine=2.5), "refine"), (dict(kernel_size=9, refine_k_iter=0), "refine_k_iter"),
    (dict(kernel_size=9, transfer="resize"), "transfer")])
def test_tv_blind_rejects_bad_input(kwargs, name):
    with pytest.raises(ValueError, match=name):
        tv_blind_deconvolution(torch.rand(1, 1, 32, 32), progress=False, **kwargs)
    with pytest.raises(ValueError, match="y"):
        tv_blind_deconvolution(torch.full((1, 1, 32, 32), float("nan")), 9, progress=False)


# ----------------------------------------------------------------------------- kernel prior
def test_to_model_and_back_is_exact_on_kernels_and_from_model_is_on_the_simplex():
    k = torch.cat([_kernel(9, s) for s in range(3)])
    assert torch.allclose(from_model(to_model(k)), k)
    z = torch.randn(4, 1, 9, 9, generator=G(0), dtype=torch.float64)
    out = from_model(z)
    assert float(out.min()) >= 0 and torch.allclose(out.sum((-2, -1)), torch.ones(4, 1, dtype=torch.float64))
    assert torch.allclose(from_model(-2 * torch.ones(1, 1, 3, 3)), torch.full((1, 1, 3, 3), 1 / 9))


def test_from_model_and_kernel_denoiser_gradcheck():
    z = torch.randn(1, 1, 5, 5, generator=G(1), dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(from_model, (z,))
    net = KernelDenoiser(kernel_size=5, width=4).double()
    z5 = torch.randn(2, 1, 5, 5, generator=G(2), dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda v: net(v, 0.5), (z5,))


def test_load_kernel_denoiser_checks_the_hash(weights_copy):
    net = load_kernel_denoiser()
    assert isinstance(net, KernelDenoiser) and not net.training
    assert net(torch.zeros(2, 1, 9, 9), 0.5).shape == (2, 1, 9, 9)
    src = kernel_prior_mod.KERNEL_WEIGHTS_PATH
    load_kernel_denoiser(weights_copy(src))  # an exact copy loads
    copy = weights_copy(src, corrupt=True)
    with pytest.raises(ValueError, match="corrupted"):
        load_kernel_denoiser(copy)
    with pytest.raises(ValueError, match="corrupted"):
        load_kernel_denoiser(src, sha256="0" * 64)
    copy.with_suffix(".sha256").unlink()
    with pytest.raises(FileNotFoundError, match="sha256"):
        load_kernel_denoiser(copy)


def test_training_is_reproducible_bit_for_bit():
    from course_lib.train_kernel_prior import train

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        a, la = train(steps=3, batch=4, width=4, eval_every=3, progress=False)
        b, lb = train(steps=3, batch=4, width=4, eval_every=3, progress=False)
    finally:
        torch.set_num_threads(threads)
    assert all(torch.equal(p, q) for p, q in zip(a.state_dict().values(), b.state_dict().values()))
    assert la["heldout_mse"] == lb["heldout_mse"]


# ----------------------------------------------------------------------------- blind DPS
class _Zero(torch.nn.Module):
    """A denoiser that returns a constant image: enough to test the loop's plumbing."""

    def __init__(self, value):
        super().__init__()
        self.w = torch.nn.Parameter(torch.tensor(0.0))
        self.value = value

    def forward(self, x, sigma):
        return torch.full_like(x, self.value) + 0 * self.w + 0.1 * x


def test_blind_dps_shapes_simplex_and_determinism():
    y = torch.rand(3, 1, 16, 16, generator=G(0)) * 2 - 1
    run = lambda: blind_dps_sample(_Zero(0.0), _Zero(-0.5), y, 5, steps=8, zeta_image=0.5,  # noqa: E731
                                   zeta_kernel=0.5, generator=G(1), progress=False)
    (x1, k1), (x2, k2) = run(), run()
    assert x1.shape == y.shape and k1.shape == (3, 1, 5, 5)
    assert float(k1.min()) >= 0 and torch.allclose(k1.sum((-2, -1)), torch.ones(3, 1))
    assert torch.equal(x1, x2) and torch.equal(k1, k2)


@pytest.mark.parametrize("kwargs, name", [
    (dict(kernel_size=4), "kernel_size"), (dict(kernel_size=33), "kernel_size"),
    (dict(zeta_image=-1.0), "zeta_image"), (dict(zeta_kernel=float("nan")), "zeta_kernel"),
    (dict(steps=0), "steps")])
def test_blind_dps_rejects_bad_input(kwargs, name):
    args = dict(kernel_size=5, steps=4, zeta_image=1.0, zeta_kernel=1.0, progress=False)
    args.update(kwargs)
    with pytest.raises(ValueError, match=name):
        blind_dps_sample(_Zero(0.0), _Zero(0.0), torch.zeros(1, 1, 16, 16), **args)


# ----------------------------------------------------------------------------- docstrings
@pytest.mark.parametrize("module", [metrics_mod, nonblind_mod, trap_mod, edges_mod, kernel_prior_mod,
                                    blind_dps_mod, tv_blind_mod], ids=lambda m: m.__name__.split(".")[-1])
def test_docstring_examples_run(module):
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0


# ----------------------------------------------------------------------------- widget
def test_blind_widget_redraws_within_two_seconds():
    import time

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from course_lib.widgets.blind import draw_blind

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as LiveFigure draws
    try:
        plt.close(draw_blind())  # warm-up: loads the image
        t0 = time.perf_counter()
        fig = draw_blind(noise=0.02, kernel_size=11, lam=1e-2)
        seconds = time.perf_counter() - t0
    finally:
        torch.set_num_threads(threads)
    assert "window 11x11" in fig._suptitle.get_text()
    plt.close(fig)
    assert seconds < 2.0
