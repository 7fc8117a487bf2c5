r"""Kernel error up to a shift, and image quality.

Blind deconvolution identifies the kernel only up to a translation: for any integer shift
:math:`s`, :math:`(\tau_s k) * (\tau_{-s} x) = k * x` (convolution commutes with translations;
exact for the circular boundary, up to the mass the shift moves out of the window otherwise).
So a kernel estimate that is the true kernel moved by one pixel is a *perfect* estimate, and a
plain :math:`\|\hat k - k\|/\|k\|` would call it poor. :func:`kernel_error` takes the best shift:

.. math::  e(\hat k, k) = \min_{s \in \{-S..S\}^2} \frac{\|\tau_s \hat k - k\|_2}{\|k\|_2},

with :math:`\tau_s` a zero-filled shift (kernels of different sizes are zero-padded to a common,
centred window first). It is shift-invariant (``tests/test_blind.py``) and 0 only for a shifted
copy of the true kernel.

Example
-------
>>> import torch
>>> k = torch.zeros(1, 1, 7, 7); k[0, 0, 3, 1:6] = 0.2          # a horizontal smear
>>> kernel_error(torch.roll(k, 1, dims=-2), k)      # moved one row down: no error
0.0
"""

from __future__ import annotations

import numpy as np
import torch
from torch.nn import functional as F

__all__ = ["kernel_error", "kernel_similarity", "best_shift", "align", "shift_zero", "psnr_ssim", "evaluate"]


def shift_zero(k: torch.Tensor, di: int, dj: int) -> torch.Tensor:
    """Move ``k`` ``(.., h, w)`` by ``(di, dj)`` pixels, filling with zeros (no wrap-around)."""
    h, w = k.shape[-2:]
    p = F.pad(k, (max(dj, 0), max(-dj, 0), max(di, 0), max(-di, 0)))
    i0, j0 = max(-di, 0), max(-dj, 0)
    return p[..., i0 : i0 + h, j0 : j0 + w]


def _centre_pad(k: torch.Tensor, size: int) -> torch.Tensor:
    h, w = k.shape[-2:]
    a, b = (size - h) // 2, (size - w) // 2
    return F.pad(k, (b, size - w - b, a, size - h - a))


def _check_kernels(k_hat: torch.Tensor, k_true: torch.Tensor) -> None:
    for name, t in (("k_hat", k_hat), ("k_true", k_true)):
        if not isinstance(t, torch.Tensor) or t.dim() != 4:
            raise ValueError(f"{name} must be a (B, 1, h, w) tensor, got {getattr(t, 'shape', type(t).__name__)}")
        if not bool(torch.isfinite(t).all()):
            raise ValueError(f"{name} must be finite (it contains NaN or inf)")
    if k_hat.shape[0] != k_true.shape[0] and 1 not in (k_hat.shape[0], k_true.shape[0]):
        raise ValueError(f"batch sizes differ: k_hat {k_hat.shape[0]}, k_true {k_true.shape[0]}")


def _shifts(k_hat: torch.Tensor, k_true: torch.Tensor, max_shift: int | None):
    """Yield ``(di, dj, shifted k_hat, k_true)``, both zero-padded to a common centred window, in float64."""
    _check_kernels(k_hat, k_true)
    size = max(*k_hat.shape[-2:], *k_true.shape[-2:])
    a, b = torch.broadcast_tensors(_centre_pad(k_hat.detach().double(), size),
                                   _centre_pad(k_true.detach().double(), size))
    S = size // 2 if max_shift is None else int(max_shift)
    for di in range(-S, S + 1):
        for dj in range(-S, S + 1):
            yield di, dj, shift_zero(a, di, dj), b


def best_shift(k_hat: torch.Tensor, k_true: torch.Tensor,
               max_shift: int | None = None) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """Per kernel: the smallest relative error over integer shifts, and the shift ``(di, dj)`` that gives it."""
    best = arg = None
    for di, dj, a, b in _shifts(k_hat, k_true, max_shift):
        if best is None:
            ref = b.flatten(1).norm(dim=1).clamp_min(1e-300)  # (B,)
            best = torch.full_like(ref, float("inf"))
            arg = torch.zeros(ref.shape[0], 2, dtype=torch.long)
        e = (a - b).flatten(1).norm(dim=1) / ref
        better = e < best - 1e-12
        arg[better.cpu()] = torch.tensor([di, dj])
        best = torch.where(better, e, best)
    return best.cpu().numpy(), [tuple(int(v) for v in row) for row in arg]


def kernel_similarity(k_hat: torch.Tensor, k_true: torch.Tensor, max_shift: int | None = None) -> float | np.ndarray:
    r"""Peak normalised cross-correlation :math:`\mathrm{KS} = \max_s \langle\tau_s\hat k, k\rangle / (\|\hat k\|\,\|k\|)`.

    The shape of the estimate, whatever its concentration: 1 for a shifted copy of ``k_true``
    at any scale, lower for another shape (Hu & Yang, "Good regions to deblur", ECCV 2012, use
    it to rank kernels). The kernel error mixes shape with concentration: with
    :math:`r = \|\hat k\|/\|k\|` (a flat, too-wide estimate has :math:`r < 1`),
    :math:`\|\tau_s\hat k - k\|^2/\|k\|^2 = r^2 - 2r\,\mathrm{NCC}_s + 1`, so when no shift
    pushes mass out of the window :math:`e^2 = (r - \mathrm{KS})^2 + 1 - \mathrm{KS}^2`
    (``tests/test_blind.py`` checks it). Same arguments and return types as :func:`kernel_error`.
    """
    best = None
    for _, _, a, b in _shifts(k_hat, k_true, max_shift):
        ncc = (a * b).flatten(1).sum(1)
        best = ncc if best is None else torch.maximum(best, ncc)
    norms = [t.detach().double().flatten(1).norm(dim=1) for t in (k_hat, k_true)]  # unshifted
    best = best / (norms[0] * norms[1]).clamp_min(1e-300)
    out = best.cpu().numpy()
    return float(out[0]) if out.shape[0] == 1 else out


def kernel_error(k_hat: torch.Tensor, k_true: torch.Tensor, max_shift: int | None = None) -> float | np.ndarray:
    r"""Relative L2 error :math:`\min_s \|\tau_s\hat k - k\|/\|k\|` after the best integer shift :math:`s`.

    ``k_hat`` and ``k_true`` are ``(B, 1, h, w)`` (or batches of 1 that broadcast); shifts up to
    ``max_shift`` pixels (default: half the window) in each direction. Returns a float for one
    pair, an array of shape ``(B,)`` for a batch.
    """
    err, _ = best_shift(k_hat, k_true, max_shift)
    return float(err[0]) if err.shape[0] == 1 else err


def align(x_hat: torch.Tensor, k_hat: torch.Tensor, k_true: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Undo the shift ambiguity: move ``k_hat`` by its best shift :math:`s` and roll ``x_hat`` by :math:`-s`.

    If :math:`\hat k = \tau_{-s} k` then :math:`\hat x \approx \tau_{s} x`: the image carries the opposite
    shift, so an image metric is meaningful only after this alignment (circular roll, exact for
    the circular boundary). Returns the aligned ``(x_hat, k_hat)``.
    """
    _, shifts = best_shift(k_hat, k_true)
    kb = k_hat.expand(max(k_hat.shape[0], k_true.shape[0]), *k_hat.shape[1:])
    xs = [torch.roll(x_hat[i : i + 1], shifts=(-di, -dj), dims=(-2, -1)) for i, (di, dj) in enumerate(shifts)]
    ks = [shift_zero(kb[i : i + 1], di, dj) for i, (di, dj) in enumerate(shifts)]
    return torch.cat(xs), torch.cat(ks)


def psnr_ssim(x_hat: torch.Tensor, x_true: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """PSNR (dB) and SSIM per image of ``(B, C, H, W)`` images on ``[0, 1]`` (``x_hat`` clipped there).

    scikit-image's ``peak_signal_noise_ratio`` and ``structural_similarity`` with ``data_range=1``.
    """
    from skimage.metrics import peak_signal_noise_ratio, structural_similarity

    a = x_hat.detach().cpu().double().clamp(0, 1).numpy()
    b = np.broadcast_to(x_true.detach().cpu().double().numpy(), a.shape)
    psnr = np.array([peak_signal_noise_ratio(b[i], a[i], data_range=1.0) for i in range(len(a))])
    ssim = np.array([structural_similarity(b[i], a[i], data_range=1.0, channel_axis=0) for i in range(len(a))])
    return psnr, ssim


def evaluate(x_hat: torch.Tensor, x_true: torch.Tensor, k_hat: torch.Tensor | None = None,
             k_true: torch.Tensor | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """``(PSNR, SSIM, kernel error)`` per image; with kernels, the image is aligned first (:func:`align`).

    Without kernels (a blurred input, a non-blind result) the kernel error is ``None``.
    """
    if k_hat is None:
        p, s = psnr_ssim(x_hat, x_true)
        return p, s, None
    x_a, _ = align(x_hat, k_hat, k_true)
    p, s = psnr_ssim(x_a, x_true)
    return p, s, np.atleast_1d(kernel_error(k_hat, k_true))
