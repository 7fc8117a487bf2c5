r"""Heat conduction on a periodic grid: the forward model, its damped inverse, the data.

The forward model is the heat equation :math:`\partial_t x = \nu \Delta x` on a periodic
grid of unit spacing, solved exactly in Fourier space. Every Fourier mode with wave
vector :math:`k` (in cycles per cell, ``torch.fft.fftfreq``) decays on its own:

.. math::  \hat y(k) = e^{-4\pi^2 |k|^2 \, a} \, \hat x(k), \qquad a = \nu \, \Delta t
           \quad(\text{"amount"}).

Inverting it multiplies mode :math:`k` by :math:`e^{+4\pi^2|k|^2 a}`; for ``a = 8`` on a
64 x 64 grid that is up to :math:`e^{158}`, so any noise in :math:`\hat y` explodes.

:func:`inverse_diffuse` is the *damped probabilistic inverse* of Holl, Koltun & Thuerey,
"Scale-invariant Learning by Physics Inversion" (NeurIPS 2022), as written in the original
PhiFlow notebook's ``apply_damping``. For every mode it weighs two explanations of the
residual amplitude :math:`|\hat r(k)|` with the unnormalised weights

* signal: :math:`e^{-|\hat r|^2 / 2 s_k^2}` with the expected amplitude
  :math:`s_k = N e^{-4\pi^2|k|^2 a}` (a unit-size source, diffused);
* noise: :math:`e^{-|\hat r|^2 / 2 \sigma^2}` with :math:`\sigma = \|u\|_2`, the summed
  uncertainty (white noise has the same amplitude at every frequency);

each times 1/2, and :math:`p_k` = signal weight / (sum of both). This is a heuristic, not an
exact posterior: the Gaussian densities' normalisers :math:`1/s_k` and :math:`1/\sigma` are
dropped, and :math:`|\hat r(k)|`, the modulus of a complex coefficient (Rayleigh distributed
for complex Gaussian noise), is scored as if it were a real Gaussian variable. The applied
kernel is :math:`e^{4\pi^2|k|^2 a \cdot \alpha_k}` with the action
:math:`\alpha_k = 2(p_k - \tfrac12)` where :math:`p_k \le 0.5` or :math:`p_k \ge 0.68`, and
:math:`\alpha_k = 0` (leave the mode alone) for :math:`0.5 < p_k < 0.68`. So modes that are
surely signal are inverted fully (:math:`\alpha = 1`), modes that are surely noise are
*diffused* once more (:math:`\alpha = -1`), and no mode is amplified by more than the naive
inverse :math:`e^{4\pi^2|k|^2 a}`.

:func:`heat_sources` draws the original notebook's training data: sums of soft-edged rectangles.

Example
-------
>>> x = heat_sources(4, generator=torch.Generator().manual_seed(0))   # (4, 1, 64, 64)
>>> y = diffuse(x, 8.0)                                                # smooth
>>> dx = inverse_diffuse(y - diffuse(0 * x, 8.0), 8.0, y.abs() * 1e-6)  # (4, 1, 64, 64)
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch

__all__ = [
    "diffuse",
    "inverse_diffuse",
    "inverse_diffuse_details",
    "InverseDiffusion",
    "log_kernel",
    "tikhonov_inverse",
    "source_spectrum",
    "wiener_inverse",
    "heat_sources",
]


# ----------------------------------------------------------------------------- checks
def _check_field(x, name: str) -> None:
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if x.dtype not in (torch.float32, torch.float64):
        raise TypeError(f"{name} must be float32 or float64, got {x.dtype}")
    if x.ndim < 2:
        raise ValueError(f"{name} must have at least 2 dims (..., H, W), got shape {tuple(x.shape)}")


def _check_amount(amount, name: str = "amount") -> None:
    if isinstance(amount, torch.Tensor):
        if amount.numel() != 1:
            raise ValueError(f"{name} must be a scalar (0-dim tensor), got shape {tuple(amount.shape)}")
        value = float(amount.detach())
    elif isinstance(amount, (int, float)) and not isinstance(amount, bool):
        value = float(amount)
    else:
        raise TypeError(f"{name} must be a float or a 0-dim tensor, got {type(amount).__name__}")
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be finite and >= 0, got {value}")


# ----------------------------------------------------------------------------- spectra
def log_kernel(shape: tuple[int, int], amount, dtype=torch.float64, device=None) -> torch.Tensor:
    r"""The log of the inverse-diffusion multiplier, :math:`4\pi^2 |k|^2 a`, shape ``(H, W)``.

    ``k`` is in cycles per cell and laid out like ``torch.fft.fft2`` (DC at ``[0, 0]``).
    The forward multiplier is ``exp(-log_kernel)``.
    """
    h, w = shape
    ky = torch.fft.fftfreq(h, dtype=dtype, device=device)  # (H,)
    kx = torch.fft.fftfreq(w, dtype=dtype, device=device)  # (W,)
    k2 = ky[:, None] ** 2 + kx[None, :] ** 2  # (H, W)
    return 4 * math.pi**2 * k2 * amount  # (H, W)


def diffuse(x: torch.Tensor, amount, dt: float = 1.0) -> torch.Tensor:
    r"""Diffuse ``x`` periodically: :math:`\hat y(k) = e^{-4\pi^2|k|^2 \cdot amount \cdot dt}\hat x(k)`.

    Parameters
    ----------
    x : ``(..., H, W)`` float32/float64 field (usually ``(B, 1, H, W)``); grid spacing 1.
    amount : diffusivity :math:`\nu` (>= 0), a float or a 0-dim tensor (differentiable).
    dt : time step (>= 0); only the product ``amount * dt`` matters.

    Returns the diffused field, same shape, dtype and device. The mean (DC mode) is
    conserved and ``diffuse(diffuse(x, a), b) == diffuse(x, a + b)``.

    Example
    -------
    >>> y = diffuse(torch.rand(2, 1, 64, 64), 8.0)
    """
    _check_field(x, "x")
    _check_amount(amount, "amount")
    _check_amount(dt, "dt")
    if isinstance(amount, torch.Tensor):
        amount = amount.to(dtype=x.dtype, device=x.device)
    decay = torch.exp(-log_kernel(x.shape[-2:], amount * dt, x.dtype, x.device))  # (H, W)
    x_hat = torch.fft.rfft2(x)  # (..., H, W//2+1): x is real, half the spectrum suffices
    y_hat = x_hat * decay[..., : x_hat.shape[-1]]  # fftfreq's first W//2+1 entries are rfft's
    return torch.fft.irfft2(y_hat, s=x.shape[-2:])  # (..., H, W)


# ----------------------------------------------------------------------------- damped inverse
class InverseDiffusion(NamedTuple):
    """Everything :func:`inverse_diffuse_details` computes, for plots and exercises.

    All spectra are laid out like ``torch.fft.fft2`` (DC at ``[..., 0, 0]``).
    """

    dx: torch.Tensor  # (..., H, W) the update in space
    amplitude: torch.Tensor  # (..., H, W) |FFT(dy)|
    raw_kernel: torch.Tensor  # (H, W) exp(4 pi^2 |k|^2 a), log clamped at floor(ln float32 max)
    probability_signal: torch.Tensor  # (..., H, W) P(signal | amplitude)
    kernel: torch.Tensor  # (..., H, W) the applied, damped multiplier


_LOG_F32_MAX = math.floor(math.log(torch.finfo(torch.float32).max))  # 88: exp(88) fits float32


def inverse_diffuse_details(
    dy: torch.Tensor,
    amount,
    uncertainty: torch.Tensor,
    *,
    threshold: float = 0.68,
) -> InverseDiffusion:
    r"""The damped probabilistic inverse of :func:`diffuse` with all intermediate spectra.

    See :func:`inverse_diffuse` for the maths and arguments; ``threshold`` is the signal
    weight :math:`p_k` at or above which a mode is inverted (0.68 in the original notebook).
    """
    _check_field(dy, "dy")
    _check_amount(amount, "amount")
    if not isinstance(uncertainty, torch.Tensor):
        raise TypeError(f"uncertainty must be a torch.Tensor, got {type(uncertainty).__name__}")
    if uncertainty.shape != dy.shape:
        raise ValueError(
            f"uncertainty must have dy's shape {tuple(dy.shape)}, got {tuple(uncertainty.shape)}"
        )
    if not (0.5 <= threshold <= 1.0):
        raise ValueError(f"threshold must lie in [0.5, 1], got {threshold}")
    uncertainty = uncertainty.to(dtype=dy.dtype, device=dy.device)
    if isinstance(amount, torch.Tensor):
        amount = amount.detach().to(dtype=dy.dtype, device=dy.device)
    h, w = dy.shape[-2:]
    n = math.sqrt(h * w)  # N for the original notebook's square N x N grids

    log_k = log_kernel((h, w), amount, dy.dtype, dy.device)  # (H, W) >= 0
    raw_kernel = torch.exp(log_k.clamp(max=_LOG_F32_MAX))  # (H, W) the naive inverse, all >= 1
    spectrum = torch.fft.fft2(dy)  # (..., H, W) complex
    amp = spectrum.abs()  # (..., H, W)
    # White noise spreads its energy evenly over all modes; the unnormalised FFT of noise with
    # per-cell std u has |amplitude| ~ ||u||_2 at every k.
    noise_amp = uncertainty.square().sum(dim=(-2, -1), keepdim=True).sqrt()  # (..., 1, 1)
    signal_amp = n * torch.exp(-log_k)  # (H, W) a unit source, diffused, may underflow to 0

    # Gaussian-shaped weights of the observed amplitude, without the densities' normalisers (the
    # original's heuristic). Where the expected signal underflows to 0 the signal weight is 0 (the
    # original maps NaN to 0); a zero amplitude with a zero noise level gets z = 0 (the original
    # returns NaN there): p = 1/2, and the mode, zero anyway, is left alone.
    z_signal = torch.nan_to_num(amp / signal_amp, nan=math.inf, posinf=math.inf)
    z_noise = torch.nan_to_num(amp / noise_amp, nan=0.0, posinf=math.inf)
    like_signal = torch.exp(-0.5 * z_signal.square()) * 0.5  # prior 1/2 each, as in the original
    like_noise = torch.exp(-0.5 * z_noise.square()) * 0.5
    total = like_signal + like_noise
    p_signal = torch.where(total > 0, like_signal / torch.where(total > 0, total, 1.0), 0.0)

    # Invert (action -> 1) when p >= threshold, re-diffuse (action -> -1 as p -> 0) when p <= 1/2;
    # only 1/2 < p < threshold is left alone. The band is one-sided: every p <= 1/2 acts.
    confident = (p_signal <= 0.5) | (p_signal >= threshold)
    action = torch.where(confident, 2 * (p_signal - 0.5), torch.zeros_like(p_signal))
    log_max = math.floor(math.log(torch.finfo(dy.dtype).max))  # keep exp finite in float32
    kernel = torch.exp((log_k * action).clamp(max=log_max))  # (..., H, W)

    dx = torch.fft.ifft2(spectrum * kernel).real  # (..., H, W)
    return InverseDiffusion(dx, amp, raw_kernel, p_signal, kernel)


def inverse_diffuse(dy: torch.Tensor, amount, uncertainty: torch.Tensor) -> torch.Tensor:
    r"""Damped probabilistic inverse of :func:`diffuse`, as used by SIP updates.

    Every Fourier mode of ``dy`` is multiplied by :math:`e^{4\pi^2|k|^2 a\,\alpha_k}`, where
    the action :math:`\alpha_k = 2(p_k - 1/2) \in [-1, 1]` comes from the weight :math:`p_k`
    of "signal" (expected amplitude :math:`N e^{-4\pi^2|k|^2 a}`) against "noise" (amplitude
    :math:`\|u\|_2`, the summed ``uncertainty``), the original notebook's heuristic (see the
    module docstring); modes with ``0.5 < p_k < 0.68`` are left alone (:math:`\alpha_k = 0`).
    Noise-free, band-limited ``dy`` is inverted exactly. :func:`inverse_diffuse_details`
    returns the intermediate spectra and takes the threshold 0.68 as an argument.

    Parameters
    ----------
    dy : ``(..., H, W)`` residual in observation space (float32/float64; use float64: the
        inverse kernel reaches ``exp(158)`` for ``amount = 8`` on 64 x 64).
    amount : the diffusion amount ``a`` used by :func:`diffuse` (``amount * dt`` there).
    uncertainty : per-cell standard deviation of ``dy``, same shape; the original notebook
        passes ``abs(dy) * 1e-6``.

    Returns ``dx`` with ``dy``'s shape, dtype and device.

    Example
    -------
    >>> y = diffuse(torch.rand(1, 1, 64, 64, dtype=torch.float64), 8.0)
    >>> dx = inverse_diffuse(y, 8.0, y.abs() * 1e-6)        # close to the sharp source
    """
    return inverse_diffuse_details(dy, amount, uncertainty).dx


# ----------------------------------------------------------------------------- classical inverses
def _multiply_modes(dy: torch.Tensor, multiplier: torch.Tensor) -> torch.Tensor:
    """``ifft2(fft2(dy) * multiplier)``, real part; ``multiplier`` ``(H, W)``, fft2 layout."""
    return torch.fft.ifft2(torch.fft.fft2(dy) * multiplier).real


def tikhonov_inverse(dy: torch.Tensor, amount, mu: float) -> torch.Tensor:
    r"""The Tikhonov (Levenberg--Marquardt) inverse :math:`(P^2 + \mu)^{-1} P\,dy`.

    :math:`\Delta x = \arg\min_d \tfrac12\|P d - dy\|^2 + \tfrac\mu2\|d\|^2`; mode by mode
    the multiplier is :math:`\lambda_k / (\lambda_k^2 + \mu)` with
    :math:`\lambda_k = e^{-4\pi^2|k|^2 a}`. As a step for the residual ``dy = y - P x̂`` it is
    Levenberg--Marquardt's: :math:`\mu \to 0` gives the exact inverse :math:`1/\lambda_k` on
    every mode with :math:`\lambda_k^2 \gg \mu`, :math:`\mu \to \infty` gives
    :math:`\lambda_k / \mu`, gradient descent's direction :math:`-\nabla\tfrac12\|P\hat x - y\|^2`
    with step :math:`1/\mu`. No mode is amplified by more than :math:`1/(2\sqrt\mu)`.

    Parameters
    ----------
    dy : ``(..., H, W)`` float32/float64 residual.
    amount : the diffusion amount ``a`` of :func:`diffuse`.
    mu : the damping :math:`\mu > 0`, in units of :math:`\lambda^2` (dimensionless here).

    Example
    -------
    >>> y = diffuse(torch.rand(1, 1, 64, 64, dtype=torch.float64), 8.0)
    >>> dx = tikhonov_inverse(y, 8.0, 1e-12)   # inverts the modes with lambda >> 1e-6
    """
    _check_field(dy, "dy")
    _check_amount(amount, "amount")
    if not (isinstance(mu, (int, float)) and not isinstance(mu, bool)) or not (0 < mu < math.inf):
        raise ValueError(f"mu must be a positive finite number, got {mu!r}")
    lam = torch.exp(-log_kernel(dy.shape[-2:], amount, dy.dtype, dy.device))  # (H, W)
    return _multiply_modes(dy, lam / (lam.square() + mu))


def source_spectrum(
    n: int = 512, size: int = 64, generator: torch.Generator | None = None
) -> torch.Tensor:
    r"""Mean power spectrum :math:`S_k = E|\widehat{x - \bar x}(k)|^2` of :func:`heat_sources`, ``(size, size)``.

    Estimated from ``n`` draws (unnormalised ``fft2``, fft2 layout, float64) of the sources
    minus their own mean, which diffusion conserves: the prior of :func:`wiener_inverse`.
    """
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise ValueError(f"n must be an int >= 1, got {n!r}")
    x = heat_sources(n, size, generator=generator)  # (n, 1, size, size)
    spectrum = torch.fft.fft2(x - x.mean(dim=(-2, -1), keepdim=True))
    return spectrum.abs().square().mean(dim=(0, 1))  # (size, size)


def wiener_inverse(dy: torch.Tensor, amount, spectrum: torch.Tensor, noise_std: float) -> torch.Tensor:
    r"""The Wiener inverse of :func:`diffuse`: mode by mode :math:`\lambda_k S_k / (\lambda_k^2 S_k + HW\sigma^2)`.

    The linear estimate of minimum mean squared error of :math:`e` from :math:`dy = Pe + n`
    when the modes of :math:`e` are uncorrelated with power :math:`S_k` (``spectrum``, from
    :func:`source_spectrum`) and :math:`n` is white with per-cell std :math:`\sigma`
    (``noise_std``; its unnormalised FFT has power :math:`HW\sigma^2` in every mode). Nothing
    is tuned: the prior and the noise level set the damping of every mode.

    Example
    -------
    >>> S = source_spectrum(64, generator=torch.Generator().manual_seed(0))
    >>> y = diffuse(torch.rand(1, 1, 64, 64, dtype=torch.float64), 8.0)
    >>> dx = wiener_inverse(y - y.mean(), 8.0, S, 1e-6)
    """
    _check_field(dy, "dy")
    _check_amount(amount, "amount")
    if not isinstance(spectrum, torch.Tensor) or spectrum.shape != dy.shape[-2:]:
        raise ValueError(f"spectrum must be a tensor of shape {tuple(dy.shape[-2:])}, got "
                         f"{getattr(spectrum, 'shape', type(spectrum).__name__)}")
    if not (isinstance(noise_std, (int, float)) and not isinstance(noise_std, bool)) or not noise_std > 0:
        raise ValueError(f"noise_std must be a positive number, got {noise_std!r}")
    lam = torch.exp(-log_kernel(dy.shape[-2:], amount, dy.dtype, dy.device))  # (H, W)
    s = spectrum.to(dtype=dy.dtype, device=dy.device)
    noise_power = dy.shape[-2] * dy.shape[-1] * noise_std**2
    return _multiply_modes(dy, lam * s / (lam.square() * s + noise_power))


# ----------------------------------------------------------------------------- data
def _box_profile(centre: torch.Tensor, half: torch.Tensor, size: int) -> torch.Tensor:
    """Fraction of every unit cell ``[i, i+1)`` inside ``[centre - half, centre + half]``.

    ``centre``, ``half``: ``(B, K)``; returns ``(B, K, size)``. This is the exact overlap of a
    box with a cell, so edges are soft (anti-aliased) and sub-cell boxes keep their mass.
    """
    lo = torch.arange(size, dtype=centre.dtype, device=centre.device)  # (size,) cell lower edges
    left = torch.maximum(lo, (centre - half)[..., None])  # (B, K, size)
    right = torch.minimum(lo + 1, (centre + half)[..., None])  # (B, K, size)
    return (right - left).clamp(min=0)  # (B, K, size)


def heat_sources(
    batch: int,
    size: int = 64,
    generator: torch.Generator | None = None,
    dtype: torch.dtype = torch.float64,
    device=None,
) -> torch.Tensor:
    """Random heat sources, ``(batch, 1, size, size)``: sums of 4 to 10 soft rectangles.

    As in the original notebook's ``generate_heat_example`` (for ``size = 64``): every example has ``4 + floor(7 U)``
    rectangles with centres uniform in the middle 80 % of the domain, half-sizes uniform in
    ``[0, 10)`` cells per axis (centres moved inwards so boxes stay inside), and strengths
    uniform in ``[0, 1)``. Cells on an edge get the covered fraction of the strength.

    Example
    -------
    >>> x = heat_sources(128, generator=torch.Generator().manual_seed(0))  # (128,1,64,64)
    """
    if not isinstance(batch, int) or isinstance(batch, bool):
        raise TypeError(f"batch must be an int, got {type(batch).__name__}")
    if batch < 1:
        raise ValueError(f"batch must be >= 1, got {batch}")
    if not isinstance(size, int) or isinstance(size, bool):
        raise TypeError(f"size must be an int, got {type(size).__name__}")
    if size < 21:
        raise ValueError(f"size must be >= 21 (rectangles have half-sizes up to 10), got {size}")
    if dtype not in (torch.float32, torch.float64):
        raise TypeError(f"dtype must be torch.float32 or torch.float64, got {dtype}")
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator or None, got {type(generator).__name__}")
    k_max = 10

    def uniform(*shape):  # drawn in float64 on the CPU so every dtype/device sees the same data
        return torch.rand(*shape, generator=generator, dtype=torch.float64)

    count = (4 + 7 * uniform(batch)).long()  # (B,) in 4..10
    centre = (uniform(batch, k_max, 2) - 0.5) * size * 0.8 + size * 0.5  # (B, K, 2) (y, x)
    half = uniform(batch, k_max, 2) * 10  # (B, K, 2)
    strength = uniform(batch, k_max) * (torch.arange(k_max) < count[:, None])  # (B, K)
    centre = torch.minimum(torch.maximum(centre, half), size - half)  # keep boxes inside
    prof_y = _box_profile(centre[..., 0], half[..., 0], size)  # (B, K, H)
    prof_x = _box_profile(centre[..., 1], half[..., 1], size)  # (B, K, W)
    x = torch.einsum("bk,bkh,bkw->bhw", strength, prof_y, prof_x)  # (B, H, W)
    return x[:, None].to(dtype=dtype, device=device)  # (B, 1, H, W)
