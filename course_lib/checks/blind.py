r"""Self-checks for the exercises of chapter 5 (blind deconvolution).

Each reference answer is computed here by another route than the chapter's library:

* the shift-aligned kernel error: NumPy slicing over every shift, not ``kernel_error``;
* total variation: NumPy ``np.roll`` differences in float64, not ``total_variation``;
* one projected kernel step: the gradient by autograd through a convolution written as a sum of
  ``torch.roll``\ s (not ``convolve2d``), and the simplex projection by bisection on its threshold
  (not the sort-based ``project_simplex``);
* Perrone & Favaro's delayed normalisation: NumPy ``np.maximum`` and a division in float64.
"""

from __future__ import annotations

import numpy as np
import torch

from . import attempt, passed, self_check

__all__ = ["check_kernel_error", "check_total_variation", "check_kernel_step", "check_delayed_normalisation"]


def _np_shift(a: np.ndarray, di: int, dj: int) -> np.ndarray:
    """Zero-filled shift of a 2-D array, by slicing."""
    h, w = a.shape
    out = np.zeros_like(a)
    out[max(di, 0) : h + min(di, 0), max(dj, 0) : w + min(dj, 0)] = a[max(-di, 0) : h - max(di, 0),
                                                                      max(-dj, 0) : w - max(dj, 0)]
    return out


def _ref_kernel_error(k_hat: torch.Tensor, k_true: torch.Tensor) -> float:
    a, b = k_hat[0, 0].double().numpy(), k_true[0, 0].double().numpy()
    S = a.shape[0] // 2
    return min(np.linalg.norm(_np_shift(a, di, dj) - b) / np.linalg.norm(b)
               for di in range(-S, S + 1) for dj in range(-S, S + 1))


def _kernel_cases() -> list[tuple[torch.Tensor, torch.Tensor]]:
    g = torch.Generator().manual_seed(5)
    k = torch.zeros(1, 1, 9, 9, dtype=torch.float64)
    k[0, 0, 4, 1:7] = torch.tensor([1.0, 2.0, 3.0, 3.0, 2.0, 1.0]) / 12  # a smear, not symmetric in shift
    k[0, 0, 3, 6] = 0.05
    k = k / k.sum()
    moved = torch.roll(k, shifts=(1, -1), dims=(-2, -1))  # stays inside the window: zero error
    edge = torch.zeros_like(k)
    edge[0, 0, 2:7, 6:9] = torch.rand(5, 3, generator=g, dtype=torch.float64)  # mass at the right edge
    edge = edge / edge.sum()
    noisy = (k + 0.02 * torch.rand(k.shape, generator=g, dtype=torch.float64)).clamp_min(0)
    noisy = noisy / noisy.sum() * 1.7  # a norm different from k's: the normalisation matters
    return [(moved, k), (edge, k), (noisy, k), (k, edge)]


@self_check(hint="loop over shifts (di, dj) in -h//2..h//2, move k_hat with zeros filling in (no wrap-around), "
                 "keep the smallest ||shifted k_hat - k_true|| / ||k_true||")
def check_kernel_error(my_kernel_error) -> None:
    """``my_kernel_error(k_hat, k_true)`` -> float, for ``(1, 1, h, h)`` kernels."""
    for i, (a, b) in enumerate(_kernel_cases()):
        got = float(attempt(my_kernel_error, a.clone(), b.clone()))
        want = _ref_kernel_error(a, b)
        if not abs(got - want) <= 1e-6 + 1e-4 * want:
            raise AssertionError(
                f"case {i}: expected {want:.6f}, got {got:.6f}. Hint: shift with zeros (not torch.roll, which "
                "wraps mass around), divide by the norm of k_true, and take the minimum over all shifts.")
    passed("your kernel error is the relative L2 error after the best integer shift")


def _ref_tv(x: torch.Tensor) -> np.ndarray:
    a = x.double().numpy()  # (B, C, H, W)
    dx = np.roll(a, -1, axis=-1) - a
    dy = np.roll(a, -1, axis=-2) - a
    return np.sqrt(dx**2 + dy**2).reshape(a.shape[0], -1).sum(1)


@self_check(hint="periodic forward differences with torch.roll(x, -1, dims=-1) - x (and dims=-2); "
                 "per pixel the length sqrt(dx^2 + dy^2); sum over C, H, W for each image")
def check_total_variation(my_tv) -> None:
    """``my_tv(x)`` -> ``(B,)`` tensor: isotropic, periodic total variation of each image of ``x``."""
    g = torch.Generator().manual_seed(3)
    x = torch.rand(2, 1, 12, 10, generator=g, dtype=torch.float64)
    got = attempt(my_tv, x.clone())
    got = torch.as_tensor(got, dtype=torch.float64).reshape(-1).numpy()
    want = _ref_tv(x)
    if got.shape != want.shape or not np.allclose(got, want, rtol=1e-6):
        raise AssertionError(
            f"expected {np.round(want, 4).tolist()} (one value per image), got {np.round(got, 4).tolist()}. "
            "Hint: isotropic (sqrt of dx^2 + dy^2 per pixel, not |dx| + |dy|), periodic (torch.roll, not diff), "
            "summed (not averaged) over each image.")
    # the property of the trap, with the learner's own function: blur lowers TV
    k = torch.rand(1, 1, 5, 5, generator=g, dtype=torch.float64)
    k = k / k.sum()
    blurred = sum(k[0, 0, m, n] * torch.roll(x, (m - 2, n - 2), dims=(-2, -1)) for m in range(5) for n in range(5))
    ratio = torch.as_tensor(attempt(my_tv, blurred), dtype=torch.float64).reshape(-1) / torch.as_tensor(want)
    passed(f"your TV is right; TV(k * x) / TV(x) = {', '.join(f'{float(r):.3f}' for r in ratio)} (<= 1, as proved)")


def _roll_conv(x: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    """Circular true convolution, centre (h//2, w//2), as a plain sum of rolled images."""
    h, w = k.shape[-2:]
    return sum(k[0, 0, m, n] * torch.roll(x, (m - h // 2, n - w // 2), dims=(-2, -1))
               for m in range(h) for n in range(w))


def _bisect_simplex(v: torch.Tensor) -> torch.Tensor:
    """Projection on the simplex: max(v - t, 0) with t found by bisection so that the sum is 1."""
    flat = v.flatten()
    lo, hi = float(flat.min()) - 1.0, float(flat.max())
    for _ in range(200):
        t = 0.5 * (lo + hi)
        if float((flat - t).clamp_min(0).sum()) > 1.0:
            lo = t
        else:
            hi = t
    return (v - 0.5 * (lo + hi)).clamp_min(0)


@self_check(hint="r = convolve2d(x, k, padding='circular') - y; the gradient is "
                 "convolve2d_kernel_adjoint(x, r, k.shape, padding='circular'); then project_simplex(k - step * grad, "
                 "dim=(-2, -1))")
def check_kernel_step(my_kernel_step) -> None:
    """``my_kernel_step(x, y, k, step)``: one projected gradient step on ``0.5 ||k * x - y||^2`` (circular)."""
    g = torch.Generator().manual_seed(11)
    x = torch.rand(1, 1, 16, 16, generator=g, dtype=torch.float64)
    k_true = torch.rand(1, 1, 5, 5, generator=g, dtype=torch.float64) ** 4
    k_true = k_true / k_true.sum()
    y = _roll_conv(x, k_true)
    k = torch.rand(1, 1, 5, 5, generator=g, dtype=torch.float64)
    k = k / k.sum()
    step = 0.02
    kk = k.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(0.5 * (_roll_conv(x, kk) - y).pow(2).sum(), kk)
    want = _bisect_simplex(k - step * grad)
    got = attempt(my_kernel_step, x.clone(), y.clone(), k.clone(), step)
    got = torch.as_tensor(got, dtype=torch.float64)
    if got.shape != want.shape:
        raise AssertionError(f"expected a kernel of shape {tuple(want.shape)}, got {tuple(got.shape)}")
    if not torch.allclose(got, want, atol=1e-7):
        on_simplex = bool(got.min() >= -1e-9) and abs(float(got.sum()) - 1) < 1e-6
        raise AssertionError(
            f"max deviation {float((got - want).abs().max()):.2e} from the reference step "
            f"(your kernel is {'on' if on_simplex else 'NOT on'} the simplex). Hint: step downhill (minus the "
            "gradient), the gradient of a true convolution is a correlation with x, and project with the exact "
            "Euclidean projection (clipping and renormalising is not the projection).")
    passed("your step is one projected gradient step: it matches autograd plus an exact projection")


@self_check(hint="v = k - step * grad; clip the negative entries to 0 (torch.clamp_min); divide by the sum")
def check_delayed_normalisation(my_delayed_step) -> None:
    """``my_delayed_step(k, grad, step)``: gradient step, clip at 0, divide by the sum (Perrone & Favaro)."""
    g = torch.Generator().manual_seed(13)
    k = torch.rand(1, 1, 7, 7, generator=g, dtype=torch.float64) ** 3
    k = k / k.sum()
    grad = torch.randn(1, 1, 7, 7, generator=g, dtype=torch.float64)
    step = 0.01  # about half the entries go negative: clipping matters
    v = k.numpy() - step * grad.numpy()
    want = np.maximum(v, 0.0)
    want = want / want.sum()
    got = attempt(my_delayed_step, k.clone(), grad.clone(), step)
    got = torch.as_tensor(got, dtype=torch.float64)
    if tuple(got.shape) != tuple(k.shape):
        raise AssertionError(f"expected a kernel of shape {tuple(k.shape)}, got {tuple(got.shape)}")
    if not np.allclose(got.numpy(), want, atol=1e-10):
        projected = _bisect_simplex(torch.from_numpy(v)).numpy()
        hint = ("this is the exact projection, not the delayed normalisation: clip at 0 and divide by the sum, "
                "no common threshold" if np.allclose(got.numpy(), projected, atol=1e-8) else
                "step downhill (minus step * grad), clip negatives to 0, then divide by the sum (in that order)")
        raise AssertionError(f"max deviation {float(np.abs(got.numpy() - want).max()):.2e} from the reference. "
                             f"Hint: {hint}.")
    delta = torch.zeros(1, 1, 7, 7, dtype=torch.float64)
    delta[0, 0, 3, 3] = 1.0  # at the no-blur kernel, with a small gradient of both signs
    small = 0.01 * torch.randn(1, 1, 7, 7, generator=g, dtype=torch.float64)
    mine = torch.as_tensor(attempt(my_delayed_step, delta.clone(), small, 1.0), dtype=torch.float64)
    kept, kept_proj = int((mine > 0).sum()), int((_bisect_simplex(delta - small) > 1e-15).sum())
    passed(f"your step is the delayed normalisation; at the no-blur kernel it keeps {kept} of 49 entries, "
           f"the exact projection {kept_proj}")
