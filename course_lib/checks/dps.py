r"""Self-checks for the exercises of chapter 3 (diffusion posterior sampling).

Each reference answer is computed here by another route than the chapter's library:

* the DDIM step: the coefficient form :math:`a_t x_t + b_t \hat x_0 + \tilde\sigma_t z` of the original
  deepinv example ("Implementing DPS"), not ``ddim_step``;
* the Gaussian denoiser: Tweedie's formula :math:`x + \sigma^2\nabla\log p_\sigma(x)` by autograd of the
  noisy density :math:`\mathcal N(\mu, \Sigma + \sigma^2 I)`, not ``GaussianPriorDenoiser``;
* the variance a sampler keeps: the exact covariance of the linear DDIM recursion in the prior's
  eigenbasis, no sampling;
* the best :math:`\zeta`: DPS in matrix form with the hand-derived gradient
  :math:`-J A^\top r/\|r\|`, on the same random draws as the learner's run;
* DiffPIR's :math:`\zeta`: DiffPIR in matrix form, the data step solved with a dense matrix inverse
  instead of the per-pixel closed form, on the same random draws as ``diffpir_sample``.
"""

from __future__ import annotations

import math

import torch

from . import answer, attempt, passed, self_check

__all__ = ["check_ddim_step", "check_gaussian_denoiser", "check_variance_kept", "check_zeta_retuning",
           "check_diffpir_tradeoff", "ZETA_GRID", "ZETA_PIR_GRID"]

ZETA_GRID = (0.03, 0.1, 0.3, 1.0, 3.0)
ZETA_PIR_GRID = (0.0, 0.3, 0.6, 1.0)


def _abar() -> list[float]:
    """The linear DDPM schedule's cumulative products, written out again (1e-4 to 2e-2, 1000 steps)."""
    out, prod = [], 1.0
    for k in range(1000):
        prod *= 1.0 - (1e-4 + (2e-2 - 1e-4) * k / 999)
        out.append(prod)
    return out


def _ts(steps: int) -> list[int]:
    return list(range(0, 1000, 1000 // steps))[::-1]


def _levels(steps: int):
    """``(abar_t, abar_next)`` along the reverse process; the last step lands on ``abar = 1``."""
    abar, ts = _abar(), _ts(steps)
    for i, t in enumerate(ts):
        yield abar[t], (abar[ts[i + 1]] if i + 1 < len(ts) else 1.0)


def _seed_step(x_t, x0, a, a2, eta, z):
    """The original example's update: x' = a_t x_t + b_t x0 + sigma_t z."""
    if a2 == 1.0:
        return x0.clone()
    sig = eta * math.sqrt((1 - a / a2) * (1 - a2) / (1 - a))
    c2 = math.sqrt(max(1 - a2 - sig**2, 0.0))
    return c2 / math.sqrt(1 - a) * x_t + (math.sqrt(a2) - c2 * math.sqrt(a) / math.sqrt(1 - a)) * x0 + sig * z


@self_check(hint="start from eps_hat = (x_t - sqrt(abar_t) x0_hat) / sqrt(1 - abar_t), the noise the "
                 "denoiser implies, then follow the formula of 'The full sampler'")
def check_ddim_step(my_ddim_step) -> None:
    """Exercise 1: ``my_ddim_step(x_t, x0_hat, abar_t, abar_next, eta, noise)`` is one DDIM(eta) step."""
    g = torch.Generator().manual_seed(0)
    cases = ((0.02, 0.05, 0.0), (0.3, 0.6, 1.0), (0.5, 0.9, 0.5), (0.9, 1.0, 1.0))
    for a, a2, eta in cases:
        x_t, x0, z = (torch.randn(2, 1, 4, 4, generator=g, dtype=torch.float64) for _ in range(3))
        want = _seed_step(x_t, x0, a, a2, eta, z)
        got = attempt(my_ddim_step, x_t.clone(), x0.clone(), a, a2, eta, z.clone())
        got = torch.as_tensor(got, dtype=torch.float64)
        if got.shape != want.shape:
            raise AssertionError(f"expected an output of shape {tuple(want.shape)}, got {tuple(got.shape)}")
        err = float((got - want).norm() / want.norm())
        if err > 1e-8:
            if a2 == 1.0:
                hint = "at the last step (abar_next = 1) sigma_tilde = 0 and the step must return x0_hat itself"
            elif eta == 0:
                hint = "with eta = 0 there is no fresh noise and eps_hat's coefficient is sqrt(1 - abar_next)"
            else:
                hint = ("sigma_tilde = eta sqrt((1 - abar_next)/(1 - abar_t)) sqrt(1 - abar_t/abar_next), and eps_hat's "
                        "coefficient is sqrt(1 - abar_next - sigma_tilde^2); add sigma_tilde * noise")
            raise AssertionError(f"abar_t={a}, abar_next={a2}, eta={eta}: relative error {err:.3g} against the "
                                 f"original example's coefficients; hint: {hint}")
    passed(f"your DDIM step matches the original example's update on {len(cases)} cases "
           "(eta = 0, 0.5 and 1, and the last step)")


@self_check(hint="flatten the images to vectors: D(x) = mu + Sigma (Sigma + sigma^2 I)^{-1} (x - mu)")
def check_gaussian_denoiser(my_gaussian_denoiser, mean: torch.Tensor, cov: torch.Tensor) -> None:
    """Exercise 2: ``my_gaussian_denoiser(x, sigma)`` is Tweedie's estimate for the prior N(mean, cov)."""
    d = mean.numel()
    mu, sig = mean.to(torch.float64).flatten(), cov.to(torch.float64)
    g = torch.Generator().manual_seed(1)
    for sigma in (0.05, 1.0, 20.0):
        x = mean.to(torch.float64) + sigma * torch.randn((3, *mean.shape), generator=g, dtype=torch.float64)
        xf = x.flatten(1).clone().requires_grad_(True)
        noisy = torch.distributions.MultivariateNormal(mu, sig + sigma**2 * torch.eye(d, dtype=torch.float64))
        (score,) = torch.autograd.grad(noisy.log_prob(xf).sum(), xf)  # grad log p_sigma(x), (3, d)
        want = (xf + sigma**2 * score).detach().reshape(x.shape)   # Tweedie's formula
        got = torch.as_tensor(attempt(my_gaussian_denoiser, x.clone(), sigma), dtype=torch.float64)
        if got.shape != want.shape:
            raise AssertionError(f"expected an output of shape {tuple(want.shape)} (the input's), got {tuple(got.shape)}")
        err = float((got - want).norm() / want.norm())
        if err > 1e-6:
            raise AssertionError(f"sigma = {sigma}: relative error {err:.3g} against Tweedie's formula "
                                 "x + sigma^2 grad log N(x; mu, Sigma + sigma^2 I); is the noise variance sigma^2 "
                                 "(not sigma), and do you add mu back?")
    passed("your denoiser equals Tweedie's formula for the Gaussian prior at sigma = 0.05, 1 and 20")


def _variance_kept_exact(cov: torch.Tensor, eta: float, steps: int) -> float:
    """trace Cov[x_final] / trace(cov) for DDIM(eta) on N(mu, cov), from x_T ~ N(0, I), without sampling.

    In the eigenbasis of cov every coordinate is independent: x_hat0 = mu + w (x_t/sqrt(abar) - mu) with
    w = lam/(lam + sigma_t^2), so a step maps a variance v to (c_x + c_0 w/sqrt(abar))^2 v + sigma_tilde^2.
    """
    lam = torch.linalg.eigvalsh(cov.to(torch.float64)).clamp_min(0.0)
    v = torch.ones_like(lam)
    for a, a2 in _levels(steps):
        w = lam / (lam + (1 - a) / a)
        if a2 == 1.0:
            v = (w / math.sqrt(a)) ** 2 * v
            continue
        sig = eta * math.sqrt((1 - a / a2) * (1 - a2) / (1 - a))
        c2 = math.sqrt(max(1 - a2 - sig**2, 0.0))
        c_x, c_0 = c2 / math.sqrt(1 - a), math.sqrt(a2) - c2 * math.sqrt(a) / math.sqrt(1 - a)
        v = (c_x + c_0 * w / math.sqrt(a)) ** 2 * v + sig**2
    return float(v.sum() / lam.sum())


@self_check(hint="sample the prior with dps_sample(D8, None, None, zeta=0.0, ...), then divide the "
                 "trace of the samples' covariance by trace(cov8)")
def check_variance_kept(my_variance_kept, cov: torch.Tensor, steps: int = 20) -> None:
    """Exercise 3: ``my_variance_kept(eta)`` is the fraction of the prior's variance a 20-step sampler keeps."""
    want = {eta: _variance_kept_exact(cov, eta, steps) for eta in (0.0, 1.0)}
    for eta in (0.0, 1.0):
        got = float(attempt(my_variance_kept, eta))
        if abs(got - want[eta]) > 0.04:  # Monte-Carlo error of 2000 samples: about 0.01
            raise AssertionError(f"eta = {eta}: expected a fraction of about {want[eta]:.3f} ({steps} steps, exact "
                                 f"covariance of the DDIM recursion), got {got:.3f}. Use the trace of the sample "
                                 "covariance (variances, not standard deviations) over trace(cov8), and sample with "
                                 "zeta = 0")
    passed(f"with {steps} steps the deterministic sampler keeps {want[0.0]:.0%} and the ancestral one "
           f"{want[1.0]:.0%} of the prior's variance (exact values of the DDIM recursion)")


def _normal(gen: torch.Generator, shape: tuple[int, ...]) -> torch.Tensor:
    """``(n, d)`` float64 noise drawn in float32 and cast, as the samplers draw theirs."""
    return torch.randn(shape, generator=gen).double().flatten(1)


def _matrix_problem(obs, mean: torch.Tensor, cov: torch.Tensor, n: int, seed: int) -> tuple:
    """``(mu, Sigma, A, y, generator, shape, x_T)`` in float64 for the matrix-form samplers below."""
    d = mean.numel()
    mu, sig = mean.to(torch.float64).flatten(), cov.to(torch.float64)
    basis = torch.eye(d, dtype=torch.float64).reshape(d, *mean.shape)
    with torch.no_grad():
        a_mat = obs.operator(basis).reshape(d, -1).T  # (m, d)
    y = obs.y.to(torch.float64).flatten()
    gen = torch.Generator().manual_seed(seed)
    shape = (n, *mean.shape)
    x = _normal(gen, shape)  # (n, d)
    return mu, sig, a_mat, y, gen, shape, x


def _tweedie_matrix(x: torch.Tensor, mu: torch.Tensor, sig: torch.Tensor, a: float) -> tuple:
    """``(x0_hat, W^T)``: Tweedie's estimate for N(mu, Sigma), with ``W^T = (Sigma + s^2 I)^{-1} Sigma``."""
    w = torch.linalg.solve(sig + (1 - a) / a * torch.eye(len(mu), dtype=torch.float64), sig)
    return mu + (x / math.sqrt(a) - mu) @ w, w  # (n, d), (d, d)


def _dps_matrix(obs, mean: torch.Tensor, cov: torch.Tensor, steps: int, zeta: float, n: int, seed: int) -> torch.Tensor:
    """DPS (eta = 1) for the Gaussian prior with explicit matrices; the same random draws as ``dps_sample``."""
    mu, sig, a_mat, y, gen, shape, x = _matrix_problem(obs, mean, cov, n, seed)
    for a, a2 in _levels(steps):
        x0, w = _tweedie_matrix(x, mu, sig, a)
        r = y - x0 @ a_mat.T  # (n, m)
        grad = -(r @ a_mat) @ w.T / math.sqrt(a) / r.norm(dim=1, keepdim=True).clamp_min(1e-10)  # d||r||/dx_t
        z = _normal(gen, shape)
        x = _seed_step(x, x0, a, a2, 1.0, z) - zeta * grad
    return x


def _best_zeta(obs, mean, cov, post_mean, steps: int, n: int = 400, seed: int = 0) -> tuple[float, list[float]]:
    scale = float((mean - post_mean).norm())
    errs = [float((_dps_matrix(obs, mean, cov, steps, z, n, seed).mean(0) - post_mean.flatten()).norm()) / scale
            for z in ZETA_GRID]
    return ZETA_GRID[min(range(len(errs)), key=errs.__getitem__)], errs


@self_check(hint="for each zeta of the grid, draw 400 DPS samples (seed 0) and compare their mean "
                 "with post_mean8, relative to the norm of mean8 - post_mean8")
def check_zeta_retuning(my_zeta_50, my_zeta_200, obs, mean: torch.Tensor, cov: torch.Tensor,
                        post_mean: torch.Tensor) -> None:
    """Exercise 4: the best zeta of ``ZETA_GRID`` for 50 and for 200 steps on the Gaussian inpainting problem."""
    got = {50: answer(my_zeta_50), 200: answer(my_zeta_200)}
    for steps in (50, 200):
        want, errs = _best_zeta(obs, mean, cov, post_mean, steps)
        if not isinstance(got[steps], (int, float)) or abs(float(got[steps]) - want) > 1e-9 * want:
            table = ", ".join(f"{z:g}: {e:.2f}" for z, e in zip(ZETA_GRID, errs))
            raise AssertionError(f"{steps} steps: expected the grid value {want:g}, got {got[steps]!r}. "
                                 f"Relative errors of the sample mean per zeta (seed 0, 400 samples): {table}")
    passed(f"the best zeta falls from {got[50]:g} at 50 steps to {got[200]:g} at 200 steps: "
           "with 4x more guided steps each step must pull less")


def _diffpir_matrix(obs, mean: torch.Tensor, cov: torch.Tensor, steps: int, lam: float, zeta: float, n: int,
                    seed: int) -> torch.Tensor:
    """DiffPIR for the Gaussian prior with explicit matrices; the same random draws as ``diffpir_sample``."""
    mu, sig, a_mat, y, gen, shape, x = _matrix_problem(obs, mean, cov, n, seed)
    eye = torch.eye(len(mu), dtype=torch.float64)
    for a, a2 in _levels(steps):
        x0, _ = _tweedie_matrix(x, mu, sig, a)
        rho = lam * obs.sigma_y**2 * a / (1 - a)
        x0 = (a_mat.T @ y + rho * x0) @ torch.linalg.inv(a_mat.T @ a_mat + rho * eye)  # symmetric inverse
        eps = (x - math.sqrt(a) * x0) / math.sqrt(1 - a)
        noise = math.sqrt(zeta * (1 - a2))
        x = math.sqrt(a2) * x0 + math.sqrt(max(1 - a2 - noise**2, 0.0)) * eps
        if noise > 0:
            x = x + noise * _normal(gen, shape)
    return x


@self_check(hint="for each zeta of ZETA_PIR_GRID, draw 400 samples with diffpir_sample(D8, None, obs8, 200, "
                 "lam=1.0, zeta=..., generator=torch.Generator().manual_seed(0)); compute the relative error "
                 "of their mean and the std ratio as posterior_errors does")
def check_diffpir_tradeoff(my_zeta_mean, my_zeta_spread, obs, mean: torch.Tensor, cov: torch.Tensor,
                           post_mean: torch.Tensor, post_cov: torch.Tensor) -> None:
    """Exercise 5: DiffPIR's zeta with the best mean, and the one with the spread closest to the posterior's."""
    got_mean, got_spread = answer(my_zeta_mean), answer(my_zeta_spread)
    scale = float((mean - post_mean).norm())
    post_sd = post_cov.to(torch.float64).diagonal().sqrt().norm()
    errs, ratios = [], []
    for z in ZETA_PIR_GRID:
        xs = _diffpir_matrix(obs, mean, cov, 200, 1.0, z, 400, 0)
        errs.append(float((xs.mean(0) - post_mean.to(torch.float64).flatten()).norm()) / scale)
        ratios.append(float(xs.std(0).norm() / post_sd))
    want_mean = ZETA_PIR_GRID[min(range(len(errs)), key=errs.__getitem__)]
    want_spread = ZETA_PIR_GRID[min(range(len(ratios)), key=lambda k: abs(ratios[k] - 1))]
    table = ", ".join(f"zeta {z:g}: error {e:.3f}, std ratio {r:.2f}" for z, e, r in zip(ZETA_PIR_GRID, errs, ratios))
    for name, got, want in (("my_zeta_mean", got_mean, want_mean), ("my_zeta_spread", got_spread, want_spread)):
        if not isinstance(got, (int, float)) or isinstance(got, bool) or abs(float(got) - want) > 1e-9:
            raise AssertionError(f"{name}: expected the grid value {want:g}, got {got!r}. "
                                 f"With 200 steps, lam = 1, 400 samples (seed 0): {table}")
    passed(f"the mean is best at zeta = {want_mean:g} and the spread at zeta = {want_spread:g}: fresh noise "
           "trades one against the other, and no zeta gets both")
