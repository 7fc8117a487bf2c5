r"""Blind deconvolution that works: alternating projected steps, coarse to fine.

Given only :math:`y = k * x + n` (circular boundary), the joint MAP problem

.. math::  \min_{x,\ k \in \Delta}\ \tfrac12\|k * x - y\|^2 + \lambda\,\mathrm{TV}(x)

has the no-blur pair as its global minimiser (see :mod:`.trap`). Perrone & Favaro ("Total
variation blind deconvolution: the devil is in the details", CVPR 2014) show that TV blind
deconvolution works in practice thanks to details of its implementation, whose steps do not
minimise that objective exactly. This scheme is built from details of that kind -- a few steps on
each variable, never the exact minimiser; a *large* :math:`\lambda` at first, decreased over the
iterations; coarse to fine over an image pyramid -- and two more:

* the kernel step is chapter 1's projected gradient descent on the simplex in the *gradient
  domain*, :math:`\min_{k\in\Delta}\tfrac12\|k * \nabla x - \nabla y\|^2` (:func:`kernel_step`),
  which weights the edges, where the blur shows (Cho & Lee 2009);
* the latent image of the kernel step is a sharp-edge image from an :math:`\ell_0` gradient prior
  (:func:`~.edges.l0_latent`, ``latent="l0"``, the default) rather than the TV image
  (``latent="tv"``): started from the true kernel, with noise, both alternations drift away from it
  and the TV one drifts further (chapter 5 measures both over six draws).

One outer iteration at one pyramid level: (1) the latent image with the current kernel and
weight :math:`\lambda_t`; (2) ``k_iter`` PGD steps on the kernel; (3)
:math:`\lambda_{t+1} = \max(\rho\lambda_t, \lambda_\text{min})`. Between levels (scale factor
:math:`1/\sqrt2`) the image is upsampled bilinearly, the kernel array is resized to the next
window and re-projected on the simplex (``transfer="scale"`` stretches it by the image's factor
instead, :func:`upsample_kernel`), and shifted so that its centre of mass is at its centre (a shifted kernel with a
shifted image explains :math:`y` equally well, so the shift is free; centring keeps the kernel's
mass inside its window). After the last level, ``refine`` more outer iterations at full size
use a latent weight that follows the noise, :math:`0.2\hat\sigma` (lower than the schedule's
floor at the noise levels of chapter 5), and more kernel steps: the finest level is where the
kernel's detail is read, and the schedule alone leaves it short of converged (on the development
photograph and five other ``skimage`` images, none of them in chapter 5's test set, this lowers
the mean kernel error from 0.78 to 0.61: ``benchmarks/bench_blind_refine.py``). The image returned is a non-blind TV deconvolution
(:func:`~.nonblind.tv_deconvolve`) with the estimated kernel, at a weight proportional to the
noise level estimated from :math:`y`.

Example
-------
>>> import torch
>>> from course_lib.data import load_image
>>> from course_lib.kernels import motion_blur_kernel
>>> from course_lib.operators import Blur
>>> from course_lib.blind import kernel_error
>>> x = load_image("camera", size=96, color=False)
>>> k = motion_blur_kernel(11, generator=torch.Generator().manual_seed(2))
>>> y = Blur(k, padding="circular")(x)
>>> x_hat, k_hat = tv_blind_deconvolution(y, 11, progress=False)
>>> kernel_error(k_hat, k) < 0.4
True
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch.nn import functional as F

from ..kernel_estimation import fista_simplex, polish_on_support
from ..projections import project_simplex
from .edges import l0_latent
from .nonblind import estimate_noise, grad_periodic, tv_deconvolve

__all__ = ["upsample_kernel", "kernel_step", "kernel_solve", "kernel_normal_equations", "kernel_lipschitz", "pyramid_sizes", "tv_blind_deconvolution", "centre_kernel"]

DIMS = (-2, -1)


def kernel_lipschitz(x: torch.Tensor) -> torch.Tensor:
    r"""Per-image Lipschitz constant of :math:`\nabla_k \tfrac12\sum_c\|k * x_c - y_c\|^2` on the simplex (circular).

    :math:`L_b = \max_{f \ne 0} \sum_c |\hat x_{b,c}(f)|^2`. Two kernels of the simplex differ by a
    zero-sum :math:`d` (:math:`\hat d(0) = 0`), and by Parseval
    :math:`\sum_c\|d * x_c\|^2 = \tfrac1{HW}\sum_{f \ne 0}\sum_c|\hat x_c(f)|^2|\hat d(f)|^2 \le L_b\|d\|^2`:
    the gradient is :math:`L_b`-Lipschitz along the simplex, so the step :math:`1/L_b` decreases the
    objective (chapter 1's zero-sum Lipschitz constant, here in closed form; leaving out the
    frequency 0, the image's brightness, matters in the image domain). ``x`` ``(B, C, H, W)`` -> ``(B,)``.
    """
    return _lipschitz((torch.fft.rfft2(x).abs() ** 2).sum(1))


def _lipschitz(power: torch.Tensor) -> torch.Tensor:
    """:func:`kernel_lipschitz` from the channel-summed power spectrum ``(B, H, W//2+1)``."""
    p = power.clone()
    p[:, 0, 0] = 0.0
    return p.flatten(1).amax(1)


def _spectra(x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Channel sums :math:`\sum_c|\hat x_c|^2` and :math:`\sum_c\hat y_c\overline{\hat x_c}`, each ``(B, H, W//2+1)``."""
    X = torch.fft.rfft2(x)
    return (X.abs() ** 2).sum(1), (torch.fft.rfft2(y) * X.conj()).sum(1)


def _window_equations(power: torch.Tensor, cross: torch.Tensor, image: tuple[int, int],
                      size: tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor]:
    """``M`` and ``b`` of :func:`kernel_normal_equations` from :func:`_spectra`."""
    H, W = image
    h, w = size
    A = torch.fft.irfft2(power, s=(H, W))  # (B, H, W): autocorrelation
    C = torch.fft.irfft2(cross, s=(H, W))  # cross-correlation
    ii = torch.arange(h, device=power.device).repeat_interleave(w)  # window position m = (ii, jj), row-major
    jj = torch.arange(w, device=power.device).repeat(h)
    M = A[:, (ii[:, None] - ii[None, :]) % H, (jj[:, None] - jj[None, :]) % W]  # (B, hw, hw)
    b = C[:, (ii - h // 2) % H, (jj - w // 2) % W]  # (B, hw)
    return M, b


def kernel_normal_equations(x: torch.Tensor, y: torch.Tensor, size: tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor]:
    r"""The gradient of :math:`f(k) = \tfrac12\sum_c\|k * x_c - y_c\|^2` as :math:`\nabla f(k) = Mk - b` (circular).

    With the kernel's centre :math:`c` and :math:`(k * x)_i = \sum_m k_m x_{i-m+c}`,

    .. math::  \nabla f(k)_m = \sum_{m'} k_{m'} A(m - m') - C(m - c),\quad
               A(d) = \sum_{c,j} x_{c,j+d}\,x_{c,j},\quad C(d) = \sum_{c,j} y_{c,j+d}\,x_{c,j},

    the circular auto- and cross-correlations, one inverse FFT each. ``M`` is the ``hw x hw``
    matrix :math:`A(m - m')` and ``b`` the vector :math:`C(m - c)` over the kernel's window, so a
    gradient step costs one small matrix product instead of two image-sized FFT convolutions.
    ``x``, ``y`` ``(B, C, H, W)``; ``size`` ``(h, w)``; returns ``M`` ``(B, hw, hw)`` and ``b`` ``(B, hw)``.
    """
    return _window_equations(*_spectra(x, y), tuple(x.shape[-2:]), size)


def kernel_step(x: torch.Tensor, y: torch.Tensor, kernel: torch.Tensor, n_iter: int = 20,
                gradient_domain: bool = True, normalise: str = "project") -> torch.Tensor:
    r"""Projected gradient descent on :math:`\tfrac12\|k * \nabla x - \nabla y\|^2` over the simplex.

    Chapter 1's PGD (:func:`~course_lib.kernel_estimation.pgd`) with the circular boundary, one
    kernel per image (``kernel`` ``(B, 1, h, w)``) and one safe step :math:`1/L_b` per image
    (:func:`kernel_lipschitz`): :math:`k \leftarrow \Pi_\Delta(k - \nabla f(k)/L_b)`, which
    decreases :math:`f` at every step and keeps :math:`k` on the simplex. The gradient is
    :math:`Mk - b` (:func:`kernel_normal_equations`, computed once: ``x`` and ``y`` do not change
    during the step). ``gradient_domain=False`` fits :math:`k * x` to :math:`y` instead.

    ``normalise="delayed"`` replaces the projection by Perrone & Favaro's (CVPR 2014, Alg. 1)
    *delayed normalisation*, :math:`k \leftarrow \max(k - \tau\nabla f, 0)`, then
    :math:`k \leftarrow k / \sum k`: not a projection (it is not the nearest point of the
    simplex), and not a descent method for :math:`f` on it; small positive entries survive it,
    where the projection's common threshold zeroes them.
    """
    if not isinstance(n_iter, int) or n_iter < 1:
        raise ValueError(f"n_iter must be a positive int, got {n_iter!r}")
    if normalise not in ("project", "delayed"):
        raise ValueError(f"normalise must be 'project' or 'delayed', got {normalise!r}")
    if gradient_domain:
        x, y = grad_periodic(x).flatten(1, 2), grad_periodic(y).flatten(1, 2)  # (B, 2C, H, W)
    h, w = kernel.shape[-2:]
    power, cross = _spectra(x, y)  # one FFT of x serves the step size and the normal equations
    step = 1.0 / _lipschitz(power).clamp_min(1e-12)[:, None]  # (B, 1)
    M, b = _window_equations(power, cross, tuple(x.shape[-2:]), (h, w))
    k = kernel.detach().expand(x.shape[0], 1, h, w).reshape(x.shape[0], h * w)
    for _ in range(n_iter):
        g = torch.baddbmm(-b[:, :, None], M, k[:, :, None])[:, :, 0]  # (B, hw): M k - b
        if normalise == "project":
            k = project_simplex(k - step * g, dim=-1)
        else:
            k = (k - step * g).clamp_min(0)
            k = k / k.sum(-1, keepdim=True).clamp_min(torch.finfo(k.dtype).tiny)
    return k.reshape(-1, 1, h, w)


def kernel_solve(x: torch.Tensor, y: torch.Tensor, kernel: torch.Tensor, tol: float = 1e-6,
                 gradient_domain: bool = True, max_iter: int = 100_000) -> torch.Tensor:
    r"""The kernel step solved to convergence: :math:`\arg\min_{k\in\Delta} f(k)`, certified.

    The objective of :func:`kernel_step`, :math:`f(k) = \tfrac12 k^\top M k - b^\top k + c`
    (:func:`kernel_normal_equations`, :math:`c = \tfrac12\|\nabla y\|^2`, or
    :math:`\tfrac12\|y\|^2` with ``gradient_domain=False``), minimised per image by FISTA with
    restart (:func:`~course_lib.kernel_estimation.fista_simplex`, at the step of
    :func:`kernel_step`, trying the exact minimiser on the current support every 50 steps,
    :func:`~course_lib.kernel_estimation.polish_on_support`) from ``kernel`` until the Frank--Wolfe gap
    :math:`\nabla f(k)^\top k - \min_i \nabla f(k)_i`, which bounds :math:`f(k) - \min_\Delta f`
    (Jaggi 2013, Sec. 2), is at most ``tol`` times :math:`f(k)`. In float64; returns ``kernel``'s
    shape and dtype. Raises ``RuntimeError`` if ``max_iter`` steps do not get there.
    """
    if not (isinstance(tol, float) and tol > 0):
        raise ValueError(f"tol must be a float > 0, got {tol!r}")
    xd, yd = x.detach().double(), y.detach().double()
    if gradient_domain:
        xd, yd = grad_periodic(xd).flatten(1, 2), grad_periodic(yd).flatten(1, 2)
    h, w = kernel.shape[-2:]
    power, cross = _spectra(xd, yd)
    steps = 1.0 / _lipschitz(power).clamp_min(1e-300)  # (B,)
    M, b = _window_equations(power, cross, tuple(xd.shape[-2:]), (h, w))
    c = 0.5 * yd.pow(2).flatten(1).sum(1)  # (B,)
    k0 = kernel.detach().double().expand(xd.shape[0], 1, h, w).reshape(xd.shape[0], h * w)
    out = []
    for i in range(xd.shape[0]):
        Mi, bi, ci = M[i], b[i], float(c[i])

        def converged(k: torch.Tensor) -> tuple[torch.Tensor, bool]:
            k = polish_on_support(Mi, bi, k)
            g = Mi @ k - bi
            f = 0.5 * float(k @ (g - bi)) + ci  # 1/2 k'Mk - b'k + c
            return k, float(g @ k - g.min()) <= tol * f

        k = fista_simplex(Mi, bi, project_simplex(k0[i : i + 1], dim=-1)[0], float(steps[i]), converged, max_iter)
        if k is None:
            raise RuntimeError(f"the kernel solve did not reach a Frank-Wolfe gap of {tol:g} x f in {max_iter} steps")
        out.append(k)
    return torch.stack(out).reshape(-1, 1, h, w).to(kernel.dtype)


def centre_kernel(kernel: torch.Tensor, x: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Shift each kernel (zero fill) so that its centre of mass is at ``(h//2, w//2)``; roll ``x`` the other way.

    ``k * x`` is unchanged up to the mass the shift pushes out of the window (none when the
    kernel fits): the shift ambiguity of blind deconvolution, used to keep the kernel centred.
    """
    h, w = kernel.shape[-2:]
    ii = torch.arange(h, dtype=kernel.dtype, device=kernel.device)
    jj = torch.arange(w, dtype=kernel.dtype, device=kernel.device)
    out_k, out_x = [], []
    for b in range(kernel.shape[0]):
        kb = kernel[b : b + 1]
        ci = float((kb.sum(-1) * ii).sum() / kb.sum())
        cj = float((kb.sum(-2) * jj).sum() / kb.sum())
        si, sj = int(round(h // 2 - ci)), int(round(w // 2 - cj))
        pad = (max(sj, 0), max(-sj, 0), max(si, 0), max(-si, 0))
        kb = F.pad(kb, pad)[..., max(-si, 0) : max(-si, 0) + h, max(-sj, 0) : max(-sj, 0) + w]
        out_k.append(project_simplex(kb, dim=DIMS))
        if x is not None:
            out_x.append(torch.roll(x[b : b + 1], shifts=(-si, -sj), dims=DIMS))
    return torch.cat(out_k), (torch.cat(out_x) if x is not None else None)


def pyramid_sizes(kernel_size: int, levels: int | None = None, scale: float = 2 ** -0.5) -> list[tuple[float, int]]:
    """``(image scale, odd kernel size)`` per level, coarse to fine; by default until the kernel is 3 to 5 px wide."""
    if levels is None:
        levels = 1 + max(0, math.floor(math.log(kernel_size / 3) / -math.log(scale)))
    if not isinstance(levels, int) or levels < 1:
        raise ValueError(f"levels must be a positive int or None, got {levels!r}")
    out = []
    for lev in range(levels - 1, -1, -1):
        s = scale**lev
        ks = max(3, int(round(kernel_size * s)) // 2 * 2 + 1)
        out.append((s, min(ks, kernel_size)))
    return out


def upsample_kernel(kernel: torch.Tensor, size: int, factor: float) -> torch.Tensor:
    r"""Carry kernels to the next pyramid level: stretch by ``factor`` about the centre pixel.

    A kernel of extent :math:`L` pixels at image scale :math:`s` has extent :math:`L\,s'/s` at
    scale :math:`s'`, whatever the windows' sizes; so the new ``size`` x ``size`` window (odd) is
    sampled bilinearly at :math:`c + (j - c')/f` (centres :math:`c, c'`, ``factor`` :math:`f`),
    zero outside the old window. Sampling a stretched kernel multiplies its sum by about
    :math:`f^2`; the sum is set back to 1 (the entries are non-negative already), then the result
    is projected on the simplex, which only removes rounding. Resizing the array to the new window
    instead would stretch by ``size / old size`` (1.8 from 5 to 9 px), and projecting a kernel
    that sums to 2-3 subtracts a large common threshold, which keeps only its highest entries.
    """
    if kernel.dim() != 4 or kernel.shape[-1] != kernel.shape[-2]:
        raise ValueError(f"kernel must be (B, 1, h, h), got {tuple(kernel.shape)}")
    if not isinstance(size, int) or isinstance(size, bool) or size < 1 or size % 2 == 0:
        raise ValueError(f"size must be an odd positive int, got {size!r}")
    if not (isinstance(factor, (int, float)) and math.isfinite(factor) and factor > 0):
        raise ValueError(f"factor must be a finite number > 0, got {factor!r}")
    h = kernel.shape[-1]
    offs = torch.arange(size, dtype=kernel.dtype, device=kernel.device) - (size - 1) / 2
    u = offs / factor / max((h - 1) / 2, 0.5)  # old coordinates, normalised: -1, 1 = the end pixels' centres
    grid = torch.stack(torch.broadcast_tensors(u[None, :], u[:, None]), dim=-1)  # (size, size, 2): (x, y)
    out = F.grid_sample(kernel, grid.expand(kernel.shape[0], -1, -1, -1), mode="bilinear",
                        padding_mode="zeros", align_corners=True)
    out = out.clamp_min(0)
    return project_simplex(out / out.sum(DIMS, keepdim=True).clamp_min(torch.finfo(out.dtype).tiny), dim=DIMS)


def _resize(t: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    if tuple(t.shape[-2:]) == tuple(size):
        return t
    return F.interpolate(t, size=size, mode="bilinear", align_corners=False, antialias=True)


def tv_blind_deconvolution(y: torch.Tensor, kernel_size: int, lam: float = 8e-3, padding: str = "circular",
                           levels: int | None = None, generator: torch.Generator | None = None,
                           lam_start: float = 4e-2, lam_decay: float = 0.9, n_outer: int = 20,
                           x_iter: int = 10, k_iter: int = 20, final_lam: float | None = None, latent: str = "l0",
                           refine: int = 10, refine_k_iter: int = 50, transfer: str = "window",
                           progress: bool = True,
                           callback: Callable[[int, torch.Tensor, torch.Tensor], None] | None = None,
                           ) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Estimate the image and the kernel from ``y`` alone (see the module docstring).

    Parameters
    ----------
    y : ``(B, C, H, W)`` blurred images on ``[0, 1]``; each image gets its own kernel, shared by its channels.
    kernel_size : odd side of the kernel's window, at most the image's side.
    lam : the smallest weight :math:`\lambda_\text{min}` of the latent image's schedule (>= 0).
    padding : the boundary of the blur model; only ``"circular"`` is implemented.
    levels : pyramid levels; default until the kernel is 3 to 5 px wide (:func:`pyramid_sizes`).
    generator : seeds a small random perturbation of the flat initial kernel; ``None``: none.
    lam_start, lam_decay : :math:`\lambda` starts at ``lam_start`` on every level and is multiplied by
        ``lam_decay`` after each outer iteration, down to ``lam``.
    n_outer, x_iter, k_iter : outer iterations per level; ADMM iterations on ``x`` (``latent="tv"``)
        and PGD steps on ``k`` per outer iteration.
    final_lam : TV weight of the final non-blind deconvolution with the estimated kernel; default
        :math:`0.2\\hat\\sigma` per image, :math:`\\hat\\sigma` from :func:`~.nonblind.estimate_noise` (at least 5e-4).
    latent : ``"l0"`` (default, :func:`~.edges.l0_latent`) or ``"tv"`` (``x_iter`` ADMM iterations of TV).
    refine, refine_k_iter : after the schedule, ``refine`` more outer iterations at the finest level
        with ``refine_k_iter`` kernel steps each and the latent weight :math:`0.2\\hat\\sigma` per image
        (at least 1e-3): a weight that follows the noise, lower than ``lam`` at noise below 0.04
        (``latent="l0"`` only; 0 turns it off).
    transfer : how the kernel moves up a level: ``"window"`` (default: the array resized to the
        next window and projected, which stretches by the windows' ratio and keeps few entries) or
        ``"scale"`` (:func:`upsample_kernel`, stretched by the images' scale ratio). On the
        validation images the two give the same kernel errors within their standard error
        (``benchmarks/bench_blind_transfer.py``).
    callback : ``callback(level, x, k)`` after every outer iteration (e.g. to record frames).

    Returns ``(x_hat, k_hat)``: ``x_hat`` like ``y``, ``k_hat`` ``(B, 1, h, h)`` on the simplex, centred.
    """
    from tqdm.auto import tqdm

    if not isinstance(y, torch.Tensor) or y.dim() != 4 or not y.is_floating_point():
        raise ValueError(f"y must be a floating (B, C, H, W) tensor, got {getattr(y, 'shape', type(y).__name__)}")
    if not bool(torch.isfinite(y).all()):
        raise ValueError("y must be finite (it contains NaN or inf)")
    if not isinstance(kernel_size, int) or isinstance(kernel_size, bool) or kernel_size < 3 or kernel_size % 2 == 0:
        raise ValueError(f"kernel_size must be an odd int >= 3 (the kernel has a centre pixel), got {kernel_size!r}")
    if kernel_size > min(y.shape[-2:]):
        raise ValueError(f"kernel_size {kernel_size} is larger than the image y of size {tuple(y.shape[-2:])}")
    for name, val in (("lam", lam), ("lam_start", lam_start), ("final_lam", 0.0 if final_lam is None else final_lam)):
        if not isinstance(val, (int, float)) or not math.isfinite(val) or val < 0:
            raise ValueError(f"{name} must be a finite number >= 0, got {val!r}")
    if not 0 < lam_decay <= 1:
        raise ValueError(f"lam_decay must lie in (0, 1], got {lam_decay!r}")
    for name, val in (("refine", refine), ("refine_k_iter", refine_k_iter)):
        if not isinstance(val, int) or isinstance(val, bool) or val < (0 if name == "refine" else 1):
            raise ValueError(f"{name} must be an int >= {0 if name == 'refine' else 1}, got {val!r}")
    if latent not in ("l0", "tv"):
        raise ValueError(f"latent must be 'l0' or 'tv', got {latent!r}")
    if transfer not in ("scale", "window"):
        raise ValueError(f"transfer must be 'scale' or 'window', got {transfer!r}")
    if padding != "circular":
        raise ValueError(f"padding must be 'circular' (the only boundary implemented), got {padding!r}")
    B, _, H, W = y.shape
    plan = pyramid_sizes(kernel_size, levels)
    x = k = None
    n_refine = refine if latent == "l0" else 0
    bar = tqdm(total=len(plan) * n_outer + n_refine, disable=not progress, desc="TV blind deconvolution")
    for lev, (s, ks) in enumerate(plan):
        size = (max(ks, round(H * s)), max(ks, round(W * s)))
        y_s = _resize(y, size)  # (B, C, h_s, w_s)
        if k is None:
            k = torch.zeros(B, 1, ks, ks, dtype=y.dtype, device=y.device)
            c = ks // 2
            k[..., c - 1 : c + 2, c - 1 : c + 2] = 1.0  # flat 3x3 start
            if generator is not None:
                k = k + 0.01 * torch.rand(k.shape, generator=generator, dtype=y.dtype).to(y.device)
            k = project_simplex(k, dim=DIMS)
            x = y_s.clone()
        else:
            if transfer == "scale":
                k = upsample_kernel(k, ks, size[-1] / x.shape[-1])
            else:  # "window" (default): the array resized to the new window, then projected
                k = project_simplex(_resize(k, (ks, ks)).clamp_min(0), dim=DIMS)
            x = _resize(x, size)
            k, x = centre_kernel(k, x)
        lam_t = max(lam_start, lam)
        for _ in range(n_outer):
            if latent == "l0":
                x = l0_latent(y_s, k, lam_t)
            else:
                x = tv_deconvolve(y_s, k, lam_t, n_iter=x_iter, x0=x)
            k = kernel_step(x, y_s, k, n_iter=k_iter)
            lam_t = max(lam_t * lam_decay, lam)
            if callback is not None:
                callback(lev, x, k)
            bar.update(1)
    sigma = estimate_noise(y)  # (B,)
    lam_ref = (0.2 * sigma).clamp_min(1e-3)
    for _ in range(n_refine):  # the finest level again, with a weight that follows the noise
        x = torch.cat([l0_latent(y[b : b + 1], k[b : b + 1], float(lam_ref[b])) for b in range(B)])
        k = kernel_step(x, y, k, n_iter=refine_k_iter)
        if callback is not None:
            callback(len(plan) - 1, x, k)
        bar.update(1)
    bar.close()
    k, _ = centre_kernel(k)
    if final_lam is None:  # TV weight proportional to the noise: 0.2 sigma, as found best on the development image
        lam_b = (0.2 * sigma).clamp_min(5e-4)  # (B,)
        x_hat = torch.cat([tv_deconvolve(y[b : b + 1], k[b : b + 1], float(lam_b[b]), n_iter=100) for b in range(B)])
    else:
        x_hat = tv_deconvolve(y, k, final_lam, n_iter=100)
    return x_hat, k
