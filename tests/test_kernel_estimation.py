"""Tests for course_lib.kernel_estimation (chapter 1): the loss, its Lipschitz constant, the solvers."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from course_lib.convolution import convolve2d
from course_lib.kernel_estimation import (KernelLeastSquares, adam_projected, constant_init, kernel_loss,
                                          lipschitz_constant, pgd, relative_error)
from course_lib.projections import project_simplex


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _problem(seed: int = 0, size: int = 32, ksize: int = 5, noise: float = 0.01):
    x = torch.rand(1, 3, size, size, generator=_gen(seed), dtype=torch.float64)
    k = project_simplex(torch.rand(1, 1, ksize, ksize, generator=_gen(seed + 1), dtype=torch.float64) ** 4,
                        dim=(-2, -1))
    y = convolve2d(x, k)
    y = y + noise * torch.randn(y.shape, generator=_gen(seed + 2), dtype=torch.float64)
    return x, y, k


def _dense_X(x: torch.Tensor, ksize: int) -> torch.Tensor:
    n = ksize * ksize
    cols = [convolve2d(x, torch.eye(n, dtype=x.dtype)[i].reshape(1, 1, ksize, ksize)).reshape(-1) for i in range(n)]
    return torch.stack(cols, dim=1)  # (N, n)


def test_kernel_loss_is_half_the_mean_square():
    """The original example's objective: deepinv's L2() = 0.5 ||.||^2, divided by y.numel()."""
    x, y, k = _problem()
    r = convolve2d(x, k) - y
    assert float(kernel_loss(k, x, y)) == pytest.approx(0.5 * float(r.square().mean()), rel=1e-12)


def test_kernel_loss_gradient_is_the_correlation():
    x, y, k = _problem()
    kk = k.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(kernel_loss(kk, x, y), kk)
    X = _dense_X(x, 5)
    want = (X.T @ (X @ k.reshape(-1) - y.reshape(-1)) / y.numel()).reshape(k.shape)
    torch.testing.assert_close(grad, want, rtol=1e-10, atol=1e-14)


def test_gradcheck_kernel_loss():
    x, y, k = _problem(size=10, ksize=3)
    assert torch.autograd.gradcheck(lambda kk: kernel_loss(kk, x, y), (k.clone().requires_grad_(True),))


@pytest.mark.parametrize("zero_sum", [True, False])
def test_lipschitz_constant_matches_the_dense_hessian(zero_sum):
    """L = lambda_max(P X^T X P) / N, from the dense matrix of k -> k * x."""
    x, y, _ = _problem()
    X = _dense_X(x, 5)
    H = X.T @ X / y.numel()  # Hessian of the loss
    if zero_sum:
        P = torch.eye(25, dtype=torch.float64) - 1.0 / 25
        H = P @ H @ P
    want = float(torch.linalg.eigvalsh(H)[-1])
    got = lipschitz_constant(x, (1, 1, 5, 5), n_iter=300, zero_sum=zero_sum)
    # a random image has nearly equal top eigenvalues: power iteration converges slowly from below
    assert want * (1 - 1e-3) <= got <= want * (1 + 1e-12)


def test_brightness_direction_dominates_the_curvature():
    """Excluding the all-ones direction (the projection removes it) lowers L by a large factor."""
    x, _, _ = _problem()
    assert lipschitz_constant(x, (1, 1, 5, 5), zero_sum=False) > 5 * lipschitz_constant(x, (1, 1, 5, 5))


def test_pgd_sufficient_decrease_for_every_step_below_2_over_L():
    """f(k+) <= f(k) - (1/tau - L/2) ||k+ - k||^2 at every iteration, for tau in (0, 2/L)."""
    x, y, k_true = _problem()
    L = lipschitz_constant(x, (1, 1, 5, 5), n_iter=300)
    for tau in (0.5 / L, 1.0 / L, 1.9 / L):
        kernels = []
        _, losses = pgd(x, y, constant_init(k_true, 1), step_size=tau, n_iter=60, progress=False,
                        callback=lambda i, k: kernels.append(k.clone()))
        start = [constant_init(k_true, 1)] + kernels[:-1]
        for t in range(len(losses) - 1):
            step = float((kernels[t] - start[t]).square().sum())
            assert losses[t + 1] <= losses[t] - (1 / tau - L / 2) * step + 1e-15, (tau, t)


def test_pgd_default_step_is_one_over_L_and_converges():
    x, y, k_true = _problem(noise=0.0)
    L = lipschitz_constant(x, (1, 1, 5, 5))
    k_default, loss_default = pgd(x, y, constant_init(k_true, 1), n_iter=50, progress=False)
    k_explicit, _ = pgd(x, y, constant_init(k_true, 1), step_size=1 / L, n_iter=50, progress=False)
    torch.testing.assert_close(k_default, k_explicit, rtol=0, atol=0)
    assert all(b <= a + 1e-20 for a, b in zip(loss_default, loss_default[1:]))  # to rounding near 0
    k_long, _ = pgd(x, y, constant_init(k_true, 1), n_iter=2000, progress=False)
    assert relative_error(k_long, k_true) < 0.05


def test_pgd_with_too_large_a_step_is_not_monotone():
    """The guarantee is sharp enough to matter: far beyond 2/L the misfit oscillates."""
    x, y, k_true = _problem()
    L = lipschitz_constant(x, (1, 1, 5, 5))
    _, losses = pgd(x, y, constant_init(k_true, 1), step_size=20 / L, n_iter=50, progress=False)
    assert any(b > a for a, b in zip(losses, losses[1:]))


def test_pgd_is_sgd_plus_projection_by_hand():
    x, y, k_true = _problem()
    k = constant_init(k_true, 1)
    for _ in range(5):
        kk = k.clone().requires_grad_(True)
        (g,) = torch.autograd.grad(kernel_loss(kk, x, y), kk)
        k = project_simplex(k - 0.3 * g, dim=(-2, -1))
    k_pgd, _ = pgd(x, y, constant_init(k_true, 1), step_size=0.3, n_iter=5, progress=False)
    torch.testing.assert_close(k_pgd, k, rtol=1e-12, atol=1e-15)


def test_adam_projected_stays_on_the_simplex_and_fits():
    x, y, k_true = _problem(noise=0.0)
    seen = []
    k_hat, losses = adam_projected(x, y, constant_init(k_true, 1), lr=0.02, n_iter=300, progress=False,
                                   callback=lambda i, k: seen.append(float(k.sum())))
    assert k_hat.min() >= 0 and float(k_hat.sum()) == pytest.approx(1.0)
    assert all(math.isclose(s, 1.0, rel_tol=1e-9) for s in seen)
    assert losses[-1] < 0.01 * losses[0]


def test_constant_init_and_relative_error():
    like = torch.zeros(1, 1, 25, 25)
    k0 = constant_init(like, margin=5)
    assert float(k0.sum()) == pytest.approx(1.0, abs=1e-5) and int((k0 > 0).sum()) == 15 * 15
    assert relative_error(k0, k0) == 0.0
    assert relative_error(torch.zeros_like(k0), k0) == pytest.approx(1.0)


@pytest.mark.parametrize(
    "call,match",
    [
        (lambda x, y, k: pgd(x, y, k, step_size=0.0, n_iter=1, progress=False), "step_size"),
        (lambda x, y, k: pgd(x, y, k, step_size="0.7", n_iter=1, progress=False), "step_size"),
        (lambda x, y, k: pgd(x, y, k, step_size=0.1, n_iter=0, progress=False), "n_iter"),
        (lambda x, y, k: adam_projected(x, y, k, lr=-1.0, n_iter=1, progress=False), "lr"),
        (lambda x, y, k: kernel_loss(k, x, y[..., :-1]), "y has shape"),
        (lambda x, y, k: constant_init(k, margin=3), "margin"),
        (lambda x, y, k: relative_error(k, k[..., :-1]), "shape"),
    ],
)
def test_bad_input_names_the_argument(call, match):
    x, y, k = _problem()
    with pytest.raises(ValueError, match=match):
        call(x, y, k)


# --- KernelLeastSquares: the normal equations and the certified optimum -------------------------

def _small_problem(noise=0.05, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(1, 2, 24, 27, dtype=torch.float64, generator=g)
    k = torch.rand(1, 1, 5, 4, dtype=torch.float64, generator=g) ** 4
    k = k / k.sum()
    y = convolve2d(x, k) + noise * torch.randn(1, 2, 20, 24, dtype=torch.float64, generator=g)
    return x, y, k


def test_patch_gram_equals_the_unfolded_patches():
    import torch.nn.functional as F

    from course_lib.kernel_estimation import _patch_gram
    x = torch.rand(3, 21, 26, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    for h, w in [(1, 1), (3, 5), (6, 4), (21, 1)]:
        P = F.unfold(x[:, None], (h, w))                        # (C, hw, positions)
        ref = torch.einsum("cip,cjp->ij", P, P)                 # the brute-force Gram matrix
        torch.testing.assert_close(_patch_gram(x, h, w), ref, rtol=1e-12, atol=0)


def test_least_squares_loss_and_gradient_equal_kernel_loss():
    x, y, k = _small_problem()
    ls = KernelLeastSquares(x, y, k.shape)
    for kk in (k, torch.rand(k.shape, dtype=torch.float64)):
        kk = kk.clone().requires_grad_(True)
        ref = kernel_loss(kk, x, y)
        (g_ref,) = torch.autograd.grad(ref, kk)
        torch.testing.assert_close(ls.loss(kk), ref, rtol=1e-10, atol=0)
        torch.testing.assert_close(ls.gradient(kk.detach()), g_ref, rtol=1e-9, atol=1e-15)


def test_solve_matches_an_independent_solver_and_certifies_itself():
    from scipy.optimize import minimize
    x, y, k = _small_problem(noise=0.2, seed=3)   # noisy enough that entries sit at zero
    ls = KernelLeastSquares(x, y, k.shape)
    k_hat = ls.solve()
    assert ls.gap(k_hat) <= 1e-9 * float(ls.loss(k_hat))
    assert (k_hat >= 0).all() and abs(float(k_hat.sum()) - 1) < 1e-12
    assert (k_hat == 0).sum() >= 3, "the test should exercise active constraints"
    G, b = ls.G.numpy(), ls.b.numpy()
    res = minimize(lambda v: 0.5 * v @ G @ v - b @ v, np.full(k.numel(), 1 / k.numel()),
                   jac=lambda v: G @ v - b, method="SLSQP", bounds=[(0, None)] * k.numel(),
                   constraints=[{"type": "eq", "fun": lambda v: v.sum() - 1}],
                   options={"ftol": 1e-15, "maxiter": 1000})
    assert res.success
    np.testing.assert_allclose(k_hat.flatten().numpy(), res.x, atol=1e-6)
    # an optimiser's worse kernel has a larger gap: the certificate is not always small
    k_pgd, _ = pgd(x, y, constant_init(k, margin=1), n_iter=3, progress=False)
    assert ls.gap(k_pgd) > 1e-4 * float(ls.loss(k_pgd))


def test_objective_runs_the_same_optimiser():
    x, y, k = _small_problem()
    ls = KernelLeastSquares(x, y, k.shape)
    k0 = constant_init(k, margin=1)
    fft, losses_fft = adam_projected(x, y, k0, lr=0.01, n_iter=20, progress=False)
    gram, losses_gram = adam_projected(x, y, k0, lr=0.01, n_iter=20, progress=False, objective=ls.loss)
    torch.testing.assert_close(torch.tensor(losses_gram), torch.tensor(losses_fft), rtol=1e-8, atol=0)
    torch.testing.assert_close(gram, fft, rtol=0, atol=1e-10)
    other = ls.with_data(y + 0.1)
    assert torch.equal(other.G, ls.G) and not torch.equal(other.b, ls.b)
    torch.testing.assert_close(other.loss(k), kernel_loss(k, x, y + 0.1), rtol=1e-10, atol=0)


def test_least_squares_bad_input():
    x, y, k = _small_problem()
    with pytest.raises(ValueError, match="kernel_shape"):
        KernelLeastSquares(x, y, (1, 2, 5, 4))
    with pytest.raises(ValueError, match="y has shape"):
        KernelLeastSquares(x, y[..., 1:], k.shape)
    ls = KernelLeastSquares(x, y, k.shape)
    with pytest.raises(ValueError, match="kernel must have shape"):
        ls.loss(torch.ones(1, 1, 4, 4))
    with pytest.raises(ValueError, match="shape of the data"):
        ls.with_data(y[..., 1:])
    with pytest.raises(ValueError, match="tol"):
        ls.solve(tol=0)
    with pytest.raises(TypeError, match="objective"):
        pgd(x, y, k, n_iter=2, progress=False, objective="L2")
