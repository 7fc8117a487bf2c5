r"""A Gaussian image prior: its exact denoiser and the exact posterior of a linear inverse problem.

For a prior :math:`x_0 \sim \mathcal N(\mu, \Sigma)` everything a diffusion sampler approximates
is available in closed form, which makes it the test bench for DPS.

**Denoiser** (Tweedie's MMSE estimate). With :math:`x = x_0 + \sigma n`,

.. math::

    D(x, \sigma) = \mathbb E[x_0 \mid x] = \mu + \Sigma(\Sigma + \sigma^2 I)^{-1}(x - \mu)
                 = \mu + U\,\mathrm{diag}\!\Big(\frac{\lambda_i}{\lambda_i + \sigma^2}\Big) U^\top (x - \mu),

with :math:`\Sigma = U \mathrm{diag}(\lambda) U^\top`: each principal component is shrunk
towards the mean by a Wiener factor.

**Posterior.** With :math:`y = A x_0 + \sigma_y n` the posterior is Gaussian,

.. math::

    K = \Sigma A^\top (A \Sigma A^\top + \sigma_y^2 I)^{-1},\qquad
    \mathbb E[x_0 \mid y] = \mu + K (y - A\mu),\qquad
    \mathrm{Cov}[x_0 \mid y] = \Sigma - K A \Sigma,

the "gain" form of the Kalman update, which needs no inverse of a (possibly singular) :math:`\Sigma`.

**Likelihood of a noisy state.** Given :math:`x = x_0 + \sigma n`, :math:`x_0` is Gaussian with mean
:math:`D(x, \sigma)` and covariance :math:`C_\sigma = \Sigma - \Sigma(\Sigma + \sigma^2 I)^{-1}\Sigma`
(independent of :math:`x`), so :math:`p(y \mid x) = \mathcal N\big(A D(x, \sigma),\ \sigma_y^2 I + A C_\sigma A^\top\big)`
exactly (:func:`gaussian_log_likelihood`); DPS keeps only :math:`\sigma_y^2 I`.

Example
-------
>>> import torch
>>> from course_lib.operators import Inpainting
>>> g = torch.Generator().manual_seed(0)
>>> images = torch.randn(50, 1, 2, 2, generator=g, dtype=torch.float64)
>>> mean, cov = fit_gaussian(images)                       # (1, 2, 2), (4, 4)
>>> D = GaussianPriorDenoiser(mean, cov)
>>> D(images[:3], 0.3).shape                               # (B, C, H, W)
torch.Size([3, 1, 2, 2])
>>> A = Inpainting(torch.tensor([[[[1.0, 0.0], [0.0, 1.0]]]], dtype=torch.float64))
>>> y = A(images[:1])
>>> post_mean, post_cov = gaussian_posterior(mean, cov, A, y, sigma_y=0.1)
>>> log_lik = gaussian_log_likelihood(D, A, y, sigma_y=0.1)  # exact log p(y | x_t)
>>> log_lik(images[:3], 0.5).shape
torch.Size([3])
"""

from __future__ import annotations

import math
from typing import Callable

import torch

__all__ = ["fit_gaussian", "GaussianPriorDenoiser", "operator_matrix", "gaussian_posterior", "gaussian_log_likelihood",
           "sample_gaussian"]


def _check_mean_cov(mean: torch.Tensor, cov: torch.Tensor) -> int:
    if not isinstance(mean, torch.Tensor) or mean.dim() != 3:
        raise ValueError(f"mean must be a (C, H, W) tensor, got {getattr(mean, 'shape', type(mean).__name__)}")
    d = mean.numel()
    if not isinstance(cov, torch.Tensor) or cov.shape != (d, d):
        raise ValueError(f"cov must be a ({d}, {d}) tensor (d = C*H*W of mean), got {getattr(cov, 'shape', type(cov).__name__)}")
    if not (torch.isfinite(mean).all() and torch.isfinite(cov).all()):
        raise ValueError("mean and cov must be finite")
    if not torch.allclose(cov, cov.T, atol=1e-6 * float(cov.abs().max().clamp_min(1e-30))):
        raise ValueError("cov must be symmetric")
    return d


def _sigma_batch(sigma: torch.Tensor | float, batch: int, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    s = torch.as_tensor(sigma, dtype=dtype, device=device)
    if s.dim() == 0:
        s = s.expand(batch)
    if s.shape != (batch,):
        raise ValueError(f"sigma must be a number, a 0-dim tensor or of shape ({batch},), got {tuple(s.shape)}")
    if not bool(torch.all(s >= 0)) or not bool(torch.all(torch.isfinite(s))):
        raise ValueError("sigma must be finite and >= 0")
    return s


def fit_gaussian(images: torch.Tensor, ridge: float = 1e-3) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Sample mean ``(C, H, W)`` and covariance ``(d, d)`` of ``images`` ``(N, C, H, W)``, plus ``ridge * I``.

    The ridge keeps :math:`\Sigma` positive definite where the data never vary (e.g. the
    always-black corners of a digit).
    """
    if not isinstance(images, torch.Tensor) or images.dim() != 4 or images.shape[0] < 2:
        raise ValueError(f"images must be an (N, C, H, W) tensor with N >= 2, got {getattr(images, 'shape', None)}")
    if not ridge >= 0:
        raise ValueError(f"ridge must be >= 0, got {ridge!r}")
    flat = images.flatten(1)  # (N, d)
    mean = flat.mean(0)
    centred = flat - mean
    cov = centred.T @ centred / (flat.shape[0] - 1)  # (d, d)
    cov = cov + ridge * torch.eye(cov.shape[0], dtype=cov.dtype, device=cov.device)
    return mean.reshape(images.shape[1:]), cov


class GaussianPriorDenoiser:
    r"""Exact MMSE denoiser :math:`D(x, \sigma)` of the prior :math:`\mathcal N(\text{mean}, \text{cov})`.

    ``mean`` has shape ``(C, H, W)``, ``cov`` shape ``(d, d)`` with ``d = C*H*W``.
    Calling ``D(x, sigma)`` with ``x`` of shape ``(B, C, H, W)`` and ``sigma`` a number,
    0-dim or ``(B,)`` tensor returns ``E[x0 | x0 + sigma n = x]`` of ``x``'s shape, dtype
    and device. It is linear in ``x``, so autograd through it is exact and cheap.
    """

    def __init__(self, mean: torch.Tensor, cov: torch.Tensor) -> None:
        _check_mean_cov(mean, cov)
        self.mean = mean.detach().to(torch.float64)
        self.cov = cov.detach().to(torch.float64)
        lam, u = torch.linalg.eigh(self.cov)  # ascending eigenvalues, orthonormal columns
        self.eigvals, self.eigvecs = lam.clamp_min(0.0), u
        self._cache: dict = {}

    def _on(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        key = (x.dtype, x.device)
        if key not in self._cache:
            self._cache[key] = tuple(t.to(dtype=x.dtype, device=x.device) for t in (self.mean, self.eigvals, self.eigvecs))
        return self._cache[key]

    def __call__(self, x: torch.Tensor, sigma: torch.Tensor | float) -> torch.Tensor:
        if not isinstance(x, torch.Tensor) or x.dim() != 4 or x.shape[1:] != self.mean.shape:
            raise ValueError(f"x must have shape (B, {', '.join(map(str, self.mean.shape))}), got {getattr(x, 'shape', None)}")
        mean, lam, u = self._on(x)
        s = _sigma_batch(sigma, x.shape[0], x.dtype, x.device)  # (B,)
        shrink = lam / (lam + s[:, None] ** 2).clamp_min(torch.finfo(x.dtype).tiny)  # (B, d)
        coef = (x - mean).flatten(1) @ u  # (B, d): coordinates in the eigenbasis
        return mean + ((coef * shrink) @ u.T).reshape(x.shape)

    def cov_given(self, sigma: float) -> torch.Tensor:
        r""":math:`\mathrm{Cov}[x_0 \mid x_0 + \sigma n] = U\,\mathrm{diag}\big(\lambda_i\sigma^2/(\lambda_i + \sigma^2)\big)U^\top`, ``(d, d)`` float64."""
        s2 = float(sigma) ** 2
        if not (s2 >= 0 and torch.isfinite(torch.tensor(s2))):
            raise ValueError(f"sigma must be a finite number, got {sigma!r}")
        lam, u = self.eigvals, self.eigvecs
        return (u * (lam * s2 / (lam + s2).clamp_min(torch.finfo(lam.dtype).tiny))) @ u.T

    def __repr__(self) -> str:
        return f"GaussianPriorDenoiser(shape={tuple(self.mean.shape)}, d={self.mean.numel()})"


def operator_matrix(operator: Callable[[torch.Tensor], torch.Tensor], x_shape: tuple[int, ...],
                    dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """The matrix ``(m, d)`` of a linear ``operator`` on images of shape ``x_shape = (C, H, W)``.

    Column ``j`` is the operator applied to the ``j``-th basis image; ``m`` is the number
    of entries of one output. Meant for small images (``d`` up to a few thousand).
    """
    if not callable(operator):
        raise TypeError(f"operator must be callable, got {type(operator).__name__}")
    if len(x_shape) != 3:
        raise ValueError(f"x_shape must be (C, H, W), got {x_shape!r}")
    d = int(torch.tensor(x_shape).prod())
    basis = torch.eye(d, dtype=dtype).reshape(d, *x_shape)  # (d, C, H, W)
    with torch.no_grad():
        out = operator(basis)  # (d, ...)
    return out.reshape(d, -1).T.contiguous()  # (m, d)


def gaussian_posterior(mean: torch.Tensor, cov: torch.Tensor, operator, y: torch.Tensor,
                       sigma_y: float) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Exact posterior ``(mean (C, H, W), cov (d, d))`` of ``x0`` given ``y = A x0 + sigma_y n``.

    ``operator`` is the matrix ``A`` of shape ``(m, d)`` or a linear callable on ``(B, C, H, W)``
    images (its matrix is built by :func:`operator_matrix`); ``y`` holds ``m`` entries
    (any shape, a leading batch of 1 allowed). Computed in float64; returned in ``mean``'s dtype.
    """
    d = _check_mean_cov(mean, cov)
    if not isinstance(sigma_y, (int, float)) or not sigma_y > 0:
        raise ValueError(f"sigma_y must be a positive number, got {sigma_y!r}")
    a = operator if isinstance(operator, torch.Tensor) else operator_matrix(operator, tuple(mean.shape))
    a = a.to(torch.float64).to(mean.device)
    if a.dim() != 2 or a.shape[1] != d:
        raise ValueError(f"operator matrix must have shape (m, {d}), got {tuple(a.shape)}")
    if not isinstance(y, torch.Tensor) or y.numel() != a.shape[0]:
        raise ValueError(f"y must hold {a.shape[0]} values (one per row of A), got {getattr(y, 'shape', None)}")
    mu, s = mean.to(torch.float64).flatten(), cov.to(torch.float64)
    s_at = s @ a.T  # (d, m)
    gram = a @ s_at + sigma_y**2 * torch.eye(a.shape[0], dtype=torch.float64, device=a.device)  # (m, m)
    chol = torch.linalg.cholesky(gram)
    gain = torch.cholesky_solve(s_at.T, chol).T  # (d, m) = Sigma A^T (A Sigma A^T + s^2 I)^{-1}
    post_mean = mu + gain @ (y.to(torch.float64).flatten().to(a.device) - a @ mu)
    post_cov = s - gain @ s_at.T
    post_cov = 0.5 * (post_cov + post_cov.T)  # symmetric to rounding
    return post_mean.reshape(mean.shape).to(mean.dtype), post_cov.to(mean.dtype)


def gaussian_log_likelihood(prior: GaussianPriorDenoiser, operator, y: torch.Tensor, sigma_y: float,
                            exact: bool = True) -> Callable[[torch.Tensor, float], torch.Tensor]:
    r"""``log_lik(x0_hat, abar_t) -> (B,)``: :math:`\log p(y \mid x_t)` up to a constant, written through :math:`\hat x_0`.

    ``exact=True``: :math:`-\tfrac12 r^\top S_t^{-1} r` with :math:`r = y - A\hat x_0` and
    :math:`S_t = \sigma_y^2 I + A C_{\sigma_t} A^\top` (see the module docstring), the exact likelihood of the
    noisy state for this Gaussian ``prior``. ``exact=False``: DPS's approximation
    :math:`p(y \mid \hat x_0)`, i.e. :math:`S_t = \sigma_y^2 I`. For :func:`~course_lib.diffusion.score_sample`.
    ``y`` is one measurement, or a batch ``(B, ...)`` of them, one per sample (many problems at once).
    """
    if not isinstance(prior, GaussianPriorDenoiser):
        raise TypeError(f"prior must be a GaussianPriorDenoiser, got {type(prior).__name__}")
    if not isinstance(sigma_y, (int, float)) or not sigma_y > 0:
        raise ValueError(f"sigma_y must be a positive number, got {sigma_y!r}")
    a = operator if isinstance(operator, torch.Tensor) else operator_matrix(operator, tuple(prior.mean.shape))
    a = a.to(torch.float64)
    if a.dim() != 2 or a.shape[1] != prior.mean.numel():
        raise ValueError(f"operator matrix must have shape (m, {prior.mean.numel()}), got {tuple(a.shape)}")
    m = a.shape[0]
    if not isinstance(y, torch.Tensor) or not (y.numel() == m or (y.dim() > 1 and y[0].numel() == m)):
        raise ValueError(f"y must hold {m} values (one per row of A), or a batch (B, ...) of such, "
                         f"got {getattr(y, 'shape', None)}")
    y_flat = y.detach().to(torch.float64).reshape(-1, m)  # (1|B, m): one measurement, or one per sample
    eye = torch.eye(a.shape[0], dtype=torch.float64)
    cache: dict = {}

    def precision(abar_t: float) -> torch.Tensor:  # S_t^{-1}, (m, m), once per noise level
        if abar_t not in cache:
            s = sigma_y**2 * eye
            if exact:
                s = s + a @ prior.cov_given(math.sqrt((1 - abar_t) / abar_t)) @ a.T
            cache[abar_t] = torch.linalg.inv(s)
        return cache[abar_t]

    def log_lik(x0_hat: torch.Tensor, abar_t: float) -> torch.Tensor:
        p = precision(float(abar_t)).to(x0_hat)
        r = y_flat.to(x0_hat) - x0_hat.flatten(1) @ a.to(x0_hat).T  # (B, m)
        return -0.5 * ((r @ p) * r).sum(1)

    return log_lik


def sample_gaussian(mean: torch.Tensor, cov: torch.Tensor, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """``n`` exact samples ``(n, C, H, W)`` of ``N(mean, cov)`` (via the symmetric square root of ``cov``)."""
    _check_mean_cov(mean, cov)
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive int, got {n!r}")
    lam, u = torch.linalg.eigh(cov.to(torch.float64))
    root = u * lam.clamp_min(0).sqrt()  # (d, d): root @ root.T = cov
    z = torch.randn(n, mean.numel(), generator=generator, dtype=torch.float64)
    x = mean.to(torch.float64).flatten() + z.to(root.device) @ root.T
    return x.reshape(n, *mean.shape).to(mean.dtype)
