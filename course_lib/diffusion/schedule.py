r"""The DDPM forward process and its noise schedule (Ho et al., 2020, "Denoising diffusion probabilistic models").

A clean image :math:`x_0` on :math:`[-1, 1]` is corrupted in :math:`T = 1000` small steps
:math:`x_t = \sqrt{1-\beta_t}\,x_{t-1} + \sqrt{\beta_t}\,\epsilon`, which compose to

.. math::

    x_t = \sqrt{\bar\alpha_t}\,x_0 + \sqrt{1-\bar\alpha_t}\,\epsilon
        = \sqrt{\bar\alpha_t}\,\big(x_0 + \sigma_t\,\epsilon\big),\qquad
    \bar\alpha_t = \prod_{s \le t} (1 - \beta_s),\qquad
    \sigma_t = \frac{\sqrt{1-\bar\alpha_t}}{\sqrt{\bar\alpha_t}} .

So :math:`x_t / \sqrt{\bar\alpha_t}` is the clean image plus Gaussian noise of standard
deviation :math:`\sigma_t`, and any denoiser :math:`D(x, \sigma)` trained on that
"variance-exploding" form serves the DDPM chain: :math:`\hat x_0(x_t) = D(x_t/\sqrt{\bar\alpha_t}, \sigma_t)`.

Example
-------
>>> abar = alphas_cumprod(linear_betas())        # (1000,)
>>> sig = sigmas(abar)                             # 0.01 ... 157
>>> ts = timesteps(200)                            # 995, 990, ..., 0
"""

from __future__ import annotations

import torch

__all__ = ["linear_betas", "alphas_cumprod", "sigmas", "timesteps"]


def linear_betas(n: int = 1000, start: float = 1e-4, end: float = 2e-2, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    r"""The linear schedule :math:`\beta_t`, ``n`` values from ``start`` to ``end`` (Ho et al., 2020)."""
    if not isinstance(n, int) or isinstance(n, bool) or n < 2:
        raise ValueError(f"n must be an int >= 2, got {n!r}")
    if not (0 < start < end < 1):
        raise ValueError(f"start and end must satisfy 0 < start < end < 1, got start={start!r}, end={end!r}")
    return torch.linspace(start, end, n, dtype=dtype)


def alphas_cumprod(betas: torch.Tensor) -> torch.Tensor:
    r""":math:`\bar\alpha_t = \prod_{s \le t} (1 - \beta_s)`, same shape as ``betas``."""
    if not isinstance(betas, torch.Tensor) or betas.dim() != 1:
        raise ValueError(f"betas must be a 1-D tensor, got {getattr(betas, 'shape', type(betas).__name__)}")
    if not bool(torch.all((betas > 0) & (betas < 1))):
        raise ValueError("betas must lie in (0, 1)")
    return torch.cumprod(1.0 - betas, dim=0)


def sigmas(abar: torch.Tensor) -> torch.Tensor:
    r"""Noise level of the rescaled chain, :math:`\sigma_t = \sqrt{1-\bar\alpha_t}/\sqrt{\bar\alpha_t}`."""
    if not isinstance(abar, torch.Tensor) or not bool(torch.all((abar > 0) & (abar < 1))):
        raise ValueError("abar must be a tensor with values in (0, 1)")
    return ((1.0 - abar) / abar).sqrt()


def timesteps(steps: int, n: int = 1000) -> torch.Tensor:
    """``steps`` decreasing indices into the ``n``-step schedule, ending at 0 (``long``, shape ``(steps,)``).

    With ``n % steps == 0`` this is ``n - n//steps, ..., n//steps, 0`` shifted to end at 0,
    i.e. ``range(0, n, n//steps)`` reversed, as in DDIM (Song et al., 2021); otherwise the
    indices are rounded from an even grid.
    """
    if not isinstance(steps, int) or isinstance(steps, bool) or not 1 <= steps <= n:
        raise ValueError(f"steps must be an int in [1, {n}], got {steps!r}")
    if n % steps == 0:
        return torch.arange(0, n, n // steps).flip(0)
    return torch.linspace(0, n - 1, steps, dtype=torch.float64).round().long().flip(0)
