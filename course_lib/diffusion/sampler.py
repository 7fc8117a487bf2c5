r"""Diffusion posterior sampling (DPS) with DDIM(:math:`\eta`) steps.

Chung, Kim, Mccann, Klasky & Ye (2023), "Diffusion posterior sampling for general noisy
inverse problems", ICLR; DDIM: Song, Meng & Ermon (2021), ICLR.

The exact variant implemented here, step by step, for :math:`t = t_K > \dots > t_1 = 0`
(``steps`` evenly spaced indices of the 1000-step linear schedule) and :math:`t'` the next index
(:math:`\bar\alpha_{t'} = 1` after the last step):

1. Tweedie: :math:`\hat x_0 = D(x_t/\sqrt{\bar\alpha_t},\ \sigma_t)` with
   :math:`\sigma_t = \sqrt{1-\bar\alpha_t}/\sqrt{\bar\alpha_t}`;
2. DDIM(:math:`\eta`): :math:`\hat\epsilon = (x_t - \sqrt{\bar\alpha_t}\hat x_0)/\sqrt{1-\bar\alpha_t}`,
   :math:`\tilde\sigma = \eta\sqrt{\tfrac{1-\bar\alpha_{t'}}{1-\bar\alpha_t}}\sqrt{1-\tfrac{\bar\alpha_t}{\bar\alpha_{t'}}}`,
   :math:`x' = \sqrt{\bar\alpha_{t'}}\hat x_0 + \sqrt{1-\bar\alpha_{t'}-\tilde\sigma^2}\,\hat\epsilon + \tilde\sigma z`;
   :math:`\eta = 1` is DDPM's ancestral step (the DPS paper), :math:`\eta = 0` is deterministic;
3. DPS guidance, with the **unsquared** residual norm of the paper's code:
   :math:`x_{t'} = x' - \zeta\,\nabla_{x_t}\|y - A\hat x_0(x_t)\|_2`, the gradient taken
   through the denoiser by autograd, per sample.

Conventions: images and :math:`y` live on the diffusion scale :math:`[-1, 1]`, so a noise level
given for :math:`[0, 1]` images must be doubled (:func:`measure` takes it on the :math:`[-1, 1]`
scale). The step :math:`\zeta` is *not* :math:`1/\sigma_y^2`: the unsquared norm makes it a
step length, to be tuned together with ``steps`` and ``eta``. ``zeta = 0`` samples the prior.

Example
-------
>>> obs = measure(Inpainting(mask), x0, sigma_y=0.1, generator=g)       # x0 on [-1, 1]
>>> xs = dps_sample(D, obs.operator, obs, steps=200, zeta=1.0, x_shape=(8, 1, 32, 32), generator=g)
"""

from __future__ import annotations

import math
from typing import Callable, NamedTuple

import torch

from ..operators import Inpainting, add_gaussian_noise
from .schedule import alphas_cumprod, linear_betas, timesteps

__all__ = ["Observation", "measure", "tweedie", "ddim_step", "dps_sample"]


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
    if a == 1.0:
        return x0_hat
    eps = (x_t - math.sqrt(a) * x0_hat) / math.sqrt(1 - a)  # the noise the denoiser implies
    sig = eta * math.sqrt((1 - a2) / (1 - a)) * math.sqrt(1 - a / a2)
    out = math.sqrt(a2) * x0_hat + math.sqrt(max(1 - a2 - sig**2, 0.0)) * eps
    if sig > 0:
        if noise is None:
            raise ValueError("noise must be given when eta > 0")
        out = out + sig * noise
    return out


def _unpack(operator, y) -> tuple[Callable, torch.Tensor]:
    """Resolve the guidance operator; refuse one that is not the operator that made ``y``."""
    if isinstance(y, Observation):
        if operator is None:
            operator = y.operator
        elif operator is not y.operator:
            raise ValueError(
                "operator is not the operator that made y (y.operator): DPS would pull the sample towards "
                "data it was not measured with. Pass y.operator, or operator=None.")
        y = y.y
    if not callable(operator):
        raise TypeError(f"operator must be callable, got {type(operator).__name__}")
    if not isinstance(y, torch.Tensor):
        raise TypeError(f"y must be a torch.Tensor or an Observation, got {type(y).__name__}")
    if not bool(torch.isfinite(y).all()):
        raise ValueError("y must be finite (it contains NaN or inf)")
    return operator, y


def dps_sample(denoiser: Callable, operator, y, steps: int = 200, zeta: float = 1.0, eta: float = 1.0,
               x_shape: tuple[int, ...] | None = None, generator: torch.Generator | None = None,
               progress: bool = True, clip: bool = False) -> torch.Tensor:
    r"""Draw samples of :math:`p(x_0 \mid y)` with DPS (see the module docstring); returns ``x_shape`` on ``[-1, 1]``.

    Parameters
    ----------
    denoiser : ``D(x, sigma)``, the MMSE denoiser on ``[-1, 1]``.
    operator : the linear forward operator ``A``; must be the object that made ``y``
        when ``y`` is an :class:`Observation` (``None`` takes ``y.operator``).
    y : the measurement, a tensor ``(1|B, ...)`` or an :class:`Observation`.
    steps : number of DDIM steps, 1 to 1000 (evenly spaced over the 1000-step schedule).
    zeta : guidance step, >= 0; 0 samples the prior. Retune it when ``steps`` or ``eta`` change.
    eta : DDIM noise in ``[0, 1]``: 1 is DDPM's ancestral sampler (the DPS paper), 0 is deterministic.
    x_shape : ``(B, C, H, W)`` of the samples; default: the shape of ``A^T y`` (needs ``operator.adjoint``).
        ``B`` samples share a ``y`` with a batch of 1.
    generator : seeds the initial noise and every DDIM noise draw.
    progress : show a tqdm progress bar.
    clip : clamp :math:`\hat x_0` to ``[-1, 1]`` in the DDIM update (the residual uses the unclamped one).
    """
    from tqdm.auto import tqdm

    operator, y = _unpack(operator, y)
    if not callable(denoiser):
        raise TypeError(f"denoiser must be callable D(x, sigma), got {type(denoiser).__name__}")
    if not isinstance(steps, int) or isinstance(steps, bool) or not 1 <= steps <= 1000:
        raise ValueError(f"steps must be an int in [1, 1000], got {steps!r}")
    if not isinstance(zeta, (int, float)) or not math.isfinite(zeta) or zeta < 0:
        raise ValueError(f"zeta must be a finite number >= 0, got {zeta!r}")
    if not isinstance(eta, (int, float)) or not 0 <= eta <= 1:
        raise ValueError(f"eta must lie in [0, 1], got {eta!r}")
    if x_shape is None:
        if not hasattr(operator, "adjoint"):
            raise ValueError("x_shape must be given when operator has no adjoint to infer it from")
        x_shape = tuple(operator.adjoint(y).shape)
    x_shape = tuple(int(s) for s in x_shape)
    if len(x_shape) != 4 or min(x_shape) < 1:
        raise ValueError(f"x_shape must be (B, C, H, W) with positive sizes, got {x_shape!r}")
    try:
        with torch.no_grad():
            ay = operator(torch.zeros((1, *x_shape[1:]), dtype=y.dtype, device=y.device))
    except (ValueError, RuntimeError) as err:
        raise ValueError(f"the operator cannot be applied to images of x_shape {x_shape}: {err}") from err
    if ay.shape[1:] != y.shape[1:] or y.shape[0] not in (1, x_shape[0]):
        raise ValueError(f"y has shape {tuple(y.shape)} but the operator maps x_shape {x_shape} to "
                         f"{(x_shape[0], *ay.shape[1:])}: wrong operator, x_shape or y")

    abar = alphas_cumprod(linear_betas()).tolist()
    ts = timesteps(steps, len(abar)).tolist()
    dev, dtype = y.device, y.dtype

    def randn() -> torch.Tensor:  # drawn on the generator's device, then moved: same seed, same samples
        return torch.randn(x_shape, generator=generator, dtype=dtype,
                           device=generator.device if generator is not None else dev).to(dev)

    x = randn()  # x_T ~ N(0, I): abar_T ~ 4e-5, so x_T is pure noise to 3 decimals
    for i, t in enumerate(tqdm(ts, disable=not progress, desc="DPS", leave=False)):
        a, a_next = abar[t], (abar[ts[i + 1]] if i + 1 < len(ts) else 1.0)
        if zeta > 0:
            with torch.enable_grad():
                xt = x.detach().requires_grad_(True)
                x0_hat = tweedie(denoiser, xt, a)  # (B, C, H, W)
                resid = (y - operator(x0_hat)).flatten(1)  # (B, m)
                norm = resid.pow(2).sum(1).add(1e-20).sqrt()  # (B,): unsquared, one per sample
                (grad,) = torch.autograd.grad(norm.sum(), xt)
            x0_hat = x0_hat.detach()
        else:
            with torch.no_grad():
                x0_hat, grad = tweedie(denoiser, x, a), None
        x0_upd = x0_hat.clamp(-1.0, 1.0) if clip else x0_hat
        with torch.no_grad():
            x = ddim_step(x, x0_upd, a, a_next, eta, randn() if eta > 0 else None)
            if grad is not None:
                x = x - zeta * grad
    return x.detach()
