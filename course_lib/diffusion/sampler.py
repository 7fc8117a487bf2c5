r"""Diffusion posterior sampling (DPS) with DDIM(:math:`\eta`) steps, and the same loop with a likelihood score.

Chung, Kim, Mccann, Klasky & Ye (2023), "Diffusion posterior sampling for general noisy
inverse problems", ICLR (Algorithm 1); DDIM: Song, Meng & Ermon (2021), ICLR.

The reverse loop, for :math:`t = t_K > \dots > t_1 = 0` (``steps`` evenly spaced indices of the
1000-step linear schedule) and :math:`t'` the next index (:math:`\bar\alpha_{t'} = 1` after the
last step):

1. Tweedie: :math:`\hat x_0 = D(x_t/\sqrt{\bar\alpha_t},\ \sigma_t)` with
   :math:`\sigma_t = \sqrt{1-\bar\alpha_t}/\sqrt{\bar\alpha_t}`;
2. DDIM(:math:`\eta`): :math:`\hat\epsilon = (x_t - \sqrt{\bar\alpha_t}\hat x_0)/\sqrt{1-\bar\alpha_t}`,
   :math:`\tilde\sigma = \eta\sqrt{\tfrac{1-\bar\alpha_{t'}}{1-\bar\alpha_t}}\sqrt{1-\tfrac{\bar\alpha_t}{\bar\alpha_{t'}}}`,
   :math:`x' = \sqrt{\bar\alpha_{t'}}\hat x_0 + \sqrt{1-\bar\alpha_{t'}-\tilde\sigma^2}\,\hat\epsilon + \tilde\sigma z`;
   :math:`\eta = 1` is DDPM's ancestral step (the DPS paper), :math:`\eta = 0` is deterministic;
3. guidance, one of two kinds:

   * :func:`dps_sample`: :math:`x_{t'} = x' - \zeta\,\nabla_{x_t}\|y - A\hat x_0(x_t)\|_2`, the
     gradient taken through the denoiser by autograd, one norm per sample. The paper's step
     :math:`\zeta'/\|r\|\cdot\nabla\|r\|^2` equals :math:`2\zeta'\nabla\|r\|`, so ``zeta`` here is
     twice the paper's :math:`\zeta'`.
   * :func:`score_sample`: a likelihood score :math:`g = \nabla_{x_t}\log p(y \mid x_t)` (autograd of
     a given ``log_likelihood(x0_hat, abar_t)``) enters through Tweedie's formula for
     :math:`p(x_t \mid y)`: step 2 uses :math:`\mathbb E[x_0 \mid x_t, y] = \hat x_0 +
     \tfrac{1-\bar\alpha_t}{\sqrt{\bar\alpha_t}}\,g` in place of :math:`\hat x_0`.

Conventions: images and :math:`y` live on the diffusion scale :math:`[-1, 1]`, so a noise level
given for :math:`[0, 1]` images must be doubled (:func:`measure` takes it on the :math:`[-1, 1]`
scale). ``zeta`` is a step length, not :math:`1/\sigma_y^2`. ``zeta = 0`` samples the prior.
The denoiser runs where the caller's tensors are: ``y`` (or, without ``y``, the generator) sets
the device of the samples.

Example
-------
>>> import torch
>>> from course_lib.diffusion import GaussianPriorDenoiser
>>> from course_lib.operators import Inpainting
>>> D = GaussianPriorDenoiser(torch.zeros(1, 2, 2), torch.eye(4))  # a toy N(0, I) prior
>>> g = torch.Generator().manual_seed(0)
>>> A = Inpainting(torch.ones(1, 1, 2, 2))
>>> obs = measure(A, torch.zeros(1, 1, 2, 2), 0.1, generator=g)
>>> dps_sample(D, obs.operator, obs, steps=20, zeta=0.5, x_shape=(3, 1, 2, 2),
...            generator=g, progress=False).shape
torch.Size([3, 1, 2, 2])
"""

from __future__ import annotations

import math
from typing import Callable, NamedTuple

import torch

from ..operators import Inpainting, add_gaussian_noise
from .schedule import alphas_cumprod, linear_betas, timesteps

__all__ = ["Observation", "measure", "stack_observations", "tweedie", "ddim_step", "ddim_noise_std", "dps_sample", "score_sample",
           "score_guide"]


class Observation(NamedTuple):
    """A measurement that remembers how it was made: ``y = operator(x0) + sigma_y * n`` on ``[-1, 1]``."""

    y: torch.Tensor
    operator: Callable[[torch.Tensor], torch.Tensor]
    sigma_y: float


def measure(operator: Callable[[torch.Tensor], torch.Tensor], x0: torch.Tensor, sigma_y: float,
            generator: torch.Generator | None = None) -> Observation:
    """Simulate ``y = A x0 + sigma_y n`` and return it bound to the operator that made it.

    ``x0`` and ``sigma_y`` are on the diffusion scale ``[-1, 1]`` (``sigma_y`` = 2 x the
    ``[0, 1]`` value). For :class:`~course_lib.operators.Inpainting` the missing pixels of
    ``y`` are set to 0: a pixel that is not measured carries no value and no noise.
    """
    if not callable(operator):
        raise TypeError(f"operator must be callable, got {type(operator).__name__}")
    if not isinstance(x0, torch.Tensor) or x0.dim() != 4:
        raise ValueError(f"x0 must be a (B, C, H, W) tensor, got {getattr(x0, 'shape', type(x0).__name__)}")
    if not isinstance(sigma_y, (int, float)) or isinstance(sigma_y, bool) or not 0 <= sigma_y < math.inf:
        raise ValueError(f"sigma_y must be a finite number >= 0 (on the [-1, 1] scale), got {sigma_y!r}")
    with torch.no_grad():
        y = add_gaussian_noise(operator(x0), sigma_y, generator)
        if isinstance(operator, Inpainting):
            y = y * (operator.mask != 0).to(y.dtype)
    return Observation(y, operator, float(sigma_y))


def stack_observations(observations, repeats: int = 1) -> Observation:
    """One batched :class:`Observation` from several, each repeated ``repeats`` times (samples per problem).

    Sampling many problems in one call runs the denoiser on one large batch, which is several times
    faster per sample on a CPU than one call per problem. The result's ``y`` has a batch of
    ``len(observations) * repeats`` (problem ``i`` in rows ``i*repeats ... (i+1)*repeats - 1``); pass
    that batch as ``x_shape[0]``. The operators must be one and the same object, or all
    :class:`~course_lib.operators.Inpainting` (their masks are stacked); the noise levels must agree.
    """
    obs = list(observations)
    if not obs or not all(isinstance(o, Observation) for o in obs):
        raise TypeError("observations must be a non-empty sequence of Observations")
    if not isinstance(repeats, int) or isinstance(repeats, bool) or repeats < 1:
        raise ValueError(f"repeats must be a positive int, got {repeats!r}")
    if any(o.sigma_y != obs[0].sigma_y for o in obs):
        raise ValueError("the observations have different sigma_y; stack only problems with one noise level")
    if any(o.y.shape[0] != 1 for o in obs):
        raise ValueError("each observation must hold one measurement (a batch of 1)")
    if any(o.y.shape != obs[0].y.shape for o in obs):
        raise ValueError("the measurements have different shapes; stack only problems of one size")
    y = torch.cat([o.y for o in obs]).repeat_interleave(repeats, dim=0)
    if all(o.operator is obs[0].operator for o in obs):
        operator = obs[0].operator
    elif all(isinstance(o.operator, Inpainting) for o in obs):
        masks = [torch.broadcast_to(o.operator.mask, o.y.shape) for o in obs]
        operator = Inpainting(torch.cat(masks).repeat_interleave(repeats, dim=0))
    else:
        raise ValueError("the observations' operators differ and are not all Inpainting masks: "
                         "stack problems that share one operator")
    return Observation(y, operator, obs[0].sigma_y)


def _check_abar(name: str, a: float) -> float:
    a = float(a)
    if not 0 < a <= 1:
        raise ValueError(f"{name} must lie in (0, 1], got {a!r}")
    return a


def tweedie(denoiser: Callable, x_t: torch.Tensor, abar_t: float) -> torch.Tensor:
    r""":math:`\hat x_0 = D(x_t/\sqrt{\bar\alpha_t}, \sigma_t)`: the MMSE estimate of :math:`x_0` from :math:`x_t`."""
    a = _check_abar("abar_t", abar_t)
    if a == 1.0:
        return x_t
    return denoiser(x_t / math.sqrt(a), math.sqrt((1 - a) / a))


def ddim_noise_std(abar_t: float, abar_next: float, eta: float) -> float:
    r"""DDIM's fresh-noise level :math:`\tilde\sigma = \eta\sqrt{(1-\bar\alpha_{t'})/(1-\bar\alpha_t)}\sqrt{1-\bar\alpha_t/\bar\alpha_{t'}}`."""
    a, a2 = _check_abar("abar_t", abar_t), _check_abar("abar_next", abar_next)
    if a == 1.0:
        return 0.0
    return eta * math.sqrt((1 - a2) / (1 - a)) * math.sqrt(max(1 - a / a2, 0.0))


def _ddim_update(x_t: torch.Tensor, x0_hat: torch.Tensor, a: float, a2: float, sig: float,
                 noise: torch.Tensor | None) -> torch.Tensor:
    """``sqrt(a2) x0_hat + sqrt(1 - a2 - sig^2) eps_hat + sig noise``, the update every sampler here shares."""
    if a == 1.0:
        return x0_hat
    eps = (x_t - math.sqrt(a) * x0_hat) / math.sqrt(1 - a)  # the noise the denoiser implies
    out = math.sqrt(a2) * x0_hat + math.sqrt(max(1 - a2 - sig**2, 0.0)) * eps
    if sig > 0:
        if noise is None:
            raise ValueError("noise must be given when the step injects fresh noise (eta > 0)")
        out = out + sig * noise
    return out


def ddim_step(x_t: torch.Tensor, x0_hat: torch.Tensor, abar_t: float, abar_next: float, eta: float,
              noise: torch.Tensor | None = None) -> torch.Tensor:
    """One DDIM(eta) step from ``x_t`` to the next, less noisy level ``abar_next >= abar_t`` (see the module docstring).

    ``noise`` (``x_t``'s shape, standard normal) is needed when ``eta > 0``.
    """
    a, a2 = _check_abar("abar_t", abar_t), _check_abar("abar_next", abar_next)
    if a2 < a:
        raise ValueError(f"abar_next ({a2}) must be >= abar_t ({a}): the reverse process removes noise")
    if not 0 <= eta <= 1:
        raise ValueError(f"eta must lie in [0, 1], got {eta!r}")
    return _ddim_update(x_t, x0_hat, a, a2, ddim_noise_std(a, a2, eta), noise)


def _unpack(operator, y, zeta: float) -> tuple[Callable | None, torch.Tensor | None]:
    """Resolve the guidance operator; refuse one that is not the operator that made ``y``."""
    if isinstance(y, Observation):
        if operator is None:
            operator = y.operator
        elif operator is not y.operator:
            raise ValueError(
                "operator is not the operator that made y (y.operator): DPS would pull the sample towards "
                "data it was not measured with. Pass y.operator, or operator=None.")
        y = y.y
    if y is None and operator is None:
        if zeta != 0:
            raise ValueError("operator and y are needed when zeta > 0 (zeta = 0 samples the prior)")
        return None, None
    if not callable(operator):
        raise TypeError(f"operator must be callable, got {type(operator).__name__}")
    if not isinstance(y, torch.Tensor):
        raise TypeError(f"y must be a torch.Tensor or an Observation, got {type(y).__name__}")
    if not bool(torch.isfinite(y).all()):
        raise ValueError("y must be finite (it contains NaN or inf)")
    return operator, y


def _check_loop_args(denoiser, steps, eta, x_shape) -> tuple[int, ...] | None:
    if not callable(denoiser):
        raise TypeError(f"denoiser must be callable D(x, sigma), got {type(denoiser).__name__}")
    if not isinstance(steps, int) or isinstance(steps, bool) or not 1 <= steps <= 1000:
        raise ValueError(f"steps must be an int in [1, 1000], got {steps!r}")
    if not isinstance(eta, (int, float)) or not 0 <= eta <= 1:
        raise ValueError(f"eta must lie in [0, 1], got {eta!r}")
    if x_shape is None:
        return None
    x_shape = tuple(int(s) for s in x_shape)
    if len(x_shape) != 4 or min(x_shape) < 1:
        raise ValueError(f"x_shape must be (B, C, H, W) with positive sizes, got {x_shape!r}")
    return x_shape


def standard_normal(shape: tuple[int, ...], generator: torch.Generator | None, dtype: torch.dtype,
                    device) -> torch.Tensor:
    """The samplers' noise: N(0, I) of ``shape``, drawn in float32 on the generator's device, then cast and moved.

    Drawn on the generator's device, so one seed gives the same samples on every device. Drawn in
    float32 even for float64 samplers: PyTorch's CPU normal generator is several times slower in
    float64 (``benchmarks/bench_dps.py``), the float64 samplers of chapter 3's Gaussian bench spent about
    a quarter of their time drawing noise, and a Monte Carlo estimate does not need noise beyond
    float32 resolution (the arithmetic that follows is still done in ``dtype``).
    """
    gdev = generator.device if generator is not None else device
    return torch.randn(shape, generator=generator, dtype=torch.float32, device=gdev).to(dtype=dtype, device=device)


def _reverse(guide: Callable, x_shape: tuple[int, ...], steps: int, noise_std: Callable[[float, float], float],
             generator, dtype, device, clip: bool, progress: bool, callback: Callable | None,
             desc: str) -> torch.Tensor:
    r"""The reverse loop every sampler here shares.

    ``guide(x_t, abar_t) -> (x0_hat, shift)``: the (possibly corrected) denoised estimate and an
    optional shift, subtracted after the step; ``noise_std(abar_t, abar_next)`` is the fresh noise
    :math:`\tilde\sigma` of the step (:func:`ddim_noise_std` for DDIM(eta)).
    """
    from tqdm.auto import tqdm

    abar = alphas_cumprod(linear_betas()).tolist()
    ts = timesteps(steps, len(abar)).tolist()

    def randn() -> torch.Tensor:
        return standard_normal(x_shape, generator, dtype, device)

    x = randn()  # x_T ~ N(0, I): abar_T ~ 4e-5, so x_T is pure noise to 3 decimals
    for i, t in enumerate(tqdm(ts, disable=not progress, desc=desc, leave=False)):
        a, a_next = abar[t], (abar[ts[i + 1]] if i + 1 < len(ts) else 1.0)
        x0_hat, shift = guide(x, a)
        if callback is not None:
            callback(i, t, x, x0_hat)
        with torch.no_grad():
            x0_upd = x0_hat.clamp(-1.0, 1.0) if clip else x0_hat
            sig = noise_std(a, a_next) if a < 1.0 else 0.0
            x = _ddim_update(x, x0_upd, a, a_next, sig, randn() if sig > 0 else None)
            if shift is not None:
                x = x - shift
    return x.detach()


def _setup(operator, y, x_shape, zeta: float, generator, dtype) -> tuple:
    r"""Check the measurement against the operator and the sample shape; return
    ``(operator, y, x_shape, device, dtype)`` (``operator`` and ``y`` are ``None`` for the prior)."""
    operator, y = _unpack(operator, y, zeta)
    if y is None:
        if x_shape is None:
            raise ValueError("x_shape must be given when y is None")
        return None, None, x_shape, (generator.device if generator is not None else torch.device("cpu")), \
            (dtype or torch.float32)
    if x_shape is None:
        if not hasattr(operator, "adjoint"):
            raise ValueError("x_shape must be given when operator has no adjoint to infer it from")
        x_shape = tuple(operator.adjoint(y).shape)
    try:
        with torch.no_grad():
            ay = operator(torch.zeros((1, *x_shape[1:]), dtype=y.dtype, device=y.device))
    except (ValueError, RuntimeError) as err:
        raise ValueError(f"the operator cannot be applied to images of x_shape {x_shape}: {err}") from err
    if ay.shape[1:] != y.shape[1:] or y.shape[0] not in (1, x_shape[0]):
        raise ValueError(f"y has shape {tuple(y.shape)} but the operator maps x_shape {x_shape} to "
                         f"{(x_shape[0], *ay.shape[1:])}: wrong operator, x_shape or y")
    return operator, y, x_shape, y.device, y.dtype


def _check_zeta(zeta, batch: int | None = None) -> float | torch.Tensor:
    """``zeta`` as a float, or as a ``(B, 1, 1, 1)`` float64 tensor when one step per sample is given."""
    if isinstance(zeta, torch.Tensor):
        if zeta.dim() != 1 or (batch is not None and len(zeta) != batch):
            raise ValueError(f"zeta as a tensor must have shape (B,) = ({batch},), one step per sample, "
                             f"got {tuple(zeta.shape)}")
        if zeta.requires_grad or not bool(torch.isfinite(zeta).all()) or bool((zeta < 0).any()):
            raise ValueError("zeta must hold finite numbers >= 0 (and no gradient)")
        return zeta.detach().to(torch.float64).reshape(-1, 1, 1, 1)
    if not isinstance(zeta, (int, float)) or isinstance(zeta, bool) or not math.isfinite(zeta) or zeta < 0:
        raise ValueError(f"zeta must be a finite number >= 0, or a (B,) tensor of them, got {zeta!r}")
    return float(zeta)


def score_guide(denoiser: Callable, log_likelihood: Callable) -> Callable:
    r"""``guide(x_t, abar_t)`` for :func:`_reverse`: Tweedie's formula for :math:`p(x_t \mid y)`.

    With :math:`g = \nabla_{x_t}` ``log_likelihood(x0_hat(x_t), abar_t)`` (autograd through the
    denoiser), the denoised estimate becomes :math:`\hat x_0 + \tfrac{1-\bar\alpha_t}{\sqrt{\bar\alpha_t}}\,g`,
    which is :math:`\mathbb E[x_0 \mid x_t, y]` when the likelihood model is exact.
    """
    def guide(x: torch.Tensor, a: float):
        with torch.enable_grad():
            xt = x.detach().requires_grad_(True)
            x0_hat = tweedie(denoiser, xt, a)
            ll = log_likelihood(x0_hat, a)
            if ll.shape != (x.shape[0],):
                raise ValueError(f"log_likelihood must return shape ({x.shape[0]},), got {tuple(ll.shape)}")
            (g,) = torch.autograd.grad(ll.sum(), xt)
        return (x0_hat + (1 - a) / math.sqrt(a) * g).detach(), None

    return guide


def dps_sample(denoiser: Callable, operator=None, y=None, steps: int = 200, zeta: float = 1.0, eta: float = 1.0,
               x_shape: tuple[int, ...] | None = None, generator: torch.Generator | None = None,
               progress: bool = True, clip: bool = False, clip_residual: bool = False,
               callback: Callable | None = None, dtype: torch.dtype | None = None) -> torch.Tensor:
    r"""Draw samples of :math:`p(x_0 \mid y)` with DPS (see the module docstring); returns ``x_shape`` on ``[-1, 1]``.

    Parameters
    ----------
    denoiser : ``D(x, sigma)``, the MMSE denoiser on ``[-1, 1]``.
    operator : the linear forward operator ``A``; must be the object that made ``y``
        when ``y`` is an :class:`Observation` (``None`` takes ``y.operator``). ``None`` with ``y=None`` when ``zeta = 0``.
    y : the measurement, a tensor ``(1|B, ...)`` or an :class:`Observation`; ``None`` when ``zeta = 0``.
    steps : number of DDIM steps, 1 to 1000 (evenly spaced over the 1000-step schedule).
    zeta : guidance step, >= 0 (twice the paper's :math:`\zeta'`); 0 samples the prior. A ``(B,)`` tensor
        gives each sample its own step, so that a sweep over :math:`\zeta` runs as one batch.
    eta : DDIM noise in ``[0, 1]``: 1 is DDPM's ancestral sampler (the DPS paper), 0 is deterministic.
    x_shape : ``(B, C, H, W)`` of the samples; default: the shape of ``A^T y`` (needs ``operator.adjoint``).
        ``B`` samples share a ``y`` with a batch of 1. Required when ``y`` is ``None``.
    generator : seeds the initial noise and every DDIM noise draw.
    progress : show a tqdm progress bar.
    clip : clamp :math:`\hat x_0` to ``[-1, 1]`` in the DDIM update.
    clip_residual : clamp :math:`\hat x_0` in the residual too, as the original deepinv example does
        (the gradient is then zero at saturated pixels).
    callback : ``callback(i, t, x_t, x0_hat)`` after the denoiser at every step (e.g. to record frames).
    dtype : of the samples when ``y`` is ``None`` (default float32; they live on the generator's device).
        With ``y``, the samples take ``y``'s dtype and device.
    """
    x_shape = _check_loop_args(denoiser, steps, eta, x_shape)
    zeta = _check_zeta(zeta, None if x_shape is None else x_shape[0])
    prior_only = not bool((torch.as_tensor(zeta) != 0).any())
    operator, y, x_shape, dev, dtype = _setup(operator, y, x_shape, 0.0 if prior_only else 1.0, generator, dtype)
    if isinstance(zeta, torch.Tensor):
        zeta = _check_zeta(zeta.flatten(), x_shape[0]).to(dtype=dtype, device=dev)

    def guide(x: torch.Tensor, a: float):
        if prior_only:
            with torch.no_grad():
                return tweedie(denoiser, x, a), None
        with torch.enable_grad():
            xt = x.detach().requires_grad_(True)
            x0_hat = tweedie(denoiser, xt, a)  # (B, C, H, W)
            x0_r = x0_hat.clamp(-1.0, 1.0) if clip_residual else x0_hat
            resid = (y - operator(x0_r)).flatten(1)  # (B, m)
            norm = resid.pow(2).sum(1).add(1e-20).sqrt()  # (B,): unsquared, one per sample
            (grad,) = torch.autograd.grad(norm.sum(), xt)
        return x0_hat.detach(), zeta * grad

    return _reverse(guide, x_shape, steps, lambda a, a2: ddim_noise_std(a, a2, eta), generator, dtype, dev,
                    clip, progress, callback, "DPS")


def score_sample(denoiser: Callable, log_likelihood: Callable, x_shape: tuple[int, ...], steps: int = 200,
                 eta: float = 1.0, generator: torch.Generator | None = None, dtype: torch.dtype = torch.float32,
                 progress: bool = True) -> torch.Tensor:
    r"""The DDIM(eta) loop of :func:`dps_sample` guided by a likelihood score through Tweedie's formula.

    ``log_likelihood(x0_hat, abar_t)`` returns a ``(B,)`` tensor, differentiable in ``x0_hat``: a model of
    :math:`\log p(y \mid x_t)` written through :math:`\hat x_0(x_t)` (up to a constant). Its gradient
    :math:`g` with respect to :math:`x_t` (autograd through the denoiser) replaces :math:`\hat x_0` by
    :math:`\hat x_0 + (1-\bar\alpha_t)/\sqrt{\bar\alpha_t}\,g`, which is :math:`\mathbb E[x_0 \mid x_t, y]` when
    the model is exact. No step size: the score's own scale is used. Samples of ``x_shape`` in ``dtype``
    on the generator's device (the CPU without one).
    """
    x_shape = _check_loop_args(denoiser, steps, eta, x_shape)
    if x_shape is None:
        raise ValueError("x_shape must be given")
    if not callable(log_likelihood):
        raise TypeError(f"log_likelihood must be callable (x0_hat, abar_t) -> (B,), got {type(log_likelihood).__name__}")
    dev = generator.device if generator is not None else torch.device("cpu")

    return _reverse(score_guide(denoiser, log_likelihood), x_shape, steps, lambda a, a2: ddim_noise_std(a, a2, eta),
                    generator, dtype, dev, False, progress, None, "score-guided DDIM")
