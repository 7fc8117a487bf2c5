"""Tests for course_lib.heat: diffusion, its damped inverse and the source generator."""

import math

import numpy as np
import pytest
import torch

from course_lib.heat import (
    _box_profile,
    diffuse,
    heat_sources,
    inverse_diffuse,
    inverse_diffuse_details,
    source_spectrum,
    tikhonov_inverse,
    wiener_inverse,
)

DTYPES = [torch.float32, torch.float64]


def brute_force_diffuse(x: np.ndarray, amount: float) -> np.ndarray:
    """Independent reference: explicit DFT matrices, integer frequencies folded to [-N/2, N/2)."""
    h, w = x.shape

    def dft(n):
        j = np.arange(n)
        return np.exp(-2j * np.pi * np.outer(j, j) / n)  # (n, n)

    def freqs(n):  # cycles per cell, the aliased frequency closest to zero
        j = np.arange(n)
        return np.where(j < (n + 1) // 2, j, j - n) / n

    fy, fx = dft(h), dft(w)
    spectrum = fy @ x @ fx.T  # (H, W)
    k2 = freqs(h)[:, None] ** 2 + freqs(w)[None, :] ** 2
    spectrum *= np.exp(-4 * np.pi**2 * k2 * amount)
    return (np.conj(fy) @ spectrum @ np.conj(fx).T).real / (h * w)


def band_limited(batch: int, size: int, k_max: int, scale: float, seed: int) -> torch.Tensor:
    """Real random fields whose Fourier modes vanish beyond |k| > k_max / size."""
    g = torch.Generator().manual_seed(seed)
    ky = torch.fft.fftfreq(size, dtype=torch.float64) * size
    kx = torch.fft.rfftfreq(size, dtype=torch.float64) * size
    mask = (ky[:, None] ** 2 + kx[None, :] ** 2) <= k_max**2  # (H, W//2+1)
    coef = torch.randn(batch, 1, size, size // 2 + 1, 2, generator=g, dtype=torch.float64)
    spec = torch.view_as_complex(coef) * mask * scale
    return torch.fft.irfft2(spec, s=(size, size))  # (B, 1, H, W)


# ----------------------------------------------------------------------------- diffuse
@pytest.mark.parametrize("shape", [(6, 5), (7, 8), (16, 16)])
def test_diffuse_matches_brute_force_dft(shape):
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape)
    got = diffuse(torch.from_numpy(x)[None, None], 0.7, dt=0.5)[0, 0].numpy()
    np.testing.assert_allclose(got, brute_force_diffuse(x, 0.35), atol=1e-12)


def test_diffuse_semigroup_mean_and_identity():
    x = torch.rand(3, 2, 16, 12, dtype=torch.float64)
    torch.testing.assert_close(diffuse(diffuse(x, 0.3), 1.2), diffuse(x, 1.5))
    torch.testing.assert_close(diffuse(x, 0.0), x)
    torch.testing.assert_close(diffuse(x, 5.0).mean(dim=(-2, -1)), x.mean(dim=(-2, -1)))


@pytest.mark.parametrize("dtype", DTYPES)
def test_diffuse_keeps_dtype_and_shape(dtype):
    x = torch.rand(2, 1, 8, 8, dtype=dtype)
    y = diffuse(x, torch.tensor(2.0))
    assert y.dtype == dtype and y.shape == x.shape


def test_diffuse_gradcheck():
    x = torch.rand(1, 1, 6, 5, dtype=torch.float64, requires_grad=True)
    amount = torch.tensor(0.4, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a, b: diffuse(a, b), (x, amount))


# ----------------------------------------------------------------------------- inverse
def test_inverse_undoes_diffuse_on_band_limited_input():
    x = band_limited(4, 64, k_max=10, scale=50.0, seed=1)  # (4, 1, 64, 64)
    y = diffuse(x, 8.0)  # the k=10 modes shrink by e^-7.7
    dx = inverse_diffuse(y, 8.0, y.abs() * 1e-6)
    torch.testing.assert_close(dx, x, atol=1e-9, rtol=0)


def test_inverse_damps_noise():
    g = torch.Generator().manual_seed(0)
    x = heat_sources(2, generator=g)  # (2, 1, 64, 64)
    sigma = 1e-3
    y = diffuse(x, 8.0) + sigma * torch.randn(x.shape, generator=g, dtype=torch.float64)
    naive = torch.fft.ifft2(torch.fft.fft2(y) * torch.exp(torch.clamp(
        4 * math.pi**2 * 8.0 * (torch.fft.fftfreq(64)[:, None] ** 2 + torch.fft.fftfreq(64) ** 2),
        max=88))).real
    details = inverse_diffuse_details(y, 8.0, torch.full_like(y, sigma))
    err_naive = (naive - x).abs().max()
    err_damped = (details.dx - x).abs().max()
    assert err_naive > 1e20  # the naive inverse blows the noise up
    assert err_damped < 2.0  # the damped one stays on the scale of the sources (max <= 10)
    assert torch.all(details.kernel <= details.raw_kernel * (1 + 1e-12))
    # where the expected signal is far below the noise, the mode is never amplified
    k2 = torch.fft.fftfreq(64, dtype=torch.float64)[:, None] ** 2 + torch.fft.fftfreq(64) ** 2
    high = 64 * torch.exp(-4 * math.pi**2 * 8.0 * k2) < 1e-3 * sigma * 64
    assert torch.all(details.kernel[..., high] <= 1.0)
    assert torch.all((details.probability_signal >= 0) & (details.probability_signal <= 1))


def test_inverse_threshold_changes_the_kernel():
    g = torch.Generator().manual_seed(3)
    x = heat_sources(1, generator=g)
    y = diffuse(x, 8.0) + 1e-4 * torch.randn(x.shape, generator=g, dtype=torch.float64)
    u = torch.full_like(y, 1e-4)
    base = inverse_diffuse_details(y, 8.0, u)
    strict = inverse_diffuse_details(y, 8.0, u, threshold=1.0)
    assert torch.all(strict.kernel <= base.kernel * (1 + 1e-12))
    # the dead band is one-sided: modes with p <= 1/2 always act, 1/2 < p < threshold never do
    band = (base.probability_signal > 0.5) & (base.probability_signal < 0.68)
    assert torch.all(base.kernel[band] == 1.0)
    low = base.probability_signal < 0.5
    assert low.any() and torch.all(base.kernel[low] < 1.0)


@pytest.mark.parametrize("dtype", DTYPES)
def test_inverse_keeps_dtype_and_is_finite(dtype):
    y = diffuse(heat_sources(2, generator=torch.Generator().manual_seed(0), dtype=dtype), 8.0)
    dx = inverse_diffuse(y, 8.0, y.abs() * 1e-6)
    assert dx.dtype == dtype and dx.shape == y.shape and torch.isfinite(dx).all()
    zero = inverse_diffuse(torch.zeros_like(y), 8.0, torch.zeros_like(y))
    assert torch.equal(zero, torch.zeros_like(y))


def test_inverse_gradcheck():
    g = torch.Generator().manual_seed(0)
    dy = torch.rand(1, 1, 6, 6, generator=g, dtype=torch.float64).requires_grad_()
    u = torch.full((1, 1, 6, 6), 0.05, dtype=torch.float64)
    assert torch.autograd.gradcheck(lambda d: inverse_diffuse(d, 0.3, u), (dy,))


# ----------------------------------------------------------------------------- data
def test_heat_sources_shape_range_and_determinism():
    x = heat_sources(64, generator=torch.Generator().manual_seed(0))
    assert x.shape == (64, 1, 64, 64) and x.dtype == torch.float64
    assert x.min() >= 0 and x.max() < 10  # up to ten strengths in [0, 1) overlap
    assert (x.flatten(1).amax(1) > 0).all()  # every example has a source
    again = heat_sources(64, generator=torch.Generator().manual_seed(0), dtype=torch.float32)
    torch.testing.assert_close(again, x.float())
    # sources are kept inside the domain: 4..10 boxes of mean area ~100 and strength ~0.5
    mass = x.sum(dim=(1, 2, 3))
    assert 50 < mass.mean() < 1000


def test_box_profile_is_exact_cell_overlap():
    centre = torch.tensor([[10.25, 5.0]], dtype=torch.float64)
    half = torch.tensor([[2.5, 0.2]], dtype=torch.float64)
    prof = _box_profile(centre, half, 20)  # (1, 2, 20)
    torch.testing.assert_close(prof.sum(-1), 2 * half)
    # the box [7.75, 12.75] covers a quarter of cell 7 and three quarters of cell 12
    expected = torch.tensor([0, 0.25, 1, 1, 1, 1, 0.75, 0], dtype=torch.float64)
    torch.testing.assert_close(prof[0, 0, 6:14], expected)


# ----------------------------------------------------------------------------- bad input
def test_bad_inputs_name_the_argument():
    x = torch.rand(1, 1, 8, 8, dtype=torch.float64)
    with pytest.raises(TypeError, match="x"):
        diffuse(x.numpy(), 1.0)
    with pytest.raises(ValueError, match="x"):
        diffuse(torch.rand(8), 1.0)
    with pytest.raises(TypeError, match="x"):
        diffuse(x.long(), 1.0)
    with pytest.raises(ValueError, match="amount"):
        diffuse(x, -1.0)
    with pytest.raises(ValueError, match="amount"):
        diffuse(x, float("nan"))
    with pytest.raises(TypeError, match="amount"):
        diffuse(x, "8")
    with pytest.raises(ValueError, match="dt"):
        diffuse(x, 1.0, dt=-0.1)
    with pytest.raises(ValueError, match="uncertainty"):
        inverse_diffuse(x, 1.0, torch.rand(1, 1, 4, 4))
    with pytest.raises(TypeError, match="uncertainty"):
        inverse_diffuse(x, 1.0, 1e-6)
    with pytest.raises(ValueError, match="threshold"):
        inverse_diffuse_details(x, 1.0, x, threshold=0.3)
    with pytest.raises(ValueError, match="batch"):
        heat_sources(0)
    with pytest.raises(TypeError, match="batch"):
        heat_sources(2.0)
    with pytest.raises(ValueError, match="size"):
        heat_sources(2, size=10)
    with pytest.raises(TypeError, match="dtype"):
        heat_sources(2, dtype=torch.int32)


def test_widget_draws_default_and_extreme_states():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from course_lib.widgets.heat import draw_heat_inversion

    for amount, log10_noise in ((8.0, -6.0), (0.5, -1.0)):
        fig = draw_heat_inversion(amount, log10_noise)
        assert len(fig.axes) >= 5
        plt.close(fig)


# ----------------------------------------------------------------------------- classical inverses
def _np_multiplier_apply(dy, mult):
    return np.fft.ifft2(np.fft.fft2(dy) * mult).real


def test_tikhonov_inverse_against_numpy_and_its_two_limits():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, 1, 16, 16, generator=g, dtype=torch.float64)
    fy = np.fft.fftfreq(16)
    lam = np.exp(-4 * np.pi**2 * (fy[:, None] ** 2 + fy[None, :] ** 2) * 0.5)
    for mu in (1e-3, 0.3):
        ref = _np_multiplier_apply(x.numpy(), lam / (lam**2 + mu))
        np.testing.assert_allclose(tikhonov_inverse(x, 0.5, mu).numpy(), ref, rtol=1e-10, atol=1e-12)
    # mu -> 0: the exact inverse of diffuse; mu -> inf: gradient descent's direction P r / mu
    y = diffuse(x, 0.5)
    torch.testing.assert_close(tikhonov_inverse(y, 0.5, 1e-14), x, rtol=1e-5, atol=1e-5)
    big = 1e8
    torch.testing.assert_close(big * tikhonov_inverse(y, 0.5, big), diffuse(y, 0.5), rtol=1e-6, atol=1e-9)


def test_wiener_inverse_is_tikhonov_for_a_flat_spectrum_and_source_spectrum_is_centred():
    g = torch.Generator().manual_seed(1)
    dy = torch.randn(1, 1, 32, 32, generator=g, dtype=torch.float64)
    flat = torch.full((32, 32), 4.0, dtype=torch.float64)
    mu = 32 * 32 * 0.01**2 / 4.0  # H W sigma^2 / S
    torch.testing.assert_close(wiener_inverse(dy, 2.0, flat, 0.01), tikhonov_inverse(dy, 2.0, mu))
    s = source_spectrum(16, size=32, generator=torch.Generator().manual_seed(2))
    assert s.shape == (32, 32) and float(s[0, 0]) < 1e-20 * float(s.max())  # the mean is removed
    assert torch.allclose(s, torch.roll(s.flip(0, 1), (1, 1), (0, 1)))  # real sources: S(k) = S(-k)


def test_classical_inverses_name_bad_arguments():
    dy = torch.zeros(1, 1, 8, 8, dtype=torch.float64)
    with pytest.raises(ValueError, match="mu"):
        tikhonov_inverse(dy, 1.0, 0.0)
    with pytest.raises(ValueError, match="spectrum"):
        wiener_inverse(dy, 1.0, torch.ones(4, 4), 0.1)
    with pytest.raises(ValueError, match="noise_std"):
        wiener_inverse(dy, 1.0, torch.ones(8, 8), 0.0)
    with pytest.raises(ValueError, match="n must"):
        source_spectrum(0)
