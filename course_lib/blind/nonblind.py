r"""Non-blind deconvolution: the image from :math:`y = k * x + n` when the kernel :math:`k` is known.

All three solvers assume the circular boundary of :class:`~course_lib.operators.Blur` with
``padding="circular"`` (kernel centre at ``(h//2, w//2)``), so the blur is diagonal in the
Fourier basis: :math:`\widehat{k * x} = \hat k\,\hat x` with :math:`\hat k` the transfer function
(:func:`transfer_function`).

* :func:`wiener` -- the Wiener--Hunt filter with a Laplacian regulariser, as
  ``skimage.restoration.wiener`` defines it:
  :math:`\hat x = \overline{\hat k}\,\hat y / (|\hat k|^2 + b\,|\hat\ell|^2)`, with :math:`\ell` the
  5-point Laplacian and :math:`b` the ``balance`` (``tests/test_blind.py`` checks it against skimage).
* :func:`tikhonov_cg` -- :math:`\min_x \tfrac12\|k * x - y\|^2 + \tfrac\mu2\|\nabla x\|^2`, solved by
  conjugate gradients on the normal equations
  :math:`(A^\top A + \mu\nabla^\top\nabla)x = A^\top y`, applying :math:`A^\top` by
  :meth:`Blur.adjoint <course_lib.operators.Blur.adjoint>` (chapter 3's
  :func:`~course_lib.diffusion.baselines.tikhonov`, which works for any operator with an adjoint).
* :func:`tv_deconvolve` -- :math:`\min_x \tfrac12\|k * x - y\|^2 + \lambda\,\mathrm{TV}(x)`, isotropic
  TV :math:`\sum_p \|(\nabla x)_p\|_2` with periodic differences, by ADMM on the split
  :math:`z = \nabla x` (Boyd, Parikh, Chu, Peleato & Eckstein 2011, *Distributed optimization and statistical
  learning via ADMM*; the ``x``-update is one division in
  the Fourier domain, the ``z``-update a vector shrinkage).

Example
-------
>>> import torch
>>> from course_lib.operators import Blur
>>> x = torch.rand(1, 1, 32, 32, generator=torch.Generator().manual_seed(0))
>>> k = torch.ones(1, 1, 3, 3) / 9
>>> y = Blur(k, padding="circular")(x)
>>> x_hat = tv_deconvolve(y, k, lam=1e-4, n_iter=200)
>>> float((x_hat - x).abs().mean()) < float((y - x).abs().mean())
True
"""

from __future__ import annotations

import math

import torch
from torch.nn import functional as F

from ..diffusion.baselines import tikhonov
from ..operators import Blur

__all__ = ["estimate_noise", "transfer_function", "wiener", "tikhonov_cg", "tv_deconvolve", "grad_periodic", "check_pair"]

LAPLACIAN = torch.tensor([[0.0, -1.0, 0.0], [-1.0, 4.0, -1.0], [0.0, -1.0, 0.0]])


def check_pair(y: torch.Tensor, kernel: torch.Tensor) -> None:
    """Raise ``ValueError``/``TypeError`` naming the argument unless ``y`` and ``kernel`` fit together."""
    if not isinstance(y, torch.Tensor) or y.dim() != 4 or not y.is_floating_point():
        raise ValueError(f"y must be a floating (B, C, H, W) tensor, got {getattr(y, 'shape', type(y).__name__)}")
    if not isinstance(kernel, torch.Tensor) or kernel.dim() != 4 or kernel.shape[1] != 1:
        raise ValueError(f"kernel must be a (1|B, 1, h, w) tensor, got {getattr(kernel, 'shape', type(kernel).__name__)}")
    if kernel.shape[0] not in (1, y.shape[0]):
        raise ValueError(f"kernel batch {kernel.shape[0]} must be 1 or y's batch {y.shape[0]}")
    if kernel.shape[-2] > y.shape[-2] or kernel.shape[-1] > y.shape[-1]:
        raise ValueError(f"kernel of size {tuple(kernel.shape[-2:])} is larger than y of size {tuple(y.shape[-2:])}")
    if not bool(torch.isfinite(y).all()):
        raise ValueError("y must be finite (it contains NaN or inf)")
    if not bool(torch.isfinite(kernel).all()):
        raise ValueError("kernel must be finite (it contains NaN or inf)")


def estimate_noise(y: torch.Tensor) -> torch.Tensor:
    r"""Noise standard deviation per image from the finest diagonal Haar detail, by the median rule.

    :math:`\hat\sigma = \mathrm{median}|d| / 0.6745` with :math:`d = (y_{2i,2j} - y_{2i+1,2j} - y_{2i,2j+1}
    + y_{2i+1,2j+1})/2`, which has the noise's variance and almost none of a blurred image's signal
    (Donoho & Johnstone, "Ideal spatial adaptation by wavelet shrinkage", Biometrika 1994).
    ``y`` ``(B, C, H, W)`` -> ``(B,)``.
    """
    H, W = y.shape[-2:]
    v = y[..., : H // 2 * 2, : W // 2 * 2]
    d = (v[..., 0::2, 0::2] - v[..., 1::2, 0::2] - v[..., 0::2, 1::2] + v[..., 1::2, 1::2]) / 2
    return d.abs().flatten(1).median(dim=1).values / 0.6745


def transfer_function(kernel: torch.Tensor, shape: tuple[int, int]) -> torch.Tensor:
    """``rfft2`` of ``kernel`` ``(.., h, w)`` zero-padded to ``shape`` with its centre ``(h//2, w//2)`` at the origin."""
    h, w = kernel.shape[-2:]
    k = F.pad(kernel, (0, shape[1] - w, 0, shape[0] - h))
    return torch.fft.rfft2(torch.roll(k, shifts=(-(h // 2), -(w // 2)), dims=(-2, -1)))


def wiener(y: torch.Tensor, kernel: torch.Tensor, balance: float = 0.01) -> torch.Tensor:
    r"""Wiener--Hunt deconvolution :math:`\overline{\hat k}\hat y/(|\hat k|^2 + b|\hat\ell|^2)`, circular boundary.

    The same filter as ``skimage.restoration.wiener(y, kernel, balance, clip=False)`` (Laplacian
    regulariser), for a batch. ``balance`` :math:`b > 0` trades noise for sharpness.
    """
    check_pair(y, kernel)
    if not (isinstance(balance, (int, float)) and balance > 0 and math.isfinite(balance)):
        raise ValueError(f"balance must be a positive number, got {balance!r}")
    H, W = y.shape[-2:]
    K = transfer_function(kernel.to(y.dtype), (H, W))  # (1|B, 1, H, W//2+1)
    Lap = transfer_function(LAPLACIAN.to(y)[None, None], (H, W))
    filt = K.conj() / (K.abs() ** 2 + balance * Lap.abs() ** 2)
    return torch.fft.irfft2(filt * torch.fft.rfft2(y), s=(H, W))


def tikhonov_cg(y: torch.Tensor, kernel: torch.Tensor, mu: float = 1e-3, n_iter: int = 200) -> torch.Tensor:
    r"""Gradient-regularised least squares :math:`\tfrac12\|k*x-y\|^2 + \tfrac\mu2\|\nabla x\|^2` by CG.

    The blur's adjoint is :meth:`Blur.adjoint <course_lib.operators.Blur.adjoint>` (circular padding);
    the CG loop is chapter 3's :func:`~course_lib.diffusion.baselines.tikhonov`.
    """
    check_pair(y, kernel)
    if not (isinstance(mu, (int, float)) and mu > 0):
        raise ValueError(f"mu must be a positive number, got {mu!r}")
    return tikhonov(Blur(kernel.detach().to(y.dtype), padding="circular"), y, lam=float(mu), iters=n_iter)


def grad_periodic(x: torch.Tensor) -> torch.Tensor:
    """Forward differences with a periodic boundary: ``(B, C, H, W)`` -> ``(B, C, 2, H, W)`` (d/dx, d/dy)."""
    return torch.stack([torch.roll(x, -1, dims=-1) - x, torch.roll(x, -1, dims=-2) - x], dim=2)


def _grad_adjoint(g: torch.Tensor) -> torch.Tensor:
    """The adjoint of :func:`grad_periodic` (minus a periodic divergence)."""
    gx, gy = g[:, :, 0], g[:, :, 1]
    return (torch.roll(gx, 1, dims=-1) - gx) + (torch.roll(gy, 1, dims=-2) - gy)


def tv_deconvolve(y: torch.Tensor, kernel: torch.Tensor, lam: float = 2e-3, n_iter: int = 100,
                  rho: float | None = None, x0: torch.Tensor | None = None) -> torch.Tensor:
    r"""Isotropic-TV deconvolution :math:`\min_x \tfrac12\|k*x-y\|^2 + \lambda\sum_p\|(\nabla x)_p\|_2` by ADMM.

    Split :math:`z = \nabla x` with scaled dual :math:`u` and penalty :math:`\rho` (default
    :math:`10\lambda`, floored at 1e-4); each iteration

    * :math:`x = \mathcal F^{-1}\big[(\overline{\hat k}\hat y + \rho\,\widehat{\nabla^\top(z-u)})
      / (|\hat k|^2 + \rho\,|\hat d|^2)\big]` (exact: every term is a circular convolution),
    * :math:`z = \mathrm{shrink}(\nabla x + u,\ \lambda/\rho)`, the per-pixel vector soft threshold,
    * :math:`u \mathrel{+}= \nabla x - z`.

    ``kernel`` is ``(1|B, 1, h, w)``, shared by the channels; ``x0`` warm-starts ``z = \nabla x0``.
    """
    check_pair(y, kernel)
    if not (isinstance(lam, (int, float)) and lam >= 0 and math.isfinite(lam)):
        raise ValueError(f"lam must be a finite number >= 0, got {lam!r}")
    if not isinstance(n_iter, int) or n_iter < 1:
        raise ValueError(f"n_iter must be a positive int, got {n_iter!r}")
    rho = max(10.0 * lam, 1e-4) if rho is None else float(rho)
    H, W = y.shape[-2:]
    K = transfer_function(kernel.to(y.dtype), (H, W))  # (1|B, 1, H, W//2+1)
    d = torch.zeros(2, 1, H, W, dtype=y.dtype, device=y.device)
    d[0, 0, 0, 0], d[0, 0, 0, -1] = -1.0, 1.0  # d/dx as a circular convolution with the kernel at the origin
    d[1, 0, 0, 0], d[1, 0, -1, 0] = -1.0, 1.0
    D2 = (torch.fft.rfft2(d).abs() ** 2).sum(0)  # (1, H, W//2+1): |d_x|^2 + |d_y|^2
    denom = K.abs() ** 2 + rho * D2
    KY = K.conj() * torch.fft.rfft2(y)
    x = y.clone() if x0 is None else x0.detach().clone()
    z = grad_periodic(x)  # (B, C, 2, H, W)
    u = torch.zeros_like(z)
    for _ in range(n_iter):
        x = torch.fft.irfft2((KY + rho * torch.fft.rfft2(_grad_adjoint(z - u))) / denom, s=(H, W))
        gx = grad_periodic(x)
        v = gx + u
        mag = torch.hypot(v[:, :, :1], v[:, :, 1:])  # (B, C, 1, H, W); faster than norm(dim=2)
        z = v * (1 - (lam / rho) / mag.clamp_min(1e-12)).clamp_min(0.0)
        u = u + gx - z
    return x
