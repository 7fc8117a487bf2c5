"""Tests for course_lib.sigma: agreement with scipy.ndimage, separability, gradients, recovery, bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.ndimage as ndi
import torch

from course_lib.sigma import (
    MAX_RADIUS,
    TOEPLITZ_MAX,
    GaussianBlur2d,
    anisotropic_gaussian_blur2d,
    fit_sigma,
    gaussian_blur1d,
    gaussian_blur2d,
    gaussian_kernel1d,
)

F64 = torch.float64


def _rand(*shape, seed=0, dtype=F64):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=dtype)


def _numpy_taps(sigma: float, std_devs: float = 2) -> np.ndarray:
    """Independent reference: the normalised, truncated Gaussian written out in NumPy."""
    r = math.ceil(std_devs * sigma)
    k = np.arange(-r, r + 1, dtype=np.float64)
    w = np.exp(-(k**2) / (2 * sigma**2))
    return w / w.sum()


# ----------------------------------------------------------------------------- taps
@pytest.mark.parametrize("sigma, std_devs", [(0.3, 2), (1.0, 2), (2.5, 2), (3.0, 2), (1.7, 3), (4.2, 1.5)])
def test_kernel_matches_formula(sigma, std_devs):
    w = gaussian_kernel1d(torch.tensor(sigma, dtype=F64), std_devs)
    ref = _numpy_taps(sigma, std_devs)
    assert w.shape == (2 * math.ceil(std_devs * sigma) + 1,)
    np.testing.assert_allclose(w.numpy(), ref, rtol=1e-12, atol=1e-15)
    assert abs(float(w.sum()) - 1) < 1e-12


def test_kernel_float_sigma_uses_requested_dtype():
    assert gaussian_kernel1d(1.0).dtype == torch.get_default_dtype()
    assert gaussian_kernel1d(1.0, dtype=F64).dtype == F64
    assert gaussian_kernel1d(1.0, device="cpu").device.type == "cpu"


def test_tap_derivative_closed_form():
    # dw_k/dsigma = w_k (k^2 - sum_j w_j j^2) / sigma^3, as derived in the chapter
    sigma = torch.tensor(1.7, dtype=F64, requires_grad=True)
    jac = torch.autograd.functional.jacobian(lambda s: gaussian_kernel1d(s), sigma)
    w = gaussian_kernel1d(sigma.detach())
    r = w.numel() // 2
    k = torch.arange(-r, r + 1, dtype=F64)
    closed = w * (k**2 - (w * k**2).sum()) / sigma.detach() ** 3
    torch.testing.assert_close(jac, closed, rtol=1e-10, atol=1e-12)


# ----------------------------------------------------------------------------- agreement with scipy
@pytest.mark.parametrize("sigma", [0.4, 1.0, 2.3, 3.0, 40.0])  # 40: support wider than the signal
def test_blur1d_matches_scipy(sigma):
    x = _rand(2, 3, 50)
    y = gaussian_blur1d(x, sigma)
    ref = ndi.convolve1d(x.numpy(), _numpy_taps(sigma), axis=-1, mode="constant", cval=0.0)
    np.testing.assert_allclose(y.numpy(), ref, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("sigma", [0.4, 3.0, 40.0, 300.0])  # 40, 300: mirrored many times
def test_blur1d_reflect_matches_numpy_pad(sigma):
    x = _rand(2, 3, 17)
    taps = _numpy_taps(sigma)
    r = taps.size // 2
    padded = np.pad(x.numpy(), ((0, 0), (0, 0), (r, r)), mode="reflect")  # repeats reflection
    ref = np.stack([[np.correlate(line, taps, mode="valid") for line in b] for b in padded])
    y = gaussian_blur1d(x, sigma, padding="reflect")
    np.testing.assert_allclose(y.numpy(), ref, rtol=1e-10, atol=1e-12)


def test_blur1d_large_sigma_limits():
    """Both paddings tend to a moving average: of zeros and x (-> sum(x)/Z), or of the mirror."""
    x = _rand(1, 1, 100)
    w0 = gaussian_kernel1d(1000.0, dtype=F64).max()  # 1/Z; the taps over 100 samples are flat to 0.5 %
    zeros = gaussian_blur1d(x, 1000.0)
    assert (zeros - w0 * x.sum()).abs().max() < 0.01 * w0 * x.abs().sum()
    period = torch.cat([x, x[..., 1:-1].flip(-1)], dim=-1)  # one period of the mirrored signal
    reflect = gaussian_blur1d(x, 1000.0, padding="reflect")
    assert (reflect - period.mean()).abs().max() < 0.02 * x.abs().max()


def test_gradcheck_blur1d_reflect():
    x = _rand(1, 2, 9).requires_grad_()
    sigma = torch.tensor([0.9, 6.3], dtype=F64, requires_grad=True)  # 6.3: support > 2 periods
    assert torch.autograd.gradcheck(lambda a, s: gaussian_blur1d(a, s, padding="reflect"), (x, sigma))


def test_long_lines_take_the_conv_path_and_agree():
    x = _rand(1, 2, TOEPLITZ_MAX + 77)
    ref = ndi.convolve1d(x.numpy(), _numpy_taps(4.3), axis=-1, mode="constant", cval=0.0)
    np.testing.assert_allclose(gaussian_blur1d(x, 4.3).numpy(), ref, rtol=1e-10, atol=1e-12)
    sig = torch.tensor([0.8, 2.2], dtype=F64)  # per channel, compared with the Toeplitz path's maths
    for c in range(2):
        ref = ndi.convolve1d(x[:, c].numpy(), _numpy_taps(float(sig[c])), axis=-1, mode="constant", cval=0.0)
        np.testing.assert_allclose(gaussian_blur1d(x, sig)[:, c].numpy(), ref, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("sigma", [0.4, 1.5, 3.0, 20.0])
def test_blur2d_matches_scipy(sigma):
    x = _rand(2, 2, 17, 23)
    y = gaussian_blur2d(x, sigma)
    w = _numpy_taps(sigma)
    ref = ndi.correlate(x.numpy(), np.outer(w, w)[None, None], mode="constant", cval=0.0)
    np.testing.assert_allclose(y.numpy(), ref, rtol=1e-10, atol=1e-12)


def test_anisotropic_matches_scipy_and_reduces_to_isotropic():
    x = _rand(1, 1, 20, 24)
    y = anisotropic_gaussian_blur2d(x, sigma_x=1.2, sigma_y=3.1)
    kernel = np.outer(_numpy_taps(3.1), _numpy_taps(1.2))  # rows: y, columns: x
    ref = ndi.correlate(x.numpy(), kernel[None, None], mode="constant", cval=0.0)
    np.testing.assert_allclose(y.numpy(), ref, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(anisotropic_gaussian_blur2d(x, 2.2, 2.2), gaussian_blur2d(x, 2.2))


def test_blur2d_is_two_1d_passes():
    x = _rand(2, 3, 16, 21)
    B, C, H, W = x.shape
    rows = gaussian_blur1d(x.reshape(B, C * H, W), 1.8)  # along W, every row a signal
    rows = rows.reshape(B, C, H, W).transpose(-1, -2).reshape(B, C * W, H)
    both = gaussian_blur1d(rows, 1.8).reshape(B, C, W, H).transpose(-1, -2)  # along H
    torch.testing.assert_close(gaussian_blur2d(x, 1.8), both)


def test_float32_dtype_and_shape_are_kept():
    x = _rand(1, 2, 12, 12, dtype=torch.float32)
    sigma = torch.tensor(1.5, dtype=F64, requires_grad=True)
    y = gaussian_blur2d(x, sigma)
    assert y.dtype == torch.float32 and y.shape == x.shape
    y.sum().backward()
    assert sigma.grad is not None and sigma.grad.dtype == F64
    torch.testing.assert_close(y, gaussian_blur2d(x.double(), 1.5).float(), rtol=1e-5, atol=1e-6)


# ----------------------------------------------------------------------------- gradients
def test_gradcheck_blur1d_sigma_and_x():
    x = _rand(1, 2, 15).requires_grad_()
    sigma = torch.tensor(1.3, dtype=F64, requires_grad=True)  # 2*sigma = 2.6: far from a radius jump
    assert torch.autograd.gradcheck(gaussian_blur1d, (x, sigma))


def test_gradcheck_blur2d_sigma_and_x():
    x = _rand(1, 1, 7, 6).requires_grad_()
    sigma = torch.tensor(0.9, dtype=F64, requires_grad=True)
    assert torch.autograd.gradcheck(gaussian_blur2d, (x, sigma))


def test_gradcheck_per_channel_and_anisotropic():
    x = _rand(1, 2, 6, 7).requires_grad_()
    sig = torch.tensor([0.7, 1.6], dtype=F64, requires_grad=True)
    assert torch.autograd.gradcheck(gaussian_blur2d, (x, sig))
    sx = torch.tensor(0.8, dtype=F64, requires_grad=True)
    sy = torch.tensor(1.9, dtype=F64, requires_grad=True)
    assert torch.autograd.gradcheck(anisotropic_gaussian_blur2d, (x, sx, sy))


# ----------------------------------------------------------------------------- module and fitting
def test_module_per_channel_sigma():
    blur = GaussianBlur2d(sigma=1.0, channels=3).double()
    with torch.no_grad():
        blur.log_sigma.copy_(torch.tensor([0.6, 1.7, 2.9], dtype=F64).log())
    x = _rand(2, 3, 14, 14)
    y = blur(x)
    for c, s in enumerate([0.6, 1.7, 2.9]):
        torch.testing.assert_close(y[:, c : c + 1], gaussian_blur2d(x[:, c : c + 1], s))
    y[:, 1].sum().backward()  # only channel 1's scale influences channel 1
    g = blur.log_sigma.grad
    assert g[1] != 0 and g[0] == 0 and g[2] == 0
    assert blur.sigma.shape == (3,)


def test_module_shared_sigma_is_scalar():
    blur = GaussianBlur2d(sigma=2.0)
    assert blur.sigma.dim() == 0 and abs(float(blur.sigma.detach()) - 2.0) < 1e-6
    assert blur(_rand(1, 4, 10, 10, dtype=torch.float32)).shape == (1, 4, 10, 10)
    assert "sigma=2" in repr(blur)


def test_1d_recovery_within_one_percent():
    x = _rand(1, 1, 100)
    run = fit_sigma(x, gaussian_blur1d(x, 3.0), sigma0=1.0, lr=1.0, steps=100)
    assert not run["diverged"]
    assert abs(float(run["sigma"][-1]) - 3.0) < 0.03
    assert run["sigma"].shape == (101,) and run["loss"].shape == (100,)
    assert run["loss"][-1] < 1e-3 * run["loss"][0]


def test_fit_per_channel_2d():
    x = _rand(1, 2, 16, 16)
    target = gaussian_blur2d(x, torch.tensor([1.0, 2.5], dtype=F64))
    run = fit_sigma(x, target, sigma0=torch.tensor([1.5, 1.5], dtype=F64), lr=0.05, steps=150, optimizer="adam")
    torch.testing.assert_close(run["sigma"][-1], torch.tensor([1.0, 2.5], dtype=F64), rtol=0.01, atol=0)


def test_fit_reports_divergence():
    x = _rand(1, 1, 100)
    run = fit_sigma(x, gaussian_blur1d(x, 3.0), sigma0=1.0, lr=1000.0, steps=50)
    assert run["diverged"] and run["loss"].numel() < 50


# ----------------------------------------------------------------------------- bad input
X1, X2 = _rand(1, 1, 10), _rand(1, 3, 8, 8)


@pytest.mark.parametrize(
    "call, exc, match",
    [
        (lambda: gaussian_kernel1d(0.0), ValueError, "sigma"),
        (lambda: gaussian_kernel1d(-1.0), ValueError, "sigma"),
        (lambda: gaussian_kernel1d(float("nan")), ValueError, "sigma"),
        (lambda: gaussian_kernel1d(torch.tensor([1.0, 2.0])), ValueError, "sigma"),
        (lambda: gaussian_kernel1d(True), TypeError, "sigma"),
        (lambda: gaussian_kernel1d("1"), TypeError, "sigma"),
        (lambda: gaussian_kernel1d(1.0, std_devs=0), ValueError, "std_devs"),
        (lambda: gaussian_kernel1d(1.0, std_devs=float("nan")), ValueError, "std_devs"),
        (lambda: gaussian_kernel1d(1.0, std_devs="2"), TypeError, "std_devs"),
        (lambda: gaussian_kernel1d(1e6), ValueError, "sigma"),  # radius above MAX_RADIUS
        (lambda: gaussian_blur1d(X1, 0.0), ValueError, "sigma"),
        (lambda: gaussian_blur1d(X1, torch.tensor(float("nan"))), ValueError, "sigma"),
        (lambda: gaussian_blur1d(X1, torch.ones(2, 2)), ValueError, "sigma"),
        (lambda: gaussian_blur1d(X1, torch.ones(3)), ValueError, "sigma"),  # C = 1
        (lambda: gaussian_blur1d(X1, torch.tensor(1)), TypeError, "sigma"),
        (lambda: gaussian_blur1d(X2, 1.0), ValueError, "x"),
        (lambda: gaussian_blur1d(X1.numpy(), 1.0), TypeError, "x"),
        (lambda: gaussian_blur1d(X1.long(), 1.0), TypeError, "x"),
        (lambda: gaussian_blur1d(X1, 1.0, std_devs=-1), ValueError, "std_devs"),
        (lambda: gaussian_blur1d(X1, 1.0, padding="circular"), ValueError, "padding"),
        (lambda: gaussian_blur1d(X1[..., :1], 1.0, padding="reflect"), ValueError, "padding"),
        (lambda: gaussian_blur2d(X1, 1.0), ValueError, "x"),
        (lambda: gaussian_blur2d(X2, -2.0), ValueError, "sigma"),
        (lambda: gaussian_blur2d(X2, torch.tensor([1.0, -1.0, 1.0])), ValueError, "sigma"),
        (lambda: gaussian_blur2d(X2, torch.ones(2)), ValueError, "sigma"),
        (lambda: gaussian_blur2d(X2, 1.0, std_devs=0.0), ValueError, "std_devs"),
        (lambda: anisotropic_gaussian_blur2d(X2, 1.0, 0.0), ValueError, "sigma_y"),
        (lambda: anisotropic_gaussian_blur2d(X2, float("inf"), 1.0), ValueError, "sigma_x"),
        (lambda: GaussianBlur2d(sigma=0.0), ValueError, "sigma"),
        (lambda: GaussianBlur2d(sigma=1.0, channels=0), ValueError, "channels"),
        (lambda: GaussianBlur2d(sigma=1.0, std_devs=-1), ValueError, "std_devs"),
        (lambda: GaussianBlur2d(channels=2)(X2), ValueError, "sigma"),
        (lambda: fit_sigma(X1, X1, optimizer="lbfgs"), ValueError, "optimizer"),
        (lambda: fit_sigma(X1, X2), ValueError, "target"),
        (lambda: fit_sigma(X1, X1, sigma0=-1.0), ValueError, "sigma0"),
        (lambda: fit_sigma(X1, X1, lr=0.0), ValueError, "lr"),
        (lambda: fit_sigma(X1, X1, steps=-1), ValueError, "steps"),
    ],
)
def test_bad_input_names_the_argument(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def test_max_radius_is_generous():
    assert MAX_RADIUS >= 1024  # far beyond any blur the chapters use


# ----------------------------------------------------------------------------- composed filters (models.composed)
def test_composed_conv_is_blur_then_conv_and_learns_sigma():
    from course_lib.models import ComposedConv2d

    torch.manual_seed(0)
    layer = ComposedConv2d(2, 4, kernel_size=3, sigma=1.5).double()
    x = _rand(2, 2, 12, 12)
    y = layer(x)
    assert y.shape == (2, 4, 12, 12)
    torch.testing.assert_close(y, layer.conv(gaussian_blur2d(x, layer.sigma)))
    y.square().sum().backward()
    assert layer.blur.log_sigma.grad.shape == (2,) and torch.all(layer.blur.log_sigma.grad != 0)


def test_square_holes_and_normalized_convolution():
    from course_lib.models.composed import NormalizedConvolution, square_holes

    masks = square_holes(5, 16, 6, torch.Generator().manual_seed(0))
    assert masks.shape == (5, 1, 16, 16)
    assert torch.all((1 - masks).sum((-2, -1)) == 36)  # one 6x6 hole each, inside the crop
    const = torch.full((5, 1, 16, 16), 0.7)
    nc = NormalizedConvolution(sigma=2.0, std_devs=6)
    torch.testing.assert_close(nc(masks * const, masks), const)  # a constant image is filled exactly


def test_train_inpainter_smoke_and_bad_input():
    from course_lib.models.composed import InpaintingCNN, inpainting_psnr, square_holes, train_inpainter

    images = torch.rand(2, 1, 40, 40, generator=torch.Generator().manual_seed(0))
    torch.manual_seed(0)
    net = InpaintingCNN(channels=4, composed=True)
    hist = train_inpainter(net, images, hole=6, steps=3, batch_size=4, size=16, progress=False)
    assert len(hist["loss"]) == 3 and len(hist["sigma"]) == 3 and len(hist["sigma"][0]) == 2
    assert math.isfinite(inpainting_psnr(net, images, hole=6, n=8, size=16))
    assert math.isfinite(inpainting_psnr(None, images, hole=6, n=8, size=16))
    with pytest.raises(ValueError, match="hole"):
        square_holes(2, 16, 16)
    with pytest.raises(ValueError, match="images"):
        train_inpainter(net, images[0], hole=6, steps=1)


def test_train_inpainter_seed_sets_the_batches():
    from course_lib.models.composed import NormalizedConvolution, train_inpainter

    images = torch.rand(2, 1, 40, 40, generator=torch.Generator().manual_seed(0))
    runs = [train_inpainter(NormalizedConvolution(2.0), images, hole=6, steps=3, batch_size=4, size=16,
                            seed=seed, progress=False)["loss"] for seed in (0, 0, 1)]
    assert runs[0] == runs[1] and runs[0] != runs[2]
