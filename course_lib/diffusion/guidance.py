r"""Two other ways to guide the DDIM loop of :func:`~course_lib.diffusion.dps_sample` by a measurement.

Both run the same reverse loop as DPS (``sampler._reverse``); only the guidance differs.

**ΠGDM** (Song, Vahdat, Mardani & Kautz 2023, "Pseudoinverse-guided diffusion models for inverse
problems", ICLR, Sec. 3). DPS models :math:`p(y \mid x_t)` by :math:`p(y \mid \hat x_0)`, as if
:math:`x_0` were known given :math:`x_t`. ΠGDM keeps a variance: :math:`x_0 \mid x_t \approx
\mathcal N(\hat x_0, r_t^2 I)`, so

.. math::

    p(y \mid x_t) \approx \mathcal N\big(A\hat x_0,\ r_t^2 AA^\top + \sigma_y^2 I\big),\qquad
    g = \Big(\frac{\partial \hat x_0}{\partial x_t}\Big)^{\!\top} A^\top
        \big(r_t^2 AA^\top + \sigma_y^2 I\big)^{-1}(y - A\hat x_0),

a vector-Jacobian product through the denoiser. The system is solved once per step: in closed form
for a mask or a circular blur (``gram_solve``: diagonal in pixels or in Fourier, as the paper's
SVD-based operators are in their own basis), by conjugate gradients for any other operator. :math:`r_t^2 = s^2\sigma_t^2/(s^2 + \sigma_t^2)` with :math:`\sigma_t^2 = (1-\bar\alpha_t)/\bar\alpha_t`
is :math:`\mathrm{Cov}[x_0 \mid x_t]` for the isotropic prior :math:`\mathcal N(\mu, s^2 I)`; the paper
takes :math:`s = 1` (``data_std=1``). For that prior, with the right :math:`s`, the model is exact.
The score enters through Tweedie's formula, :math:`\mathbb E[x_0 \mid x_t, y] \approx \hat x_0 +
\tfrac{1-\bar\alpha_t}{\sqrt{\bar\alpha_t}}\,g` (:func:`~course_lib.diffusion.sampler.score_guide`), exactly
as the exact likelihood of a Gaussian prior does (:func:`~course_lib.diffusion.gaussian_log_likelihood`
with :func:`~course_lib.diffusion.score_sample`), so the two differ only in the covariance they assume
for :math:`x_0 \mid x_t`. (The paper's Algorithm 1 adds :math:`g` to the DDIM update with a weight of its
own; here the weight is the one Tweedie's formula gives, with nothing to tune.)

**DiffPIR** (Zhu, Zhang, Liang, Cao, Wen, Timofte & Van Gool 2023, "Denoising diffusion models for
plug-and-play image restoration", CVPR Workshops, Sec. 3-4, Algorithm 1). Half-quadratic splitting:
each step denoises, then solves the data subproblem

.. math::

    \hat x_0^{y} = \arg\min_x\ \|y - Ax\|^2 + \rho_t \|x - \hat x_0\|^2,\qquad
    \rho_t = \lambda\,\sigma_y^2/\sigma_t^2,

i.e. :math:`(A^\top A + \rho_t I)\,x = A^\top y + \rho_t \hat x_0` (in closed form for a mask or a
circular blur, by FFT as in the paper's Sec. 4; conjugate gradients otherwise), and steps with
:math:`x_{t'} = \sqrt{\bar\alpha_{t'}}\hat x_0^{y} + \sqrt{1-\bar\alpha_{t'}}\big(\sqrt{1-\zeta}\,\hat\epsilon
+ \sqrt\zeta\,z\big)`, which is the DDIM update with fresh noise :math:`\tilde\sigma^2 = \zeta(1-\bar\alpha_{t'})`.
No gradient goes through the denoiser.

Both need :math:`\sigma_y`: an :class:`~course_lib.diffusion.Observation` carries it, or pass ``sigma_y``.

Example
-------
>>> import torch
>>> from course_lib.diffusion import GaussianPriorDenoiser, measure
>>> from course_lib.operators import Inpainting
>>> D = GaussianPriorDenoiser(torch.zeros(1, 2, 2), torch.eye(4))  # N(0, I)
>>> g = torch.Generator().manual_seed(0)
>>> A = Inpainting(torch.tensor([[[[1.0, 0.0], [1.0, 1.0]]]]))
>>> obs = measure(A, torch.ones(1, 1, 2, 2), 0.1, generator=g)
>>> shape = (3, 1, 2, 2)
>>> pigdm_sample(D, None, obs, 20, x_shape=shape, generator=g, progress=False).shape
torch.Size([3, 1, 2, 2])
>>> diffpir_sample(D, None, obs, 20, x_shape=shape, generator=g, progress=False).shape
torch.Size([3, 1, 2, 2])
"""

from __future__ import annotations

import math
from typing import Callable

import torch

from ..linalg import conjugate_gradient
from .sampler import Observation, _check_loop_args, _reverse, _setup, ddim_noise_std, score_guide, tweedie

__all__ = ["pigdm_sample", "diffpir_sample"]

CG_TOL = 1e-4  # conjugate gradients stop at this residual, relative to the right-hand side


def _sigma_y(y, sigma_y: float | None) -> float:
    """``sigma_y`` from the Observation or the argument (they must agree when both are given)."""
    if isinstance(y, Observation):
        if sigma_y is not None and not math.isclose(float(sigma_y), y.sigma_y, rel_tol=1e-9, abs_tol=1e-12):
            raise ValueError(f"sigma_y={sigma_y!r} contradicts the Observation's sigma_y={y.sigma_y!r}")
        sigma_y = y.sigma_y
    if sigma_y is None:
        raise ValueError("sigma_y must be given (or pass y as an Observation, which carries it)")
    if not isinstance(sigma_y, (int, float)) or isinstance(sigma_y, bool) or not 0 <= sigma_y < math.inf:
        raise ValueError(f"sigma_y must be a finite number >= 0 (on the [-1, 1] scale), got {sigma_y!r}")
    return float(sigma_y)


def _solve(operator, b: torch.Tensor, weight: float, shift: float, cg_iters: int, outer: bool = False,
           x0: torch.Tensor | None = None) -> torch.Tensor:
    """:math:`(w G + s I)^{-1} b` with :math:`G = A^T A`, or :math:`AA^T` when ``outer`` (ΠGDM's system):
    the operator's closed form where it has one (those operators have :math:`A^T A = AA^T`), else CG."""
    exact = operator.gram_solve(b, weight, shift) if hasattr(operator, "gram_solve") else None
    if exact is not None:
        return exact

    def gram(u: torch.Tensor) -> torch.Tensor:
        return operator(operator.adjoint(u)) if outer else operator.adjoint(operator(u))

    return conjugate_gradient(lambda u: weight * gram(u) + shift * u, b, x0=x0, iters=cg_iters, tol=CG_TOL,
                              batch_dims=1)


def _measured(operator, y, x_shape, generator, dtype, name: str):
    if y is None:
        raise ValueError(f"{name} needs a measurement y (for prior samples use dps_sample with zeta=0)")
    operator, y_t, x_shape, dev, dtype = _setup(operator, y, x_shape, 1.0, generator, dtype)
    if not hasattr(operator, "adjoint"):
        raise TypeError(f"{name} needs a linear operator with an adjoint (A^T), got {type(operator).__name__}")
    return operator, y_t, x_shape, dev, dtype


def pigdm_sample(denoiser: Callable, operator=None, y=None, steps: int = 200, eta: float = 1.0,
                 x_shape: tuple[int, ...] | None = None, generator: torch.Generator | None = None,
                 sigma_y: float | None = None, data_std: float = 1.0, cg_iters: int = 50,
                 progress: bool = True, clip: bool = False, callback: Callable | None = None,
                 dtype: torch.dtype | None = None) -> torch.Tensor:
    r"""Samples of :math:`p(x_0 \mid y)` with ΠGDM guidance (see the module docstring), on ``[-1, 1]``.

    ``operator``, ``y``, ``steps``, ``eta``, ``x_shape``, ``generator``, ``progress``, ``clip``,
    ``callback`` and ``dtype`` are those of :func:`~course_lib.diffusion.dps_sample`; the operator needs an
    ``adjoint``. ``sigma_y``: the measurement noise on ``[-1, 1]`` (taken from an Observation);
    ``data_std``: :math:`s` in :math:`r_t^2 = s^2\sigma_t^2/(s^2+\sigma_t^2)`; ``cg_iters``: conjugate-gradient
    iterations for :math:`(r_t^2 AA^\top + \sigma_y^2 I)^{-1}r` per step (at most; they stop at a
    residual of ``CG_TOL`` relative to :math:`r`), for operators without a closed-form ``gram_solve``.
    """
    x_shape = _check_loop_args(denoiser, steps, eta, x_shape)
    s_y = _sigma_y(y, sigma_y)
    if not isinstance(data_std, (int, float)) or not 0 < data_std < math.inf:
        raise ValueError(f"data_std must be a positive number, got {data_std!r}")
    if not isinstance(cg_iters, int) or cg_iters < 1:
        raise ValueError(f"cg_iters must be a positive int, got {cg_iters!r}")
    operator, y_t, x_shape, dev, dtype = _measured(operator, y, x_shape, generator, dtype, "pigdm_sample")
    s2 = float(data_std) ** 2

    def log_likelihood(x0_hat: torch.Tensor, a: float) -> torch.Tensor:
        sig2 = (1 - a) / a
        r2 = s2 * sig2 / (s2 + sig2)  # Cov[x0 | x_t] of N(mu, s^2 I)
        ax = operator(x0_hat)
        with torch.no_grad():
            v = _solve(operator, y_t - ax, r2, s_y**2, cg_iters, outer=True)
        # -1/2 r^T S^-1 r has the gradient A^T S^-1 r in x0_hat; so has <A x0_hat, v> with v fixed
        return (ax * v).flatten(1).sum(1)

    return _reverse(score_guide(denoiser, log_likelihood), x_shape, steps, lambda a, a2: ddim_noise_std(a, a2, eta),
                    generator, dtype, dev, clip, progress, callback, "PiGDM")


def diffpir_sample(denoiser: Callable, operator=None, y=None, steps: int = 200, lam: float = 1.0,
                   zeta: float = 1.0, x_shape: tuple[int, ...] | None = None,
                   generator: torch.Generator | None = None, sigma_y: float | None = None, cg_iters: int = 50,
                   progress: bool = True, clip: bool = False, callback: Callable | None = None,
                   dtype: torch.dtype | None = None) -> torch.Tensor:
    r"""Samples with DiffPIR (see the module docstring), on ``[-1, 1]``.

    ``lam`` (:math:`\lambda > 0`) weighs the prior in the data subproblem, :math:`\rho_t = \lambda\sigma_y^2/\sigma_t^2`;
    ``zeta`` in ``[0, 1]`` is the share of fresh noise in each step (0: deterministic). The defaults
    (:math:`\lambda = 1`, :math:`\zeta = 1`) give the best mean on chapter 3's Gaussian bench and its
    digits; a smaller :math:`\zeta` widens the spread. ``sigma_y`` must be
    positive (an Observation carries it). The other arguments are those of :func:`pigdm_sample`;
    ``cg_iters`` conjugate-gradient iterations solve the data subproblem per step where the operator has
    no closed-form ``gram_solve``.
    """
    x_shape = _check_loop_args(denoiser, steps, 0.0, x_shape)
    s_y = _sigma_y(y, sigma_y)
    if s_y == 0:
        raise ValueError("diffpir_sample needs sigma_y > 0: rho_t = lam * sigma_y^2 / sigma_t^2 weighs the prior")
    if not isinstance(lam, (int, float)) or isinstance(lam, bool) or not 0 < lam < math.inf:
        raise ValueError(f"lam must be a positive number, got {lam!r}")
    if not isinstance(zeta, (int, float)) or isinstance(zeta, bool) or not 0 <= zeta <= 1:
        raise ValueError(f"zeta must lie in [0, 1] (the share of fresh noise), got {zeta!r}")
    if not isinstance(cg_iters, int) or cg_iters < 1:
        raise ValueError(f"cg_iters must be a positive int, got {cg_iters!r}")
    operator, y_t, x_shape, dev, dtype = _measured(operator, y, x_shape, generator, dtype, "diffpir_sample")
    aty = operator.adjoint(y_t)

    def guide(x: torch.Tensor, a: float):
        with torch.no_grad():
            x0_hat = tweedie(denoiser, x, a)
            rho = lam * s_y**2 * a / (1 - a)  # lam sigma_y^2 / sigma_t^2
            x0_y = _solve(operator, aty + rho * x0_hat, 1.0, rho, cg_iters, x0=x0_hat)
        return x0_y, None

    def noise_std(a: float, a2: float) -> float:
        return math.sqrt(zeta * (1 - a2))

    return _reverse(guide, x_shape, steps, noise_std, generator, dtype, dev, clip, progress, callback, "DiffPIR")
