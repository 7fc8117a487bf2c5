r"""2-D convolution two ways -- direct and by FFT -- with exact adjoints.

For an image :math:`x` of size :math:`H\times W` and a kernel :math:`k` of size :math:`h\times w`,
the *true* convolution (the kernel flipped, as in ``scipy.signal.convolve2d``) is

.. math::  (k * x)[i, j] = \sum_{m, n} k[m, n]\, x[i - m, j - n].

``padding="valid"`` keeps the :math:`(H-h+1)\times(W-w+1)` outputs that never read
outside the image; ``padding="circular"`` wraps indices modulo :math:`(H, W)` and
places the kernel's centre :math:`(h/\!/2, w/\!/2)` at the origin.

**Direct** evaluation is a grouped ``conv2d`` (a correlation, so the kernel is
flipped first): :math:`O(HWhw)` operations.

**FFT** evaluation uses the convolution theorem. A circular convolution is a
pointwise product of spectra, :math:`\widehat{k * x} = \hat k\,\hat x`, at
:math:`O(HW\log HW)` cost whatever the kernel size. The *valid* convolution is a
crop of the circular one of size :math:`H\times W` with the kernel at the origin:
for :math:`i \ge h-1` the index :math:`i-m` never wraps. Adjoints follow from
:math:`\hat k \mapsto \overline{\hat k}` (a correlation) and, for the crop, zero
embedding.

``method="auto"`` picks the FFT when the kernel has at least
:data:`FFT_MIN_TAPS` taps. ``benchmarks/bench_convolution.py`` measures the
crossover; its table in ``benchmarks/RESULTS.md`` is where the speed-ups are quoted.

The convolution is linear in the kernel too: for a fixed image, :math:`k \mapsto k * x`
is a linear map :math:`X` whose adjoint, :func:`convolve2d_kernel_adjoint`, is the
correlation of the image with its argument,
:math:`(X^\top r)[m, n] = \sum_{i, j} r[i, j]\, x[i - m, j - n]` (summed over the
images and channels that share a kernel). It is the gradient of
:math:`\tfrac12\|k * x - y\|^2` in :math:`k` at :math:`r = k * x - y`.

Example
-------
>>> x = torch.rand(1, 3, 32, 32)
>>> k = torch.ones(1, 1, 5, 5) / 25
>>> y = convolve2d(x, k, padding="valid")                      # (1, 3, 28, 28)
>>> convolve2d_adjoint(y, k, padding="valid").shape            # A^T y, like x
torch.Size([1, 3, 32, 32])
>>> convolve2d_kernel_adjoint(x, y, k.shape, padding="valid").shape  # X^T y, like k
torch.Size([1, 1, 5, 5])
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["convolve2d", "convolve2d_adjoint", "convolve2d_kernel_adjoint", "PADDINGS", "METHODS", "FFT_MIN_TAPS"]

PADDINGS = ("valid", "circular")
METHODS = ("auto", "direct", "fft")
#: Kernels with at least this many taps go through the FFT under ``method="auto"``.
FFT_MIN_TAPS = 9


# ----------------------------------------------------------------------------- checks
def check_image(x: torch.Tensor, name: str = "x") -> None:
    """Raise unless ``x`` is a floating ``(B, C, H, W)`` tensor."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if x.dim() != 4:
        raise ValueError(f"{name} must have shape (B, C, H, W), got {x.dim()} dims {tuple(x.shape)}")
    if not x.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor, got {x.dtype}")


def check_kernel(kernel: torch.Tensor) -> None:
    """Raise unless ``kernel`` is a finite, floating ``(1|B, 1|C, h, w)`` tensor.

    Finiteness is checked at every call, not only when an operator is built: a
    diverging optimiser can turn a learnable kernel into NaN.
    """
    check_image(kernel, "kernel")
    if not torch.isfinite(kernel).all():
        raise ValueError("kernel must be finite (it contains NaN or inf)")


def _check_pair(x: torch.Tensor, kernel: torch.Tensor, padding: str, method: str, name: str) -> None:
    check_image(x, name)
    check_kernel(kernel)
    if padding not in PADDINGS:
        raise ValueError(f"padding must be one of {PADDINGS}, got {padding!r}")
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    if kernel.dtype != x.dtype:
        raise TypeError(f"kernel dtype {kernel.dtype} differs from {name} dtype {x.dtype}")
    for axis, label in ((0, "batch"), (1, "channel")):
        if kernel.shape[axis] not in (1, x.shape[axis]):
            raise ValueError(
                f"kernel {label} size {kernel.shape[axis]} must be 1 or match {name}'s {x.shape[axis]} "
                f"(kernel {tuple(kernel.shape)}, {name} {tuple(x.shape)})"
            )


def _use_fft(kernel: torch.Tensor, method: str) -> bool:
    if method == "auto":
        return kernel.shape[-2] * kernel.shape[-1] >= FFT_MIN_TAPS
    return method == "fft"


# ----------------------------------------------------------------------------- direct
def _grouped(x: torch.Tensor, kernel: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Reshape to one group per (batch, channel) image: ``(1, B*C, H, W)`` and ``(B*C, 1, h, w)``."""
    B, C = x.shape[:2]
    weight = kernel.expand(B, C, *kernel.shape[-2:]).reshape(B * C, 1, *kernel.shape[-2:])
    return x.reshape(1, B * C, *x.shape[-2:]), weight


def _circular_pads(h: int, w: int, adjoint: bool) -> tuple[int, int, int, int]:
    # forward: out[i] = sum_m flip(k)[m] x[i + m - (h-1-c)]  -> pad (h-1-c) before, c after
    # adjoint: the correlation with k                       -> pad c before, (h-1-c) after
    ch, cw = h // 2, w // 2
    if adjoint:
        return (cw, w - 1 - cw, ch, h - 1 - ch)
    return (w - 1 - cw, cw, h - 1 - ch, ch)


def _direct(x: torch.Tensor, kernel: torch.Tensor, padding: str) -> torch.Tensor:
    B, C = x.shape[:2]
    xg, weight = _grouped(x, kernel)
    weight = torch.flip(weight, dims=(-2, -1))  # conv2d correlates: flip for a true convolution
    if padding == "circular":
        xg = F.pad(xg, _circular_pads(*kernel.shape[-2:], adjoint=False), mode="circular")
    y = F.conv2d(xg, weight, groups=B * C)  # (1, B*C, H', W')
    return y.reshape(B, C, *y.shape[-2:])


def _direct_adjoint(y: torch.Tensor, kernel: torch.Tensor, padding: str) -> torch.Tensor:
    B, C = y.shape[:2]
    yg, weight = _grouped(y, kernel)
    if padding == "circular":
        yg = F.pad(yg, _circular_pads(*kernel.shape[-2:], adjoint=True), mode="circular")
        x = F.conv2d(yg, weight, groups=B * C)  # correlation with k
    else:
        # conv_transpose2d is the exact adjoint of conv2d with the same (flipped) weight
        x = F.conv_transpose2d(yg, torch.flip(weight, dims=(-2, -1)), groups=B * C)
    return x.reshape(B, C, *x.shape[-2:])


# ----------------------------------------------------------------------------- FFT
def _kernel_spectrum(kernel: torch.Tensor, size: tuple[int, int], padding: str) -> torch.Tensor:
    """``rfft2`` of the kernel zero-padded to ``size``; centred at the origin for ``circular``."""
    h, w = kernel.shape[-2:]
    k = F.pad(kernel, (0, size[1] - w, 0, size[0] - h))  # (.., H, W), kernel at the origin
    if padding == "circular":
        k = torch.roll(k, shifts=(-(h // 2), -(w // 2)), dims=(-2, -1))
    return torch.fft.rfft2(k)


def _fft(x: torch.Tensor, kernel: torch.Tensor, padding: str) -> torch.Tensor:
    H, W = x.shape[-2:]
    h, w = kernel.shape[-2:]
    K = _kernel_spectrum(kernel, (H, W), padding)
    y = torch.fft.irfft2(torch.fft.rfft2(x) * K, s=(H, W))  # circular convolution, (B, C, H, W)
    return y if padding == "circular" else y[..., h - 1 :, w - 1 :]


def _fft_adjoint(y: torch.Tensor, kernel: torch.Tensor, padding: str) -> torch.Tensor:
    h, w = kernel.shape[-2:]
    if padding == "valid":  # adjoint of the crop: embed y into zeros
        y = F.pad(y, (w - 1, 0, h - 1, 0))
    H, W = y.shape[-2:]
    K = _kernel_spectrum(kernel, (H, W), padding)
    return torch.fft.irfft2(torch.fft.rfft2(y) * K.conj(), s=(H, W))


# ----------------------------------------------------------------------------- public
def convolve2d(x: torch.Tensor, kernel: torch.Tensor, padding: str = "valid", method: str = "auto") -> torch.Tensor:
    """True 2-D convolution ``kernel * x`` of a ``(B, C, H, W)`` batch; see the module docstring.

    ``kernel`` is ``(1|B, 1|C, h, w)`` and must fit inside the image. Differentiable
    in both ``x`` and ``kernel``.
    """
    _check_pair(x, kernel, padding, method, "x")
    H, W = x.shape[-2:]
    h, w = kernel.shape[-2:]
    if h > H or w > W:
        raise ValueError(f"kernel of size {(h, w)} is larger than the image x of size {(H, W)}")
    return _fft(x, kernel, padding) if _use_fft(kernel, method) else _direct(x, kernel, padding)


def convolve2d_adjoint(y: torch.Tensor, kernel: torch.Tensor, padding: str = "valid", method: str = "auto") -> torch.Tensor:
    """Adjoint of :func:`convolve2d` in ``x``: a correlation with ``kernel``.

    For ``padding="valid"`` the output is ``(B, C, H'+h-1, W'+w-1)``; for
    ``"circular"`` it has ``y``'s size.
    """
    _check_pair(y, kernel, padding, method, "y")
    h, w = kernel.shape[-2:]
    if padding == "circular" and (h > y.shape[-2] or w > y.shape[-1]):
        raise ValueError(f"kernel of size {(h, w)} is larger than the image y of size {tuple(y.shape[-2:])}")
    return _fft_adjoint(y, kernel, padding) if _use_fft(kernel, method) else _direct_adjoint(y, kernel, padding)


def convolve2d_kernel_adjoint(
    x: torch.Tensor, r: torch.Tensor, kernel_shape: tuple[int, ...], padding: str = "valid"
) -> torch.Tensor:
    r"""Adjoint of :func:`convolve2d` in the *kernel*: :math:`X^\top r` for :math:`X k = k * x`.

    ``x`` is the fixed ``(B, C, H, W)`` image, ``r`` has the shape of ``k * x`` and
    ``kernel_shape`` is ``(1|B, 1|C, h, w)``; the correlation of ``x`` with ``r`` is summed
    over the dimensions the kernel broadcasts over. Computed by FFT (a circular
    correlation at the image's size, then the ``h x w`` window), exact to rounding.
    """
    check_image(x, "x")
    check_image(r, "r")
    if padding not in PADDINGS:
        raise ValueError(f"padding must be one of {PADDINGS}, got {padding!r}")
    if r.dtype != x.dtype:
        raise TypeError(f"r dtype {r.dtype} differs from x dtype {x.dtype}")
    if len(kernel_shape) != 4 or any(kernel_shape[a] not in (1, x.shape[a]) for a in (0, 1)):
        raise ValueError(f"kernel_shape must be (1|B, 1|C, h, w) for x of shape {tuple(x.shape)}, got {tuple(kernel_shape)}")
    H, W = x.shape[-2:]
    h, w = kernel_shape[-2:]
    if h > H or w > W:
        raise ValueError(f"kernel of size {(h, w)} is larger than the image x of size {(H, W)}")
    out = (H - h + 1, W - w + 1) if padding == "valid" else (H, W)
    if tuple(r.shape) != (*x.shape[:2], *out):
        raise ValueError(f"r must have the shape of k * x, {(*x.shape[:2], *out)}, got {tuple(r.shape)}")
    if padding == "valid":
        r = F.pad(r, (w - 1, 0, h - 1, 0))  # adjoint of the crop y = y_full[h-1:, w-1:]
    # g[m, n] = sum_i r[i] x[i - m] (circular): spectrum R * conj(X)
    g = torch.fft.irfft2(torch.fft.rfft2(r) * torch.fft.rfft2(x).conj(), s=(H, W))  # (B, C, H, W)
    if padding == "circular":  # adjoint of rolling the kernel's centre to the origin
        g = torch.roll(g, shifts=(h // 2, w // 2), dims=(-2, -1))
    g = g[..., :h, :w]
    sum_dims = tuple(a for a in (0, 1) if kernel_shape[a] == 1 and x.shape[a] != 1)
    return g.sum(dim=sum_dims, keepdim=True) if sum_dims else g
