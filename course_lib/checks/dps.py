"""Self-checks for the exercises of chapter 3 (diffusion posterior sampling)."""

from __future__ import annotations

import torch

from ..diffusion import GaussianPriorDenoiser, ddim_step, dps_sample
from ..operators import Inpainting
from . import passed

__all__ = ["check_ddim_step", "check_gaussian_denoiser", "check_eta_effect", "check_zeta_retuning",
           "prior_variance_ratio", "best_zeta"]


def check_ddim_step(my_step) -> None:
    """Exercise 1: ``my_step(x_t, x0_hat, abar_t, abar_next, eta, noise)`` is one DDIM(eta) step."""
    g = torch.Generator().manual_seed(0)
    cases = ((0.02, 0.05, 0.0), (0.3, 0.6, 1.0), (0.5, 0.9, 0.5), (0.9, 1.0, 1.0))
    for a, a2, eta in cases:
        x_t, x0, z = (torch.randn(2, 1, 4, 4, generator=g, dtype=torch.float64) for _ in range(3))
        want = ddim_step(x_t, x0, a, a2, eta, z)
        got = torch.as_tensor(my_step(x_t, x0, a, a2, eta, z), dtype=torch.float64)
        if got.shape != want.shape:
            raise AssertionError(f"expected shape {tuple(want.shape)}, got {tuple(got.shape)}")
        err = float((got - want).norm() / want.norm())
        if err > 1e-8:
            hint = ("with eta = 0 there is no fresh noise: is the coefficient of eps_hat sqrt(1 - abar_next)?"
                    if eta == 0 else "is sigma_tilde = eta * sqrt((1-abar_next)/(1-abar_t)) * sqrt(1 - abar_t/abar_next), "
                    "and the coefficient of eps_hat sqrt(1 - abar_next - sigma_tilde^2)?")
            raise AssertionError(f"abar_t={a}, abar_next={a2}, eta={eta}: relative error {err:.3g} against "
                                 f"course_lib.diffusion.ddim_step; {hint}")
    passed(f"your DDIM step matches ddim_step on {len(cases)} cases (eta = 0, 0.5 and 1, including the last step)")


def check_gaussian_denoiser(my_denoiser, mean: torch.Tensor, cov: torch.Tensor) -> None:
    """Exercise 2: ``my_denoiser(x, sigma)`` is Tweedie's estimate for the prior N(mean, cov)."""
    ref = GaussianPriorDenoiser(mean, cov)
    g = torch.Generator().manual_seed(1)
    for sigma in (0.05, 1.0, 20.0):
        x = mean + sigma * torch.randn((3, *mean.shape), generator=g, dtype=mean.dtype)
        want, got = ref(x, sigma), torch.as_tensor(my_denoiser(x, sigma), dtype=mean.dtype)
        if got.shape != want.shape:
            raise AssertionError(f"expected shape {tuple(want.shape)}, got {tuple(got.shape)}")
        err = float((got - want).norm() / want.norm())
        if err > 1e-5:
            raise AssertionError(f"sigma = {sigma}: relative error {err:.3g} against GaussianPriorDenoiser; the "
                                 "formula is mean + Sigma (Sigma + sigma^2 I)^{-1} (x - mean), on flattened images")
    passed("your denoiser is the exact MMSE denoiser of the Gaussian prior at sigma = 0.05, 1 and 20")


def prior_variance_ratio(mean: torch.Tensor, cov: torch.Tensor, eta: float, steps: int = 20,
                         n: int = 2000, seed: int = 0) -> float:
    """trace(empirical covariance of n prior samples) / trace(cov), sampling with zeta = 0."""
    D = GaussianPriorDenoiser(mean, cov)
    nothing = Inpainting(torch.zeros((1, *mean.shape), dtype=mean.dtype))  # zeta = 0 never uses it
    xs = dps_sample(D, nothing, torch.zeros((1, *mean.shape), dtype=mean.dtype), steps=steps, zeta=0.0, eta=eta,
                    x_shape=(n, *mean.shape), generator=torch.Generator().manual_seed(seed), progress=False)
    return float(torch.cov(xs.flatten(1).T).trace() / cov.trace())


def check_eta_effect(ratio_eta0: float, ratio_eta1: float, mean: torch.Tensor, cov: torch.Tensor,
                     steps: int = 20) -> None:
    """Exercise 3: the variance ratios of 20-step prior samples for eta = 0 and eta = 1."""
    want0, want1 = (prior_variance_ratio(mean, cov, eta, steps) for eta in (0.0, 1.0))
    for name, got, want in (("eta = 0", ratio_eta0, want0), ("eta = 1", ratio_eta1, want1)):
        if abs(got - want) > 0.03:
            raise AssertionError(f"{name}: expected a variance ratio of about {want:.3f} (2000 samples, {steps} "
                                 f"steps, seed 0), got {got:.3f}; use prior_variance_ratio or trace(cov of samples) / trace(cov)")
    passed(f"with {steps} steps DDIM keeps {want0:.0%} (eta = 0) and DDPM-like sampling {want1:.0%} (eta = 1) "
           "of the prior's variance: too few steps shrink the samples towards the mean")


def best_zeta(obs, mean: torch.Tensor, cov: torch.Tensor, post_mean: torch.Tensor, steps: int,
              zetas: tuple[float, ...], n: int = 400, seed: int = 0) -> tuple[float, list[float]]:
    """The zeta of ``zetas`` whose DPS sample mean is closest to ``post_mean``, and all relative errors."""
    D = GaussianPriorDenoiser(mean, cov)
    errs = []
    for z in zetas:
        xs = dps_sample(D, None, obs, steps=steps, zeta=z, x_shape=(n, *mean.shape),
                        generator=torch.Generator().manual_seed(seed), progress=False)
        errs.append(float((xs.mean(0) - post_mean).norm() / (mean - post_mean).norm()))
    return zetas[min(range(len(zetas)), key=errs.__getitem__)], errs


def check_zeta_retuning(zeta_50: float, zeta_200: float, obs, mean: torch.Tensor, cov: torch.Tensor,
                        post_mean: torch.Tensor, zetas: tuple[float, ...]) -> None:
    """Exercise 4: the best zeta of ``zetas`` for 50 and for 200 steps on the Gaussian inpainting problem."""
    want50, _ = best_zeta(obs, mean, cov, post_mean, 50, zetas)
    want200, _ = best_zeta(obs, mean, cov, post_mean, 200, zetas)
    for steps, got, want in ((50, zeta_50, want50), (200, zeta_200, want200)):
        i, j = zetas.index(want), min(range(len(zetas)), key=lambda k: abs(zetas[k] - got))
        if abs(i - j) > 1:  # one grid point either side: the error curve is flat near its minimum
            raise AssertionError(f"{steps} steps: expected zeta near {want} (grid {zetas}), got {got}; "
                                 "use best_zeta(obs, mean, cov, post_mean, steps, zetas)")
    ratio = want50 / want200
    passed(f"best zeta {want50} at 50 steps and {want200} at 200 steps (ratio {ratio:.1f}, vs 4x more steps): "
           "the total pull, zeta x steps, is what stays roughly fixed")
