"""Tests for course_lib.operators and course_lib.convolution (chapter 1).

* one parametrised adjoint test over every operator configuration;
* agreement with ``scipy.signal.convolve2d`` (the independent reference);
* direct vs FFT agreement, forward and kernel gradient of the chapter's loss;
* ``gradcheck`` in float64;
* ``Blur`` as a trainable module, and bad input;
* ``ImageConvolution`` (the blur as a map of the kernel) and ``LinearOperator.norm_squared``.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.signal
import torch
from torch import nn

from course_lib.convolution import FFT_MIN_TAPS, convolve2d, convolve2d_adjoint, convolve2d_kernel_adjoint
from course_lib.operators import Blur, ImageConvolution, Inpainting, LinearOperator, add_gaussian_noise

B, C, H, W = 2, 3, 16, 17  # odd and even image sides on purpose
TOL = {torch.float64: 1e-12, torch.float32: 1e-5}


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _randn(*shape: int, dtype: torch.dtype = torch.float64, seed: int = 0) -> torch.Tensor:
    return torch.randn(*shape, generator=_gen(seed), dtype=dtype)


def scipy_convolve(x: torch.Tensor, kernel: torch.Tensor, padding: str) -> np.ndarray:
    """Reference: scipy's true 2-D convolution, one (b, c) image at a time, in float64."""
    h, w = kernel.shape[-2:]
    k = kernel.double().expand(x.shape[0], x.shape[1], h, w).numpy()
    out = []
    for b in range(x.shape[0]):
        for c in range(x.shape[1]):
            img = x[b, c].double().numpy()
            if padding == "circular":  # kernel centre (h//2, w//2): wrap h-1-h//2 before, h//2 after
                img = np.pad(img, ((h - 1 - h // 2, h // 2), (w - 1 - w // 2, w // 2)), mode="wrap")
            out.append(scipy.signal.convolve2d(img, k[b, c], mode="valid"))
    return np.stack(out).reshape(x.shape[0], x.shape[1], *out[0].shape)


# ----------------------------------------------------------------------------- adjoint test
# Kernel sizes: odd/even and below/above FFT_MIN_TAPS, so method="auto" takes both paths.
KERNEL_SIZES = [(3, 5), (4, 6), (7, 7), (8, 8)]
BROADCASTS = {"k11": (1, 1), "k1C": (1, C), "kBC": (B, C)}


def _blur_case(padding: str, method: str, size: tuple[int, int], bcast: str):
    def make(dtype: torch.dtype) -> tuple[LinearOperator, tuple[int, ...]]:
        kernel = torch.rand(*BROADCASTS[bcast], *size, generator=_gen(1), dtype=dtype)
        return Blur(kernel, padding=padding, method=method), (B, C, H, W)

    return pytest.param(make, id=f"Blur-{padding}-{method}-{size[0]}x{size[1]}-{bcast}")


def _inpainting_case(mask_shape: tuple[int, ...], name: str):
    def make(dtype: torch.dtype) -> tuple[LinearOperator, tuple[int, ...]]:
        mask = torch.rand(*mask_shape, generator=_gen(2), dtype=dtype)  # soft weights in [0, 1)
        return Inpainting(mask), (B, C, H, W)

    return pytest.param(make, id=f"Inpainting-{name}")


def _image_convolution_case(padding: str, size: tuple[int, int], bcast: str):
    """k -> k * x for a fixed image: its input is the kernel, its adjoint the correlation with x."""

    def make(dtype: torch.dtype) -> tuple[LinearOperator, tuple[int, ...]]:
        image = torch.rand(B, C, H, W, generator=_gen(2), dtype=dtype)
        shape = (*BROADCASTS[bcast], *size)
        return ImageConvolution(image, shape, padding=padding), shape

    return pytest.param(make, id=f"ImageConvolution-{padding}-{size[0]}x{size[1]}-{bcast}")


OPERATORS = (
    [
        _blur_case(p, m, s, b)
        for p in ("valid", "circular")
        for m in ("direct", "fft", "auto")
        for s in KERNEL_SIZES
        for b in BROADCASTS
    ]
    + [_inpainting_case((1, 1, H, W), "shared-mask"), _inpainting_case((B, C, H, W), "full-mask")]
    + [_image_convolution_case(p, s, b) for p in ("valid", "circular") for s in KERNEL_SIZES for b in BROADCASTS]
)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("make", OPERATORS)
def test_adjoint(make, dtype):
    """<A x, y> = <x, A^T y>, A^T y equals the autograd vector-Jacobian product, and adjointness_gap is tiny."""
    A, x_shape = make(dtype)
    x = _randn(*x_shape, dtype=dtype, seed=3)
    ax = A(x)
    y = _randn(*ax.shape, dtype=dtype, seed=4)
    aty = A.adjoint(y)
    assert aty.shape == x.shape and aty.dtype == dtype
    lhs, rhs = torch.sum(ax * y), torch.sum(x * aty)
    scale = ax.norm() * y.norm() + x.norm() * aty.norm()  # robust even when <Ax, y> is near 0
    assert abs(float(lhs - rhs)) <= TOL[dtype] * float(scale), f"<Ax,y>={float(lhs)} vs <x,A^T y>={float(rhs)}"

    # The adjoint is the vector-Jacobian product of the (linear) forward map.
    xr = x.clone().requires_grad_(True)
    (vjp,) = torch.autograd.grad(A(xr), xr, grad_outputs=y)
    torch.testing.assert_close(aty, vjp, rtol=10 * TOL[dtype], atol=10 * TOL[dtype] * float(vjp.abs().max()))

    assert A.adjointness_gap(x, generator=_gen(5)) < (1e-10 if dtype == torch.float64 else 1e-4)


def test_adjointness_gap_detects_a_wrong_adjoint():
    class WrongAdjoint(Blur):
        def adjoint(self, y):  # forward instead of the adjoint: wrong for a non-symmetric kernel
            return self.forward(y)

    kernel = _randn(1, 1, 3, 3, seed=6)
    x = _randn(1, 1, 12, 12, seed=7)
    assert Blur(kernel, padding="circular").adjointness_gap(x, generator=_gen(0)) < 1e-12
    assert WrongAdjoint(kernel, padding="circular").adjointness_gap(x, generator=_gen(0)) > 1e-3


def test_adjointness_gap_is_reproducible_with_a_generator():
    A = Blur(_randn(1, 1, 3, 3, seed=8), padding="valid")
    x = _randn(1, 1, 10, 10, seed=9)
    assert A.adjointness_gap(x, generator=_gen(1)) == A.adjointness_gap(x, generator=_gen(1))


def _dense(A: LinearOperator, shape: tuple[int, ...]) -> torch.Tensor:
    """The matrix of A, column by column: A applied to every basis vector."""
    n = math.prod(shape)
    cols = [A(torch.eye(n, dtype=torch.float64)[i].reshape(shape)).reshape(-1) for i in range(n)]
    return torch.stack(cols, dim=1)


@pytest.mark.parametrize(
    "make",
    [
        lambda: (Blur(_randn(1, 1, 3, 4, seed=40), padding="valid"), (1, 2, 7, 6)),
        lambda: (Blur(_randn(1, 2, 3, 3, seed=41), padding="circular"), (1, 2, 6, 5)),
        lambda: (Inpainting(torch.rand(1, 1, 5, 5, generator=_gen(42), dtype=torch.float64)), (1, 1, 5, 5)),
        lambda: (ImageConvolution(_randn(1, 3, 9, 8, seed=43), (1, 1, 3, 3)), (1, 1, 3, 3)),
    ],
    ids=["blur-valid", "blur-circular", "inpainting", "image-convolution"],
)
def test_norm_squared_matches_the_largest_singular_value(make):
    A, shape = make()
    want = float(torch.linalg.matrix_norm(_dense(A, shape), ord=2)) ** 2
    got = A.norm_squared(torch.zeros(shape, dtype=torch.float64), n_iter=500, generator=_gen(44))
    assert got == pytest.approx(want, rel=1e-6)
    assert got <= want * (1 + 1e-12)  # a Rayleigh quotient: never above the true value


def test_norm_squared_on_a_subspace():
    """With P the projection onto zero-sum kernels, norm_squared is ||A P||^2 (checked densely)."""
    X = ImageConvolution(torch.rand(1, 3, 10, 10, generator=_gen(45), dtype=torch.float64), (1, 1, 3, 3))
    n = 9
    P = torch.eye(n, dtype=torch.float64) - torch.full((n, n), 1.0 / n, dtype=torch.float64)
    want = float(torch.linalg.matrix_norm(_dense(X, (1, 1, 3, 3)) @ P, ord=2)) ** 2
    zero_mean = lambda k: k - k.mean(dim=(-2, -1), keepdim=True)  # noqa: E731
    got = X.norm_squared(torch.zeros(1, 1, 3, 3, dtype=torch.float64), n_iter=500, generator=_gen(46), subspace=zero_mean)
    assert got == pytest.approx(want, rel=1e-6)
    assert got < 0.5 * X.norm_squared(torch.zeros(1, 1, 3, 3, dtype=torch.float64), generator=_gen(46))


def test_image_convolution_is_the_kernel_gradient():
    """X^T r / N is autograd's gradient of 0.5 ||k * x - y||^2 / N in k: the chapter's identity."""
    x = torch.rand(1, 3, 20, 18, generator=_gen(47), dtype=torch.float64)
    y = torch.rand(1, 3, 16, 15, generator=_gen(48), dtype=torch.float64)
    k = torch.rand(1, 1, 5, 4, generator=_gen(49), dtype=torch.float64).requires_grad_(True)
    loss = 0.5 * (convolve2d(x, k) - y).square().sum() / y.numel()
    (grad,) = torch.autograd.grad(loss, k)
    X = ImageConvolution(x, (1, 1, 5, 4))
    torch.testing.assert_close(X.adjoint(X(k.detach()) - y) / y.numel(), grad, rtol=1e-10, atol=1e-14)


def test_blur_refuses_to_detach_a_kernel_that_requires_grad():
    k = torch.rand(1, 1, 3, 3, generator=_gen(50)).requires_grad_(True)
    with pytest.raises(ValueError, match="learnable=True.*convolve2d"):
        Blur(k)
    with pytest.raises(ValueError, match="learnable=True"):
        Blur(nn.Parameter(torch.rand(1, 1, 3, 3)), padding="circular")
    assert isinstance(Blur(k, learnable=True).kernel, nn.Parameter)  # the trainable operator is fine
    assert not Blur(k.detach()).kernel.requires_grad  # and so is an explicit fixed copy
    # the functional form keeps the graph: the kernel's gradient arrives
    convolve2d(torch.rand(1, 1, 8, 8), k).sum().backward()
    assert k.grad is not None and k.grad.abs().sum() > 0


# ----------------------------------------------------------------------------- against scipy
@pytest.mark.parametrize("method", ["direct", "fft"])
@pytest.mark.parametrize("padding", ["valid", "circular"])
@pytest.mark.parametrize("size", [(1, 1), (3, 3), (4, 4), (2, 5), (6, 3), (9, 7)], ids=lambda s: f"{s[0]}x{s[1]}")
def test_matches_scipy(padding, method, size):
    x = _randn(B, C, H, W, seed=10)
    kernel = _randn(1, C, *size, seed=11)  # non-symmetric: catches a missing flip
    y = convolve2d(x, kernel, padding=padding, method=method)
    expected = (H - size[0] + 1, W - size[1] + 1) if padding == "valid" else (H, W)
    assert y.shape == (B, C, *expected)
    np.testing.assert_allclose(y.numpy(), scipy_convolve(x, kernel, padding), rtol=0, atol=1e-12)


@pytest.mark.parametrize("method", ["direct", "fft"])
@pytest.mark.parametrize("padding", ["valid", "circular"])
def test_matches_scipy_per_image_kernels_and_full_size_kernel(padding, method):
    x = _randn(B, C, 9, 8, seed=12)
    per_image = _randn(B, C, 3, 4, seed=13)  # one kernel for every (batch, channel) image
    np.testing.assert_allclose(
        convolve2d(x, per_image, padding, method).numpy(), scipy_convolve(x, per_image, padding), atol=1e-12
    )
    full = _randn(1, 1, 9, 8, seed=14)  # as large as the image: one valid output pixel
    np.testing.assert_allclose(
        convolve2d(x, full, padding, method).numpy(), scipy_convolve(x, full, padding), atol=1e-11
    )


def test_circular_kernel_centre_is_at_h2_w2():
    """A delta at (h//2, w//2) is the identity under circular padding, for odd and even sizes."""
    x = _randn(1, 2, 8, 9, seed=15)
    for h, w in [(3, 3), (4, 6), (5, 2)]:
        delta = torch.zeros(1, 1, h, w, dtype=torch.float64)
        delta[..., h // 2, w // 2] = 1.0
        for method in ("direct", "fft"):
            torch.testing.assert_close(convolve2d(x, delta, "circular", method), x, rtol=0, atol=1e-13)


@pytest.mark.parametrize("padding", ["valid", "circular"])
def test_auto_picks_fft_from_fft_min_taps(padding):
    """method='auto' agrees with both; below FFT_MIN_TAPS it is bit-identical to direct, above to fft."""
    x = _randn(1, 1, 20, 20, seed=16)
    side = math.isqrt(FFT_MIN_TAPS - 1) if FFT_MIN_TAPS > 1 else 1  # largest square kernel below the threshold
    small = _randn(1, 1, side, (FFT_MIN_TAPS - 1) // side, seed=17)
    large = _randn(1, 1, 8, 8, seed=18)
    assert small.shape[-1] * small.shape[-2] < FFT_MIN_TAPS <= 64
    assert torch.equal(convolve2d(x, small, padding, "auto"), convolve2d(x, small, padding, "direct"))
    assert torch.equal(convolve2d(x, large, padding, "auto"), convolve2d(x, large, padding, "fft"))


# ----------------------------------------------------------------------------- direct vs FFT
def _rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).norm() / b.norm())


def _kernel_gradient(x, y, kernel, padding, method):
    """Gradient in the kernel of the chapter's loss ||k * x - y||^2 / numel."""
    k = kernel.clone().requires_grad_(True)
    loss = torch.sum((convolve2d(x, k, padding, method) - y) ** 2) / y.numel()
    (grad,) = torch.autograd.grad(loss, k)
    return grad


@pytest.mark.parametrize("padding", ["valid", "circular"])
@pytest.mark.parametrize("dtype,tol", [(torch.float32, 1e-4), (torch.float64, 1e-10)], ids=["f32", "f64"])
def test_direct_and_fft_agree(dtype, tol, padding):
    x = torch.rand(1, 3, 64, 64, generator=_gen(19), dtype=dtype)
    k_true = torch.rand(1, 1, 9, 9, generator=_gen(20), dtype=dtype)
    k_true = k_true / k_true.sum()
    y = convolve2d(x, k_true, padding, "direct")
    k_hat = torch.full_like(k_true, 1.0 / k_true.numel())  # the chapter's flat initial guess

    assert _rel(convolve2d(x, k_hat, padding, "fft"), convolve2d(x, k_hat, padding, "direct")) < tol
    g_direct = _kernel_gradient(x, y, k_hat, padding, "direct")
    g_fft = _kernel_gradient(x, y, k_hat, padding, "fft")
    assert g_fft.shape == k_hat.shape and g_fft.dtype == dtype
    assert _rel(g_fft, g_direct) < tol, f"kernel gradients differ: rel {_rel(g_fft, g_direct):.2e}"
    y_adj = torch.rand_like(y)
    adj_fft = convolve2d_adjoint(y_adj, k_hat, padding, "fft")
    assert _rel(adj_fft, convolve2d_adjoint(y_adj, k_hat, padding, "direct")) < tol


# ----------------------------------------------------------------------------- gradcheck
@pytest.mark.parametrize("method", ["direct", "fft"])
@pytest.mark.parametrize("padding", ["valid", "circular"])
def test_gradcheck_convolve2d(padding, method):
    x = _randn(2, 2, 6, 7, seed=21).requires_grad_(True)
    kernel = _randn(1, 2, 3, 2, seed=22).requires_grad_(True)
    assert torch.autograd.gradcheck(lambda a, k: convolve2d(a, k, padding, method), (x, kernel))
    y = convolve2d(x, kernel, padding, method).detach().requires_grad_(True)
    assert torch.autograd.gradcheck(lambda b, k: convolve2d_adjoint(b, k, padding, method), (y, kernel))


# ----------------------------------------------------------------------------- Blur as a module
def test_learnable_blur_is_trained_like_a_layer():
    k0 = torch.rand(1, 1, 5, 5, generator=_gen(23))
    A = Blur(k0, learnable=True)
    assert isinstance(A.kernel, nn.Parameter) and A.kernel.requires_grad
    assert [p is A.kernel for p in A.parameters()] == [True]
    assert A.kernel.data_ptr() != k0.data_ptr()  # a copy: training never writes into the caller's tensor

    x = torch.rand(1, 3, 16, 16, generator=_gen(24))
    y = torch.rand(1, 3, 12, 12, generator=_gen(25))
    loss = torch.sum((A(x) - y) ** 2)
    loss.backward()
    assert A.kernel.grad is not None and A.kernel.grad.abs().sum() > 0
    before = A.kernel.detach().clone()
    torch.optim.SGD(A.parameters(), lr=1e-3).step()
    assert not torch.equal(A.kernel.detach(), before)
    torch.testing.assert_close(k0, torch.rand(1, 1, 5, 5, generator=_gen(23)))  # caller's kernel untouched


def test_fixed_blur_keeps_kernel_as_buffer():
    A = Blur(torch.rand(1, 1, 3, 3, generator=_gen(26)))
    assert list(A.parameters()) == []
    assert "kernel" in dict(A.named_buffers()) and "kernel" in A.state_dict()
    assert not A.kernel.requires_grad


@pytest.mark.parametrize("learnable", [False, True])
def test_calling_blur_does_not_change_state(learnable):
    A = Blur(torch.rand(1, 1, 3, 3, generator=_gen(27)), padding="circular", learnable=learnable)
    state = {k: v.clone() for k, v in A.state_dict().items()}
    x = torch.rand(1, 2, 10, 10, generator=_gen(28))
    y1, _ = A(x), A.adjoint(x)
    y2 = A(x)
    assert torch.equal(y1, y2)
    assert all(torch.equal(v, state[k]) for k, v in A.state_dict().items())
    assert A.padding == "circular" and A.kernel.grad is None


@pytest.mark.parametrize("learnable", [False, True])
def test_blur_to_float64(learnable):
    A = Blur(torch.rand(1, 1, 3, 3, generator=_gen(29)), learnable=learnable).to(torch.float64)
    assert A.kernel.dtype == torch.float64
    assert isinstance(A.kernel, nn.Parameter) == learnable
    x = torch.rand(1, 1, 8, 8, generator=_gen(30), dtype=torch.float64)
    assert A(x).dtype == torch.float64 and A.adjoint(A(x)).dtype == torch.float64


@pytest.mark.parametrize("padding", ["valid", "circular"])
def test_blur_output_shape(padding):
    A = Blur(torch.rand(1, 1, 4, 5, generator=_gen(31)), padding=padding)
    x = torch.rand(2, 3, 12, 13, generator=_gen(32))
    assert A(x).shape == A.output_shape(x.shape)


def test_inpainting_is_a_mask():
    mask = (torch.rand(1, 1, 8, 8, generator=_gen(33)) < 0.3).double()
    A = Inpainting(mask)
    x = _randn(2, 3, 8, 8, seed=34)
    torch.testing.assert_close(A(x), mask * x, rtol=0, atol=0)
    torch.testing.assert_close(A.adjoint(x), mask * x, rtol=0, atol=0)
    assert A.fraction_observed == pytest.approx(float(mask.mean()))
    assert A(x.float()).dtype == torch.float32  # the mask follows the image's dtype


# ----------------------------------------------------------------------------- noise
@pytest.mark.parametrize("make", [
    lambda g: Blur(torch.rand(1, 1, 3, 5, generator=g, dtype=torch.float64), padding="circular"),
    lambda g: Blur(torch.rand(2, 1, 4, 3, generator=g, dtype=torch.float64), padding="circular"),  # per image
    lambda g: Inpainting((torch.rand(2, 1, 6, 7, generator=g) < 0.4).double()),
    lambda g: Inpainting(torch.rand(1, 1, 6, 7, generator=g, dtype=torch.float64)),  # weights in [0, 1]
])
def test_gram_solve_inverts_the_shifted_gram_matrix(make):
    g = torch.Generator().manual_seed(0)
    A = make(g)
    b = torch.randn(2, 2, 6, 7, generator=g, dtype=torch.float64)
    for weight, shift in ((1.0, 0.3), (4.0, 1e-2), (0.0, 2.0)):
        u = A.gram_solve(b, weight, shift)
        torch.testing.assert_close(weight * A.adjoint(A(u)) + shift * u, b, rtol=1e-10, atol=1e-10)
        torch.testing.assert_close(weight * A(A.adjoint(u)) + shift * u, b, rtol=1e-10, atol=1e-10)  # A A^T too
    assert A.gram_solve(b, 1.0, 0.0) is None  # possibly singular: no closed form, the caller uses CG
    with pytest.raises(ValueError, match="weight and shift"):
        A.gram_solve(b, -1.0, 0.1)


def test_gram_solve_is_none_without_a_closed_form():
    x = torch.randn(1, 1, 6, 7, dtype=torch.float64)
    assert Blur(torch.ones(1, 1, 3, 3) / 9, padding="valid").gram_solve(x, 1.0, 0.5) is None
    assert ImageConvolution(x, (1, 1, 3, 3)).gram_solve(torch.ones(1, 1, 3, 3), 1.0, 0.5) is None


def test_add_gaussian_noise():
    y = torch.zeros(4, 3, 64, 64, dtype=torch.float64)
    a = add_gaussian_noise(y, 0.1, generator=_gen(35))
    b = add_gaussian_noise(y, 0.1, generator=_gen(35))
    assert torch.equal(a, b) and a.shape == y.shape and a.dtype == y.dtype
    assert float(a.std()) == pytest.approx(0.1, rel=0.03)
    assert torch.equal(add_gaussian_noise(y, 0.0, generator=_gen(36)), y)
    assert add_gaussian_noise(y.float(), 0.1).dtype == torch.float32
    assert not torch.equal(a, add_gaussian_noise(y, 0.1, generator=_gen(37)))


# ----------------------------------------------------------------------------- bad input
X = torch.rand(1, 3, 16, 16)
K = torch.rand(1, 1, 3, 3)


@pytest.mark.parametrize(
    "call,exc,match",
    [
        (lambda: convolve2d(X, torch.rand(1, 1, 17, 3)), ValueError, "kernel.*larger"),
        (lambda: Blur(torch.rand(1, 1, 5, 20))(X), ValueError, "kernel.*larger"),
        (lambda: Blur(torch.rand(1, 1, 20, 20), padding="circular")(X), ValueError, "kernel.*larger"),
        (lambda: convolve2d_adjoint(X, torch.rand(1, 1, 17, 17), padding="circular"), ValueError, "kernel.*larger"),
        (lambda: convolve2d(X[0], K), ValueError, "x must have shape"),
        (lambda: Blur(K)(X[0]), ValueError, "x must have shape"),
        (lambda: Blur(K).adjoint(X[0]), ValueError, "y must have shape"),
        (lambda: Blur(torch.rand(3, 3)), ValueError, "kernel must have shape"),
        (lambda: convolve2d(X, torch.rand(3, 3)), ValueError, "kernel must have shape"),
        (lambda: Blur(torch.tensor([[[[0.5, float("nan")]]]])), ValueError, "kernel must be finite"),
        (lambda: Blur(torch.tensor([[[[0.5, float("inf")]]]])), ValueError, "kernel must be finite"),
        (lambda: Blur(K, padding="same"), ValueError, "padding"),
        (lambda: Blur(K, method="winograd"), ValueError, "method"),
        (lambda: convolve2d(X, K, padding="reflect"), ValueError, "padding"),
        (lambda: convolve2d(X, K, method="fast"), ValueError, "method"),
        (lambda: convolve2d_adjoint(X, K, padding="zeros"), ValueError, "padding"),
        (lambda: Blur(torch.rand(1, 2, 3, 3))(X), ValueError, "kernel channel"),
        (lambda: Blur(torch.rand(2, 1, 3, 3))(X), ValueError, "kernel batch"),
        (lambda: Blur(K)(X.double()), TypeError, "kernel dtype"),
        (lambda: convolve2d(X, K.double()), TypeError, "kernel dtype"),
        (lambda: convolve2d(X.long(), K.long()), TypeError, "x must be a floating"),
        (lambda: Blur(torch.ones(1, 1, 3, 3, dtype=torch.long)), TypeError, "kernel must be a floating"),
        (lambda: Blur(np.ones((1, 1, 3, 3))), TypeError, "kernel must be a torch.Tensor"),
        (lambda: convolve2d(X.numpy(), K), TypeError, "x must be a torch.Tensor"),
        (lambda: add_gaussian_noise(X, -0.1), ValueError, "sigma"),
        (lambda: add_gaussian_noise(X, float("nan")), ValueError, "sigma"),
        (lambda: add_gaussian_noise(X, float("inf")), ValueError, "sigma"),
        (lambda: add_gaussian_noise(X, "0.1"), ValueError, "sigma"),
        (lambda: add_gaussian_noise(X.numpy(), 0.1), TypeError, "y must be a torch.Tensor"),
        (lambda: add_gaussian_noise([0.0, 1.0], 0.1), TypeError, "y must be a torch.Tensor"),
        (lambda: Inpainting(torch.full((4, 4), 1.5)), ValueError, "mask"),
        (lambda: Inpainting(torch.full((4, 4), -0.5)), ValueError, "mask"),
        (lambda: Inpainting(torch.full((4, 4), float("nan"))), ValueError, "mask"),
        (lambda: Inpainting(torch.ones(4)), ValueError, "mask"),
        (lambda: Inpainting(np.ones((4, 4))), TypeError, "mask"),
        (lambda: Inpainting(torch.ones(1, 1, 8, 8))(X), ValueError, "x of shape"),
        (lambda: Inpainting(torch.ones(1, 1, 16, 16)).adjoint(X[0]), ValueError, "y must have shape"),
        (lambda: ImageConvolution(X, (1, 1, 17, 3)), ValueError, "kernel_shape"),
        (lambda: ImageConvolution(X, (1, 2, 3, 3)), ValueError, "kernel_shape"),
        (lambda: ImageConvolution(X, (3, 3)), ValueError, "kernel_shape"),
        (lambda: ImageConvolution(X[0], (1, 1, 3, 3)), ValueError, "image must have shape"),
        (lambda: ImageConvolution(X, (1, 1, 3, 3), padding="same"), ValueError, "padding"),
        (lambda: ImageConvolution(X, (1, 1, 3, 3))(torch.rand(1, 1, 4, 4)), ValueError, "kernel must have shape"),
        (lambda: ImageConvolution(X, (1, 1, 3, 3)).adjoint(torch.rand(1, 3, 13, 13)), ValueError, "r must have the shape"),
        (lambda: convolve2d_kernel_adjoint(X, torch.rand(1, 3, 14, 14).double(), (1, 1, 3, 3)), TypeError, "r dtype"),
        (lambda: convolve2d_kernel_adjoint(X, X[:, :, :14, :14], (1, 1, 3, 3), padding="zeros"), ValueError, "padding"),
        (lambda: Blur(K).norm_squared(X, n_iter=0), ValueError, "n_iter"),
    ],
)
def test_bad_input_names_the_argument(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


@pytest.mark.parametrize("where", ["convolve2d", "learnable Blur after a diverged step"])
def test_nan_kernel_is_rejected_at_call_time(where):
    """The contract: NaN input raises a ValueError naming the argument. Blur checks at
    construction only, so a kernel that turns NaN during training (too large a step)
    or a NaN kernel passed to convolve2d must be caught when the convolution runs."""
    bad = torch.tensor([[[[0.5, float("nan")], [0.25, 0.25]]]])
    if where == "convolve2d":
        call = lambda: convolve2d(X, bad)  # noqa: E731
    else:
        A = Blur(torch.full((1, 1, 2, 2), 0.25), learnable=True)
        with torch.no_grad():
            A.kernel.copy_(bad)
        call = lambda: A(X)  # noqa: E731
    try:
        call()
    except ValueError as err:
        assert "kernel" in str(err), f"the message should name the kernel: {err}"
    else:
        pytest.fail(
            f"LIBRARY BUG ({where}): a NaN kernel is accepted and the output is silently NaN. "
            "Contract: NaN input raises ValueError naming the argument. Blur.__init__ checks "
            "finiteness, convolve2d/convolve2d_adjoint (course_lib/convolution.py, check_kernel) do not."
        )
