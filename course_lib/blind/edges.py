r"""The latent image of the kernel step: sharp edges from an :math:`\ell_0` gradient prior.

To estimate the kernel, the latent image need not be a good picture: it must have the *sharp
edges* of the true image and nothing else, because the kernel is what turns those edges into the
blurred edges of :math:`y` (Cho & Lee, "Fast motion deblurring", SIGGRAPH Asia 2009,
predict them with shock filters and gradient thresholding). A TV latent image does not do this
reliably: blur lowers the TV of an image, so the TV alternation drifts from the true kernel
towards the delta (Levin et al. 2009; chapter 5 measures the drift, and that the
:math:`\ell_0` alternation drifts less). The :math:`\ell_0` gradient prior counts edges instead of weighing
them, and a blurred edge costs *more* than a sharp one (many small gradients instead of one):

.. math::  \min_x\ \tfrac12\|k * x - y\|^2 + \lambda\,\#\{p : (\nabla x)_p \ne 0\},

solved by half-quadratic splitting (Xu, Lu, Xu & Jia, "Image smoothing via L0 gradient
minimization", SIGGRAPH Asia 2011; used for deblurring by Pan, Hu, Su & Yang, CVPR 2014): with :math:`z \approx \nabla x` and :math:`\beta` doubling from
:math:`2\lambda`,

* :math:`z_p = (\nabla x)_p` if :math:`\|(\nabla x)_p\|^2 > \lambda/\beta`, else :math:`0` (exact minimiser in :math:`z`),
* :math:`x = \mathcal F^{-1}\big[(\overline{\hat k}\hat y + \beta\,\widehat{\nabla^\top z})
  / (|\hat k|^2 + \beta|\hat d|^2)\big]` (exact minimiser in :math:`x`, circular boundary).

Example
-------
>>> import torch
>>> y = torch.zeros(1, 1, 16, 16); y[..., 8:] = 1.0                # a step edge
>>> x = l0_latent(y, torch.ones(1, 1, 1, 1), lam=1e-2)   # no blur: the edge survives
>>> float((x - y).abs().max()) < 1e-2
True
"""

from __future__ import annotations

import math

import torch

from .nonblind import _grad_adjoint, check_pair, grad_periodic, transfer_function

__all__ = ["l0_latent"]


def l0_latent(y: torch.Tensor, kernel: torch.Tensor, lam: float = 4e-3, beta_max: float = 1e5) -> torch.Tensor:
    r"""Piecewise-constant latent image of :math:`\min_x \tfrac12\|k*x-y\|^2 + \lambda\|\nabla x\|_0` (see above).

    ``y`` ``(B, C, H, W)``, ``kernel`` ``(1|B, 1, h, w)``; :math:`\beta` doubles from :math:`2\lambda`
    to ``beta_max`` (about 25 half-quadratic iterations).
    """
    check_pair(y, kernel)
    if not (isinstance(lam, (int, float)) and lam > 0 and math.isfinite(lam)):
        raise ValueError(f"lam must be a positive number, got {lam!r}")
    H, W = y.shape[-2:]
    K = transfer_function(kernel.to(y.dtype), (H, W))  # (1|B, 1, H, W//2+1)
    d = torch.zeros(2, 1, H, W, dtype=y.dtype, device=y.device)
    d[0, 0, 0, 0], d[0, 0, 0, -1] = -1.0, 1.0  # the forward differences as circular convolutions
    d[1, 0, 0, 0], d[1, 0, -1, 0] = -1.0, 1.0
    D2 = (torch.fft.rfft2(d).abs() ** 2).sum(0)  # (1, H, W//2+1)
    KY, K2 = K.conj() * torch.fft.rfft2(y), K.abs() ** 2
    x, beta = y.clone(), 2.0 * lam
    while beta < beta_max:
        g = grad_periodic(x)  # (B, C, 2, H, W)
        z = g * ((g**2).sum(2, keepdim=True) > lam / beta)
        x = torch.fft.irfft2((KY + beta * torch.fft.rfft2(_grad_adjoint(z))) / (K2 + beta * D2), s=(H, W))
        beta *= 2.0
    return x
