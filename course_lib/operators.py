r"""Linear forward operators as ``nn.Module``\ s, each with its exact adjoint.

An inverse problem starts from a forward model

.. math::  y = A x + n,

and gradient-based solvers need two things of :math:`A`: applying it and applying
its adjoint :math:`A^\top` (the gradient of :math:`\tfrac12\|Ax - y\|^2` is
:math:`A^\top(Ax - y)`). Every operator here is a :class:`LinearOperator` with
``forward`` and ``adjoint`` such that :math:`\langle Ax, y\rangle = \langle x, A^\top y\rangle`
holds to rounding error (``tests/test_operators.py`` checks it for all of them).

* :class:`Blur` -- true 2-D convolution :math:`y = k * x` with ``"valid"`` or
  ``"circular"`` boundaries; the kernel may be an ``nn.Parameter`` so that the
  operator itself is trained like any module (chapter 1).
* :class:`ImageConvolution` -- the same convolution as a linear map of the *kernel*,
  :math:`X k = k * x` for a fixed image; :math:`X^\top r` is the correlation of the
  image with :math:`r`, the kernel gradient of :math:`\tfrac12\|k * x - y\|^2` (chapter 1).
* :class:`Inpainting` -- a pixel mask :math:`y = m \odot x` (chapter 3).
* :func:`add_gaussian_noise` -- :math:`y + \sigma n`, :math:`n \sim \mathcal N(0, I)`.

The convolution itself lives in :mod:`course_lib.convolution`, which picks a
direct or an FFT implementation. Calling an operator never changes its state.
:meth:`LinearOperator.norm_squared` estimates :math:`\|A\|^2`, the largest eigenvalue of
:math:`A^\top A`, by power iteration on ``normal`` -- for any operator, a learner's own too --
which is the Lipschitz constant of the gradient of :math:`\tfrac12\|Ax - y\|^2`.

Example
-------
>>> x = torch.rand(1, 3, 64, 64)
>>> A = Blur(torch.ones(1, 1, 5, 5) / 25, padding="valid")
>>> y = add_gaussian_noise(A(x), 0.02)          # (1, 3, 60, 60)
>>> g = A.adjoint(A(x) - y)                     # gradient of 0.5 ||Ax - y||^2 in x
>>> A.norm_squared(x) <= 1 + 1e-6    # a kernel on the simplex never amplifies
True
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from .convolution import (METHODS, PADDINGS, _kernel_spectrum, check_image, check_kernel, convolve2d, convolve2d_adjoint,
                          convolve2d_kernel_adjoint)

__all__ = ["LinearOperator", "Blur", "ImageConvolution", "Inpainting", "add_gaussian_noise"]


class LinearOperator(nn.Module):
    """Base class: a linear map ``A`` with ``forward(x) = A x`` and ``adjoint(y) = A^T y``."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def adjoint(self, y: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def normal(self, x: torch.Tensor) -> torch.Tensor:
        """``A^T A x``, the normal operator (e.g. for Landweber or CG iterations)."""
        return self.adjoint(self.forward(x))

    def gram_solve(self, b: torch.Tensor, weight: float, shift: float) -> torch.Tensor | None:
        r""":math:`(w\,A^\top A + s I)^{-1} b` in closed form, or ``None`` where there is none (then use CG).

        Defined for the operators with :math:`A^\top A = AA^\top` diagonal in a known basis, so
        the same call also gives :math:`(w\,AA^\top + s I)^{-1}`: a mask (diagonal in pixels) and a
        circular blur (diagonal in Fourier). ``weight`` >= 0 and ``shift`` > 0 are numbers.
        """
        return None

    def _gram_args(self, weight: float, shift: float) -> bool:
        if not (isinstance(weight, (int, float)) and isinstance(shift, (int, float))):
            raise TypeError(f"weight and shift must be numbers, got {type(weight).__name__}, {type(shift).__name__}")
        if not (weight >= 0 and shift >= 0):
            raise ValueError(f"weight and shift must be >= 0, got {weight!r}, {shift!r}")
        return shift > 0  # with shift 0 the system may be singular: no closed form offered

    def norm_squared(
        self,
        x: torch.Tensor,
        n_iter: int = 100,
        generator: torch.Generator | None = None,
        subspace: Callable[[torch.Tensor], torch.Tensor] | None = None,
    ) -> float:
        r""":math:`\|A\|^2 = \lambda_{\max}(A^\top A)` by power iteration on :meth:`normal`.

        ``x`` gives the shape, dtype and device of the inputs (its values are not used).
        ``subspace``, an orthogonal projection :math:`P` (a function), restricts the
        estimate to its range: :math:`\|A P\|^2`. Returns the Rayleigh quotient
        :math:`\|A v\|^2` of the last unit iterate :math:`v`, a lower bound that converges to
        :math:`\|A\|^2` geometrically, at the rate of the ratio of the two largest eigenvalues.
        """
        if not isinstance(n_iter, int) or isinstance(n_iter, bool) or n_iter < 1:
            raise ValueError(f"n_iter must be a positive int, got {n_iter!r}")
        project = subspace if subspace is not None else (lambda v: v)
        with torch.no_grad():
            dev = generator.device if generator is not None else x.device
            v = project(torch.randn(x.shape, generator=generator, dtype=x.dtype, device=dev).to(x.device))
            for _ in range(n_iter):
                v = project(self.normal(v / v.norm()))
            v = v / v.norm()
            return float(self.forward(v).square().sum())

    def adjointness_gap(self, x: torch.Tensor, generator: torch.Generator | None = None) -> float:
        r"""Relative gap :math:`|\langle Ax, y\rangle - \langle x, A^\top y\rangle| / |\langle Ax, y\rangle|`.

        ``y`` is drawn at random with the shape of ``A x``. For a correct adjoint the gap is
        rounding error: ``tests/test_operators.py`` requires it below 1e-4 in float32 and
        1e-10 in float64 for every operator here.
        """
        with torch.no_grad():
            ax = self.forward(x)
            y = torch.randn(ax.shape, generator=generator, dtype=ax.dtype).to(ax.device)
            lhs = torch.sum(ax * y)
            rhs = torch.sum(x * self.adjoint(y))
            return float((lhs - rhs).abs() / lhs.abs().clamp_min(torch.finfo(ax.dtype).tiny))


class Blur(LinearOperator):
    r"""2-D convolution :math:`y = k * x` (the kernel is flipped, as in ``scipy.signal.convolve2d``).

    Parameters
    ----------
    kernel : tensor of shape ``(1|B, 1|C, h, w)``; it broadcasts over the batch and
        the channels of ``x``. Stored as ``self.kernel``: an ``nn.Parameter`` when
        ``learnable=True`` (the operator is then trained like a layer), a buffer otherwise.
    padding : ``"valid"`` -- output ``(H-h+1, W-w+1)``, only where the kernel fits
        inside the image (no boundary assumption at all); ``"circular"`` -- output
        ``(H, W)`` with a periodic boundary, the kernel's centre at ``(h//2, w//2)``.
    learnable : make the kernel a trainable parameter.
    method : ``"auto"`` (default; FFT for large kernels, where it is faster),
        ``"direct"`` (grouped ``conv2d``) or ``"fft"``. All agree to rounding error.

    Example
    -------
    >>> A = Blur(torch.ones(1, 1, 3, 3) / 9, padding="circular")
    >>> A(torch.rand(2, 3, 32, 32)).shape
    torch.Size([2, 3, 32, 32])
    """

    def __init__(
        self,
        kernel: torch.Tensor,
        padding: str = "valid",
        learnable: bool = False,
        method: str = "auto",
    ) -> None:
        super().__init__()
        check_kernel(kernel)
        if padding not in PADDINGS:
            raise ValueError(f"padding must be one of {PADDINGS}, got {padding!r}")
        if method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}, got {method!r}")
        if kernel.requires_grad and not learnable:
            raise ValueError(
                "kernel requires grad, but Blur(kernel, learnable=False) stores a detached copy and the "
                "gradient would be lost: use Blur(kernel, learnable=True) to train the operator's own "
                "kernel, convolution.convolve2d(x, kernel) to differentiate through your kernel, or "
                "pass kernel.detach() for a fixed blur"
            )
        self.padding = padding
        self.method = method
        kernel = kernel.detach().clone()
        if learnable:
            self.kernel = nn.Parameter(kernel)
        else:
            self.register_buffer("kernel", kernel)

    def output_shape(self, x_shape: torch.Size | tuple[int, ...]) -> tuple[int, ...]:
        """Shape of ``A x`` for an input of shape ``x_shape``."""
        *lead, H, W = x_shape
        if self.padding == "circular":
            return (*lead, H, W)
        h, w = self.kernel.shape[-2:]
        return (*lead, H - h + 1, W - w + 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return convolve2d(x, self.kernel, padding=self.padding, method=self.method)

    def adjoint(self, y: torch.Tensor) -> torch.Tensor:
        return convolve2d_adjoint(y, self.kernel, padding=self.padding, method=self.method)

    def gram_solve(self, b: torch.Tensor, weight: float, shift: float) -> torch.Tensor | None:
        r"""For ``padding="circular"``: :math:`\mathcal F^{-1}\big[\hat b / (w|\hat k|^2 + s)\big]`; else ``None``."""
        if not self._gram_args(weight, shift) or self.padding != "circular":
            return None
        check_image(b, "b")
        H, W = b.shape[-2:]
        spec = _kernel_spectrum(self.kernel.to(b.dtype), (H, W), "circular")  # differentiable in k too
        return torch.fft.irfft2(torch.fft.rfft2(b) / (weight * spec.abs() ** 2 + shift), s=(H, W))

    def extra_repr(self) -> str:
        learn = isinstance(self.kernel, nn.Parameter)
        return f"kernel={tuple(self.kernel.shape)}, padding={self.padding!r}, learnable={learn}, method={self.method!r}"


class ImageConvolution(LinearOperator):
    r"""The blur as a linear map of the kernel: :math:`X k = k * x` for a fixed image :math:`x`.

    ``forward(k)`` is :func:`~course_lib.convolution.convolve2d` ``(x, k, padding)`` for a kernel
    of shape ``kernel_shape`` ``(1|B, 1|C, h, w)``; ``adjoint(r)`` is
    :math:`X^\top r`, the correlation of the image with ``r``
    (:func:`~course_lib.convolution.convolve2d_kernel_adjoint`), so the gradient of
    :math:`\tfrac1{2N}\|k * x - y\|^2` in :math:`k` is ``X.adjoint(X(k) - y) / N``.
    :meth:`Blur.adjoint` is the other adjoint, in the image.

    Example
    -------
    >>> x = torch.rand(1, 3, 32, 32)
    >>> X = ImageConvolution(x, (1, 1, 5, 5))
    >>> X(torch.ones(1, 1, 5, 5) / 25).shape, X.adjoint(torch.rand(1, 3, 28, 28)).shape
    (torch.Size([1, 3, 28, 28]), torch.Size([1, 1, 5, 5]))
    """

    def __init__(self, image: torch.Tensor, kernel_shape: tuple[int, ...], padding: str = "valid") -> None:
        super().__init__()
        check_image(image, "image")
        if padding not in PADDINGS:
            raise ValueError(f"padding must be one of {PADDINGS}, got {padding!r}")
        shape = tuple(int(n) for n in kernel_shape)
        if len(shape) != 4 or any(shape[a] not in (1, image.shape[a]) for a in (0, 1)):
            raise ValueError(f"kernel_shape must be (1|B, 1|C, h, w) for an image of shape {tuple(image.shape)}, got {shape}")
        if shape[2] > image.shape[2] or shape[3] > image.shape[3]:
            raise ValueError(f"kernel_shape {shape} is larger than the image of size {tuple(image.shape[-2:])}")
        self.kernel_shape = shape
        self.padding = padding
        self.register_buffer("image", image.detach().clone())

    def forward(self, kernel: torch.Tensor) -> torch.Tensor:
        if tuple(kernel.shape) != self.kernel_shape:
            raise ValueError(f"kernel must have shape {self.kernel_shape}, got {tuple(kernel.shape)}")
        return convolve2d(self.image, kernel, padding=self.padding)

    def adjoint(self, r: torch.Tensor) -> torch.Tensor:
        return convolve2d_kernel_adjoint(self.image, r, self.kernel_shape, padding=self.padding)


class Inpainting(LinearOperator):
    r"""Pixel mask :math:`y = m \odot x`; self-adjoint, since the mask is a diagonal matrix.

    ``mask`` holds 1 where a pixel is observed and 0 where it is missing (values in
    between weight the pixel); it must broadcast against the images it is applied to.

    Example
    -------
    >>> g = torch.Generator().manual_seed(0)
    >>> m = (torch.rand(1, 1, 32, 32, generator=g) < 0.1).float()  # keep ~10 % of pixels
    >>> A = Inpainting(m)
    >>> A(torch.ones(1, 3, 32, 32)).shape
    torch.Size([1, 3, 32, 32])
    """

    def __init__(self, mask: torch.Tensor) -> None:
        super().__init__()
        if not isinstance(mask, torch.Tensor):
            raise TypeError(f"mask must be a torch.Tensor, got {type(mask).__name__}")
        if mask.dim() < 2:
            raise ValueError(f"mask must have at least 2 dims (..., H, W), got shape {tuple(mask.shape)}")
        if not torch.isfinite(mask).all() or mask.min() < 0 or mask.max() > 1:
            raise ValueError("mask values must lie in [0, 1] (1 = observed pixel)")
        self.register_buffer("mask", mask.detach().clone())

    def _check(self, x: torch.Tensor, name: str) -> None:
        check_image(x, name)
        try:
            torch.broadcast_shapes(self.mask.shape, x.shape)
        except RuntimeError as err:
            raise ValueError(f"{name} of shape {tuple(x.shape)} does not broadcast with the mask of shape {tuple(self.mask.shape)}") from err

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self._check(x, "x")
        return self.mask.to(x.dtype) * x

    def adjoint(self, y: torch.Tensor) -> torch.Tensor:
        self._check(y, "y")
        return self.mask.to(y.dtype) * y

    def gram_solve(self, b: torch.Tensor, weight: float, shift: float) -> torch.Tensor | None:
        r""":math:`b / (w\,m^2 + s)`, pixel by pixel."""
        if not self._gram_args(weight, shift):
            return None
        self._check(b, "b")
        return b / (weight * self.mask.to(b.dtype) ** 2 + shift)

    @property
    def fraction_observed(self) -> float:
        """Mean of the mask: the fraction of pixels the operator keeps."""
        return float(self.mask.float().mean())


def add_gaussian_noise(y: torch.Tensor, sigma: float, generator: torch.Generator | None = None) -> torch.Tensor:
    r"""Return :math:`y + \sigma n` with :math:`n \sim \mathcal N(0, I)` of ``y``'s shape, dtype and device.

    The noise is drawn on ``generator``'s device (the CPU when ``None`` is given
    and ``y`` is on the CPU) and moved to ``y``'s, so a seeded generator gives the
    same noise on every device.
    """
    if not isinstance(y, torch.Tensor):
        raise TypeError(f"y must be a torch.Tensor, got {type(y).__name__}")
    if isinstance(sigma, torch.Tensor):
        sigma = float(sigma)
    if not isinstance(sigma, (int, float)) or isinstance(sigma, bool) or not sigma >= 0 or sigma == float("inf"):
        raise ValueError(f"sigma must be a finite number >= 0, got {sigma!r}")
    dev = generator.device if generator is not None else y.device
    n = torch.randn(y.shape, generator=generator, dtype=y.dtype, device=dev).to(y.device)
    return y + sigma * n
