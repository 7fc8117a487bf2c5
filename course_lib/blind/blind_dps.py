r"""Blind diffusion posterior sampling: two reverse diffusions, one for the image and one for the kernel.

Chung, Kim, Kim & Ye, "Parallel diffusion models of operator and image for blind inverse
problems", CVPR 2023 (BlindDPS). With an image prior :math:`D_x` and a kernel prior
:math:`D_k` (both MMSE denoisers on the diffusion scale, :mod:`course_lib.diffusion`), run the
two DDIM(:math:`\eta`) chains of chapter 3's :func:`~course_lib.diffusion.dps_sample` side by
side, :math:`x_t` for the image and :math:`z_t` for the kernel (:func:`.kernel_prior.to_model`
scale), and guide both by the *same* residual of their Tweedie estimates:

.. math::

    \hat x_0 = D_x\big(x_t/\sqrt{\bar\alpha_t}, \sigma_t\big),\quad
    \hat k_0 = \Pi\big(D_k(z_t/\sqrt{\bar\alpha_t}, \sigma_t)\big),\quad
    r = y - \hat k_0 * \hat x_0,

    x_{t'} = \mathrm{DDIM}(x_t, \hat x_0) - \zeta_x\,\nabla_{x_t}\|r\|_2,\qquad
    z_{t'} = \mathrm{DDIM}(z_t, \hat z_0) - \zeta_k\,\nabla_{z_t}\|r\|_2,

with :math:`\Pi` = :func:`.kernel_prior.from_model` (clip, normalise: the kernel stays on the
simplex) and the gradients taken through both denoisers by autograd, one norm per sample. The
blur is circular (``padding="circular"``). The paper's step :math:`\zeta'/\|r\|\,\nabla\|r\|^2`
equals :math:`2\zeta'\nabla\|r\|`, as in chapter 3; the paper adds an optional sparsity penalty on
the kernel, left out here.

Example
-------
>>> import torch
>>> from course_lib.diffusion import load_digit_denoiser
>>> from course_lib.diffusion.pretrained import load_kernel_denoiser
>>> y = torch.zeros(2, 1, 32, 32) - 1.0                      # (B, 1, 32, 32) on [-1, 1]
>>> D_image, D_kernel = load_digit_denoiser(), load_kernel_denoiser()
>>> x, k = blind_dps_sample(D_image, D_kernel, y, 9, steps=5,
...                         zeta_image=1.0, zeta_kernel=0.5, progress=False)
>>> x.shape, k.shape, [round(float(s), 4) for s in k.sum((-2, -1)).flatten()]
(torch.Size([2, 1, 32, 32]), torch.Size([2, 1, 9, 9]), [1.0, 1.0])
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from ..convolution import convolve2d
from ..diffusion.sampler import ddim_step, standard_normal, tweedie
from ..diffusion.schedule import alphas_cumprod, linear_betas, timesteps
from .kernel_prior import from_model

__all__ = ["blind_dps_sample"]


def blind_dps_sample(image_denoiser: Callable, kernel_denoiser: Callable, y: torch.Tensor, kernel_size: int,
                     steps: int = 200, zeta_image: float = 1.0, zeta_kernel: float = 0.3, eta: float = 1.0,
                     generator: torch.Generator | None = None, clip: bool = True, progress: bool = True,
                     callback: Callable[[int, torch.Tensor, torch.Tensor], None] | None = None,
                     ) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Sample :math:`(x, k)` jointly from :math:`p(x, k \mid y)` with BlindDPS (see the module docstring).

    Parameters
    ----------
    image_denoiser : ``D_x(x, sigma)`` on ``[-1, 1]`` images of ``y``'s shape.
    kernel_denoiser : ``D_k(z, sigma)`` on ``(B, 1, kernel_size, kernel_size)`` kernels on the
        :func:`.kernel_prior.to_model` scale.
    y : ``(B, 1, H, W)`` measurements on ``[-1, 1]``, ``y = k * x0 + n`` (circular), one per sample.
    kernel_size : odd side of the kernel.
    steps : DDIM steps, 1 to 1000, evenly spaced over the 1000-step linear schedule.
    zeta_image, zeta_kernel : guidance steps (>= 0) of the two chains.
    eta : DDIM noise in ``[0, 1]`` (1 = ancestral, the papers' choice).
    generator : seeds both chains' initial noise and every noise draw.
    clip : clamp :math:`\hat x_0` and :math:`\hat z_0` to ``[-1, 1]`` in the DDIM update.
    callback : ``callback(i, x0_hat, k0_hat)`` at every step (e.g. to record frames).

    Returns ``(x, k)``: samples on ``[-1, 1]`` of ``y``'s shape and kernels ``(B, 1, h, h)`` on the simplex.
    """
    from tqdm.auto import tqdm

    if not callable(image_denoiser) or not callable(kernel_denoiser):
        raise TypeError("image_denoiser and kernel_denoiser must be callables D(x, sigma)")
    if not isinstance(y, torch.Tensor) or y.dim() != 4 or not y.is_floating_point():
        raise ValueError(f"y must be a floating (B, C, H, W) tensor, got {getattr(y, 'shape', type(y).__name__)}")
    if not bool(torch.isfinite(y).all()):
        raise ValueError("y must be finite (it contains NaN or inf)")
    if not isinstance(kernel_size, int) or isinstance(kernel_size, bool) or kernel_size < 3 or kernel_size % 2 == 0:
        raise ValueError(f"kernel_size must be an odd int >= 3, got {kernel_size!r}")
    if kernel_size > min(y.shape[-2:]):
        raise ValueError(f"kernel_size {kernel_size} is larger than the image y of size {tuple(y.shape[-2:])}")
    if not isinstance(steps, int) or isinstance(steps, bool) or not 1 <= steps <= 1000:
        raise ValueError(f"steps must be an int in [1, 1000], got {steps!r}")
    for name, val in (("zeta_image", zeta_image), ("zeta_kernel", zeta_kernel)):
        if not isinstance(val, (int, float)) or not math.isfinite(val) or val < 0:
            raise ValueError(f"{name} must be a finite number >= 0, got {val!r}")
    if not isinstance(eta, (int, float)) or not 0 <= eta <= 1:
        raise ValueError(f"eta must lie in [0, 1], got {eta!r}")
    abar = alphas_cumprod(linear_betas()).tolist()
    ts = timesteps(steps, len(abar)).tolist()
    x_shape = tuple(y.shape)
    z_shape = (y.shape[0], 1, kernel_size, kernel_size)
    dev, dt = y.device, y.dtype

    def randn(shape: tuple[int, ...]) -> torch.Tensor:
        return standard_normal(shape, generator, dt, dev)

    x, z = randn(x_shape), randn(z_shape)  # x_T, z_T ~ N(0, I)
    for i, t in enumerate(tqdm(ts, disable=not progress, desc="blind DPS", leave=False)):
        a, a_next = abar[t], (abar[ts[i + 1]] if i + 1 < len(ts) else 1.0)
        with torch.enable_grad():
            xt = x.detach().requires_grad_(True)
            zt = z.detach().requires_grad_(True)
            x0 = tweedie(image_denoiser, xt, a)  # (B, 1, H, W)
            z0 = tweedie(kernel_denoiser, zt, a)  # (B, 1, h, h)
            k0 = from_model(z0)  # on the simplex, differentiable where positive
            resid = (y - convolve2d(x0, k0, padding="circular")).flatten(1)  # (B, m)
            norm = resid.pow(2).sum(1).add(1e-20).sqrt()  # (B,)
            gx, gz = torch.autograd.grad(norm.sum(), (xt, zt))
        if callback is not None:
            callback(i, x0.detach(), k0.detach())
        with torch.no_grad():
            x0u = x0.clamp(-1, 1) if clip else x0
            z0u = z0.clamp(-1, 1) if clip else z0
            noise_x = randn(x_shape) if eta > 0 else None
            noise_z = randn(z_shape) if eta > 0 else None
            x = ddim_step(x, x0u.detach(), a, a_next, eta, noise_x) - zeta_image * gx
            z = ddim_step(z, z0u.detach(), a, a_next, eta, noise_z) - zeta_kernel * gz
    return x.detach(), from_model(z.detach())
