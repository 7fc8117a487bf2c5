r"""Gaussian blur that is differentiable in its scale :math:`\sigma`.

A sampled, truncated Gaussian has taps on the integer grid :math:`k \in [-r, r]`,

.. math::  w_k(\sigma) = \frac{\exp(-k^2 / 2\sigma^2)}{\sum_{|j| \le r} \exp(-j^2 / 2\sigma^2)},
           \qquad r = \lceil s\,\sigma \rceil,

with :math:`s` = ``std_devs`` (2 by default: the support covers two standard
deviations on each side). The taps are a softmax of :math:`-k^2/2\sigma^2`, so they
are smooth in :math:`\sigma` and

.. math::  \frac{\partial w_k}{\partial \sigma} = \frac{w_k}{\sigma^3}\Big(k^2 - \sum_j w_j j^2\Big).

The radius :math:`r` is an integer and carries no gradient: when :math:`s\sigma`
crosses an integer two taps appear, the loss jumps a little, and between jumps the
gradient flows through the tap *values* only. Learning :math:`\log\sigma` instead
of :math:`\sigma` keeps the scale positive and makes gradient steps multiplicative,
which suits a scale parameter.

A 2-D isotropic Gaussian is separable, :math:`g_\sigma(i, j) = w_i w_j`, so
:func:`gaussian_blur2d` is two 1-D passes. Every blur here zero-pads (a 1-D blur can
also reflect) and keeps the input's size (a correlation, equal to a convolution since the taps are symmetric).
On a line of :math:`N` samples that blur is the banded symmetric Toeplitz matrix
:math:`T_{ij} = w_{j-i}`, applied as one batched matmul (on a CPU it beat a depthwise
``conv1d`` for the course's images, forward and backward; lines longer than
:data:`TOEPLITZ_MAX` use ``conv1d``). The taps and the zero padding are those of the
original example's ``gauss1d`` and ``conv1d_mono``.

Reference: E. Shelhamer, D. Wang, T. Darrell, "Blurring the Line Between Structure
and Learning to Optimize and Adapt Receptive Fields", arXiv:1904.11487 (2019).

Example
-------
>>> g = torch.Generator().manual_seed(0)
>>> x = torch.randn(1, 1, 32, 32, generator=g, dtype=torch.float64)  # (B, C, H, W)
>>> y = gaussian_blur2d(x, 3.0)                               # the data, sigma* = 3
>>> log_sigma = torch.zeros((), dtype=torch.float64, requires_grad=True)  # sigma = 1
>>> y_hat = gaussian_blur2d(x, log_sigma.exp())               # (1, 1, 32, 32)
>>> (0.5 * (y_hat - y).pow(2).mean()).backward()              # d loss / d log sigma
>>> bool(log_sigma.grad < 0)                                  # sigma = 1 is too small
True
"""

from __future__ import annotations

import math
from numbers import Real

import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "gaussian_kernel1d",
    "gaussian_blur1d",
    "gaussian_blur2d",
    "anisotropic_gaussian_blur2d",
    "GaussianBlur2d",
    "fit_sigma",
    "MAX_RADIUS",
    "TOEPLITZ_MAX",
]

#: Lines up to this length are blurred by a Toeplitz matmul, longer ones by ``conv1d``.
TOEPLITZ_MAX = 1024

#: Largest support radius accepted. Far beyond any useful blur; it stops a diverging
#: optimiser (sigma = e^30) from asking for billions of taps.
MAX_RADIUS = 4096


# ----------------------------------------------------------------------------- checks
def _check_std_devs(std_devs) -> float:
    if isinstance(std_devs, bool) or not isinstance(std_devs, Real):
        raise TypeError(f"std_devs must be a real number, got {type(std_devs).__name__}")
    if not (math.isfinite(std_devs) and std_devs > 0):
        raise ValueError(f"std_devs must be finite and > 0, got {std_devs!r}")
    return float(std_devs)


def _check_input(x, rank: int, layout: str) -> None:
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"x must be a torch.Tensor, got {type(x).__name__}")
    if x.dim() != rank:
        raise ValueError(f"x must have shape {layout}, got {x.dim()} dims {tuple(x.shape)}")
    if not x.is_floating_point():
        raise TypeError(f"x must be a floating-point tensor, got {x.dtype}")


def _check_sigma(sigma, name: str, channels: int | None, dtype, device) -> torch.Tensor:
    """Return ``sigma`` as a 0-dim or ``(channels,)`` tensor of ``dtype`` on ``device``.

    Floats become constants; tensors keep their graph (the cast is differentiable).
    ``channels=None`` allows only scalars.
    """
    if isinstance(sigma, bool) or not isinstance(sigma, (Real, torch.Tensor)):
        raise TypeError(f"{name} must be a float or a tensor, got {type(sigma).__name__}")
    if not isinstance(sigma, torch.Tensor):
        if not (math.isfinite(sigma) and sigma > 0):
            raise ValueError(f"{name} must be finite and > 0, got {sigma!r}")
        return torch.tensor(float(sigma), dtype=dtype, device=device)  # made in dtype: no float32 rounding
    if not sigma.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor, got {sigma.dtype}")
    allowed = "a 0-dim tensor" if channels is None else f"a 0-dim tensor or shape ({channels},)"
    if not (sigma.dim() == 0 or (channels is not None and tuple(sigma.shape) == (channels,))):
        raise ValueError(f"{name} must be {allowed}, got shape {tuple(sigma.shape)}")
    values = sigma.detach()
    if not bool(torch.all(torch.isfinite(values) & (values > 0))):
        raise ValueError(f"{name} must be finite and > 0, got {values.tolist()}")
    return sigma.to(dtype=dtype, device=device)


# ----------------------------------------------------------------------------- taps
def _taps(sigma: torch.Tensor, std_devs: float, extent: int | None = None) -> torch.Tensor:
    """Normalised taps of one Gaussian per entry of ``sigma`` (shape ``(n,)``): ``(n, 2R+1)``.

    Row ``c`` has support ``|k| <= r_c = ceil(std_devs * sigma_c)``; rows share the
    grid of the largest radius ``R`` and are zero outside their own support, so each
    row equals :func:`gaussian_kernel1d` of its sigma, zero-padded. With ``extent`` (a
    signal length) taps with ``|k| >= extent`` are dropped *after* normalising: with
    zero padding they never meet a sample, so the blur is unchanged and cheaper.
    """
    radii = torch.ceil(std_devs * sigma.detach()).long()  # (n,), no gradient through r
    R = int(radii.max())
    if R > MAX_RADIUS:
        raise ValueError(
            f"sigma={float(sigma.detach().max()):.4g} needs a support radius {R} > MAX_RADIUS={MAX_RADIUS}; "
            "if sigma is being learned, the step size is probably too large"
        )
    k = torch.arange(-R, R + 1, device=sigma.device, dtype=sigma.dtype)  # (2R+1,)
    logits = -0.5 * (k / sigma[:, None]) ** 2  # (n, 2R+1); k/sigma first: no 0/0 for tiny sigma
    outside = k.abs()[None, :] > radii[:, None]  # (n, 2R+1)
    w = torch.softmax(logits.masked_fill(outside, -math.inf), dim=-1)  # normalised rows
    if extent is not None and R >= extent:
        w = w[:, R - extent + 1 : R + extent]  # keep |k| <= extent - 1
    return w


def gaussian_kernel1d(sigma, std_devs: float = 2, *, dtype=None, device=None) -> torch.Tensor:
    r"""Normalised Gaussian taps on :math:`[-r, r]`, :math:`r = \lceil \text{std\_devs}\cdot\sigma \rceil`.

    ``sigma`` is a positive float or 0-dim tensor; a tensor sets the default dtype
    and device and the result is differentiable in it. Returns shape ``(2r+1,)``,
    summing to one.

    >>> gaussian_kernel1d(1.0)        # 5 taps on [-2, 2]
    tensor([0.0545, 0.2442, 0.4026, 0.2442, 0.0545])
    """
    std_devs = _check_std_devs(std_devs)
    if isinstance(sigma, torch.Tensor):
        dtype = dtype or sigma.dtype
        device = device or sigma.device
    s = _check_sigma(sigma, "sigma", None, dtype or torch.get_default_dtype(), device)
    return _taps(s.reshape(1), std_devs)[0]


# ----------------------------------------------------------------------------- blurs
def _blur_lines(x: torch.Tensor, taps: torch.Tensor) -> torch.Tensor:
    """Correlate every line along the last axis of ``x`` ``(B, C, M, L)`` with ``taps`` ``(1|C, K)``.

    Zero padding, same size. Up to :data:`TOEPLITZ_MAX` samples a line is multiplied by the
    banded symmetric Toeplitz matrix :math:`T_{ij} = w_{j-i}` (one batched matmul); longer
    lines use ``conv1d``.
    """
    B, C, M, L = x.shape
    K = taps.shape[-1]
    if L <= TOEPLITZ_MAX:
        w = F.pad(taps, ((2 * L - 1 - K) // 2,) * 2)  # (1|C, 2L-1): taps for offsets -(L-1)..L-1
        i = torch.arange(L, device=x.device)
        T = w[:, i[None, :] - i[:, None] + L - 1]  # (1|C, L, L), symmetric
        return x @ T  # (B, C, M, L); the (1|C,) batch dim of T lines up with C
    lines = x.permute(0, 2, 1, 3).reshape(B * M, C, L)  # (B*M, C, L)
    weight = taps.expand(C, -1)[:, None, :]  # (C, 1, K)
    out = F.conv1d(lines, weight, padding=K // 2, groups=C)  # (B*M, C, L)
    return out.reshape(B, M, C, L).permute(0, 2, 1, 3)  # (B, C, M, L)


def _reflect_lines(x: torch.Tensor, taps: torch.Tensor) -> torch.Tensor:
    """Correlate the lines ``x`` ``(B, C, L)`` with ``taps`` ``(1|C, K)``, reflect padding.

    The signal is extended as ``numpy.pad(mode="reflect")`` does, ``d c b | a b c d | c b a``,
    to any width: the extension is periodic with period :math:`2(L-1)`, so sample ``i`` of
    the padded line is sample ``m = i mod 2(L-1)``, folded back as ``2(L-1) - m`` past the end.
    """
    C, L = x.shape[1], x.shape[2]
    R = taps.shape[-1] // 2
    period = 2 * (L - 1)
    m = torch.arange(-R, L + R, device=x.device) % period  # (L + 2R,)
    idx = torch.where(m > L - 1, period - m, m)
    weight = taps.expand(C, -1)[:, None, :]  # (C, 1, K)
    return F.conv1d(x[..., idx], weight, groups=C)  # (B, C, L)


def gaussian_blur1d(x: torch.Tensor, sigma, std_devs: float = 2, *, padding: str = "zeros") -> torch.Tensor:
    r"""Blur signals ``x`` of shape ``(B, C, L)`` with a Gaussian of scale ``sigma``.

    ``sigma``: positive float, 0-dim tensor, or ``(C,)`` tensor (one scale per
    channel). ``padding``: ``"zeros"`` (the default, as the original example) or
    ``"reflect"`` (the signal mirrored about its end samples, repeatedly for supports
    longer than the signal; needs ``L >= 2``). The output has ``x``'s shape, dtype and
    device and is differentiable in ``x`` and ``sigma``.

    As :math:`\sigma \to \infty` the taps over the signal become flat, so the blur tends
    to a moving average: with zero padding each output is :math:`\sum_j x_j / Z(\sigma)
    \to 0`; with reflect padding it tends to the mean of the mirrored signal.

    >>> x = torch.randn(1, 1, 100, dtype=torch.float64)
    >>> gaussian_blur1d(x, 3.0).shape                     # (B, C, L)
    torch.Size([1, 1, 100])
    """
    _check_input(x, 3, "(B, C, L)")
    std_devs = _check_std_devs(std_devs)
    if padding not in ("zeros", "reflect"):
        raise ValueError(f"padding must be 'zeros' or 'reflect', got {padding!r}")
    C, L = x.shape[1], x.shape[2]
    s = _check_sigma(sigma, "sigma", C, x.dtype, x.device)
    if padding == "reflect":
        if L < 2:
            raise ValueError(f"padding='reflect' needs signals of at least 2 samples, got L={L}")
        return _reflect_lines(x, _taps(s.reshape(-1), std_devs))  # (B, C, L)
    w = _taps(s.reshape(-1), std_devs, extent=L)  # (1|C, K)
    return _blur_lines(x[:, :, None, :], w)[:, :, 0, :]  # (B, C, L)


def _separable_blur2d(x: torch.Tensor, sx: torch.Tensor, sy: torch.Tensor, std_devs: float) -> torch.Tensor:
    """Two zero-padded 1-D passes over validated inputs; ``sx``, ``sy`` 0-dim or ``(C,)``."""
    H, W = x.shape[-2:]
    x = _blur_lines(x, _taps(sx.reshape(-1), std_devs, extent=W))  # along W, (B, C, H, W)
    x = _blur_lines(x.transpose(-1, -2), _taps(sy.reshape(-1), std_devs, extent=H))  # along H, (B, C, W, H)
    return x.transpose(-1, -2)  # (B, C, H, W)


def gaussian_blur2d(x: torch.Tensor, sigma, std_devs: float = 2) -> torch.Tensor:
    r"""Isotropic Gaussian blur of ``x`` ``(B, C, H, W)``: one 1-D pass per axis.

    ``sigma``: positive float, 0-dim tensor or ``(C,)`` tensor (one scale per
    channel). Zero padding; the output has ``x``'s shape, dtype and device and is
    differentiable in ``x`` and ``sigma``.

    >>> x = torch.randn(2, 3, 16, 16)
    >>> log_sigma = torch.zeros((), requires_grad=True)
    >>> gaussian_blur2d(x, log_sigma.exp()).shape              # (B, C, H, W)
    torch.Size([2, 3, 16, 16])
    """
    _check_input(x, 4, "(B, C, H, W)")
    std_devs = _check_std_devs(std_devs)
    s = _check_sigma(sigma, "sigma", x.shape[1], x.dtype, x.device)
    return _separable_blur2d(x, s, s, std_devs)


def anisotropic_gaussian_blur2d(x: torch.Tensor, sigma_x, sigma_y, std_devs: float = 2) -> torch.Tensor:
    r"""Blur images ``x`` of shape ``(B, C, H, W)`` with an axis-aligned Gaussian.

    ``sigma_x`` acts along the width (last axis), ``sigma_y`` along the height; each is
    a positive float, 0-dim tensor or ``(C,)`` tensor. The kernel is
    :math:`g(i, j) \propto \exp(-i^2/2\sigma_y^2 - j^2/2\sigma_x^2)` with half-widths
    :math:`\lceil s\sigma_y\rceil` and :math:`\lceil s\sigma_x\rceil`; zero padding,
    same-size output, differentiable in all inputs.

    >>> x = torch.randn(1, 1, 32, 32)
    >>> y = anisotropic_gaussian_blur2d(x, sigma_x=1.0, sigma_y=4.0)   # streaks along y
    >>> y.shape
    torch.Size([1, 1, 32, 32])
    """
    _check_input(x, 4, "(B, C, H, W)")
    std_devs = _check_std_devs(std_devs)
    sx = _check_sigma(sigma_x, "sigma_x", x.shape[1], x.dtype, x.device)
    sy = _check_sigma(sigma_y, "sigma_y", x.shape[1], x.dtype, x.device)
    return _separable_blur2d(x, sx, sy, std_devs)


# ----------------------------------------------------------------------------- module
class GaussianBlur2d(nn.Module):
    r"""A Gaussian blur layer whose scale is learned: the parameter is :math:`\log\sigma`.

    Parameters
    ----------
    sigma : initial scale (> 0).
    std_devs : support half-width in standard deviations, :math:`r = \lceil s\sigma\rceil`.
    channels : ``None`` learns one scale shared by all channels; an int ``C`` learns
        one scale per channel (the input must then have ``C`` channels).

    >>> blur = GaussianBlur2d(sigma=1.0, channels=3)
    >>> blur(torch.rand(2, 3, 16, 16)).shape         # (B, 3, H, W)
    torch.Size([2, 3, 16, 16])
    >>> blur.sigma.shape                             # one scale per channel
    torch.Size([3])
    """

    def __init__(self, sigma: float = 1.0, std_devs: float = 2, channels: int | None = None):
        super().__init__()
        if isinstance(sigma, bool) or not isinstance(sigma, Real) or not (math.isfinite(sigma) and sigma > 0):
            raise ValueError(f"sigma must be a finite float > 0, got {sigma!r}")
        self.std_devs = _check_std_devs(std_devs)
        if channels is not None and (isinstance(channels, bool) or not isinstance(channels, int) or channels < 1):
            raise ValueError(f"channels must be None or an int >= 1, got {channels!r}")
        self.channels = channels
        shape = () if channels is None else (channels,)
        self.log_sigma = nn.Parameter(torch.full(shape, math.log(sigma)))

    @property
    def sigma(self) -> torch.Tensor:
        """The current scale(s), :math:`\\exp(\\log\\sigma)`; differentiable."""
        return self.log_sigma.exp()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return gaussian_blur2d(x, self.sigma, self.std_devs)  # (B, C, H, W)

    def extra_repr(self) -> str:
        sig = self.sigma.detach()
        shown = f"{float(sig):.3g}" if sig.dim() == 0 else f"{[round(v, 3) for v in sig.tolist()]}"
        return f"sigma={shown}, std_devs={self.std_devs:g}, channels={self.channels}"


# ----------------------------------------------------------------------------- fitting
def fit_sigma(
    x: torch.Tensor,
    target: torch.Tensor,
    sigma0=1.0,
    lr: float = 1.0,
    steps: int = 100,
    std_devs: float = 2,
    optimizer: str = "sgd",
) -> dict[str, torch.Tensor | bool]:
    r"""Learn :math:`\log\sigma` so that ``blur(x, sigma)`` matches ``target``.

    Minimises :math:`\ell(\sigma) = \tfrac12\,\mathrm{mean}\,(g_\sigma * x - \text{target})^2`
    with plain SGD (``optimizer="sgd"``) or Adam (``"adam"``) on :math:`\log\sigma`,
    starting from ``sigma0`` (a float, or a ``(C,)`` tensor for one scale per channel).
    ``x`` is ``(B, C, L)`` (1-D blur) or ``(B, C, H, W)`` (2-D isotropic blur).

    Returns a dict of tensors: ``"sigma"`` ``(steps+1,)`` or ``(steps+1, C)``, the
    scale before every step and after the last; ``"loss"`` ``(steps,)``; and
    ``"diverged"``, ``True`` when sigma left the usable range (non-finite or a support
    radius above :data:`MAX_RADIUS`) and the run stopped early (histories are then shorter).

    >>> g = torch.Generator().manual_seed(0)
    >>> x = torch.randn(1, 1, 100, generator=g, dtype=torch.float64)
    >>> run = fit_sigma(x, gaussian_blur1d(x, 3.0), sigma0=1.0, lr=1.0, steps=100)
    >>> round(float(run["sigma"][-1]), 2)
    3.0
    """
    blurs = {3: gaussian_blur1d, 4: gaussian_blur2d}
    if not isinstance(x, torch.Tensor) or x.dim() not in blurs:
        raise ValueError(f"x must be a (B, C, L) or (B, C, H, W) tensor, got {getattr(x, 'shape', type(x))}")
    if not isinstance(target, torch.Tensor) or target.shape != x.shape:
        raise ValueError(f"target must be a tensor of x's shape {tuple(x.shape)}, got {getattr(target, 'shape', type(target))}")
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 0:
        raise ValueError(f"steps must be an int >= 0, got {steps!r}")
    if isinstance(lr, bool) or not isinstance(lr, Real) or not (math.isfinite(lr) and lr > 0):
        raise ValueError(f"lr must be a finite number > 0, got {lr!r}")
    optimizers = {"sgd": torch.optim.SGD, "adam": torch.optim.Adam}
    if optimizer not in optimizers:
        raise ValueError(f"optimizer must be one of {tuple(optimizers)}, got {optimizer!r}")
    std_devs = _check_std_devs(std_devs)
    blur = blurs[x.dim()]
    s0 = _check_sigma(sigma0, "sigma0", x.shape[1], x.dtype, x.device).detach()
    log_sigma = nn.Parameter(s0.log())
    opt = optimizers[optimizer]([log_sigma], lr=lr)
    sigmas, losses, diverged = [s0.clone()], [], False
    for _ in range(steps):
        loss = 0.5 * (blur(x, log_sigma.exp(), std_devs) - target).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.detach())
        sigma = log_sigma.detach().exp()
        sigmas.append(sigma.clone())
        if not bool(torch.all(torch.isfinite(sigma) & (std_devs * sigma <= MAX_RADIUS))):
            diverged = True
            break
    loss_hist = torch.stack(losses) if losses else x.new_zeros(0)
    return {"sigma": torch.stack(sigmas), "loss": loss_hist, "diverged": diverged}
