r"""Classical reconstructions DPS is compared with, and the image metrics of the comparison.

* :func:`interpolate` -- inpainting by piecewise-linear interpolation of the observed pixels
  (Delaunay triangulation, ``scipy.interpolate.griddata``), nearest value outside their hull;
* :func:`tikhonov` -- :math:`\min_x \tfrac12\|Ax - y\|^2 + \tfrac\lambda2\|\nabla x\|^2`, solved exactly by
  conjugate gradients on the normal equations :math:`(A^\top A + \lambda \nabla^\top\nabla)x = A^\top y`;
* :func:`tv_reconstruct` -- :math:`\min_x \tfrac12\|Ax - y\|^2 + \lambda\sum\sqrt{|\nabla x|^2 + \epsilon^2}`
  (smoothed total variation, Rudin, Osher & Fatemi 1992) by gradient descent (Adam);
* :func:`metrics` -- PSNR and SSIM (``skimage.metrics``) of images on ``[-1, 1]``, computed on ``[0, 1]``.

Example
-------
>>> import torch
>>> from course_lib.operators import Inpainting
>>> x_true = torch.rand(1, 1, 16, 16) * 2 - 1           # an image on [-1, 1]
>>> A = Inpainting((torch.rand(1, 1, 16, 16) < 0.5).float())
>>> y = A(x_true)
>>> x_tik = tikhonov(A, y, lam=0.05)              # (B, C, H, W), same scale as y
>>> psnr, ssim = metrics(x_tik, x_true)            # arrays of shape (B,)
>>> psnr.shape
(1,)
"""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["interpolate", "tikhonov", "tv_reconstruct", "metrics"]


def _check4(name: str, x) -> None:
    if not isinstance(x, torch.Tensor) or x.dim() != 4:
        raise ValueError(f"{name} must be a (B, C, H, W) tensor, got {getattr(x, 'shape', type(x).__name__)}")


def _linear_on_grid(pts: np.ndarray, vals: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """Piecewise-linear interpolation on the Delaunay triangulation of ``pts``; NaN outside their hull.

    The same values as ``scipy.interpolate.griddata(..., method="linear")``, but the triangles are
    found by brute force: on a pixel lattice many query points lie on triangle edges, where
    Qhull's directed walk is very slow (seconds for one 32x32 image). On an edge both triangles
    give the same value.
    """
    from scipy.spatial import Delaunay

    tri = Delaunay(pts)
    simplex = tri.find_simplex(grid, bruteforce=True)  # (n,), -1 outside the hull
    inside = simplex >= 0
    trans = tri.transform[simplex[inside]]  # (k, 3, 2): affine map to barycentric coordinates
    bary = np.einsum("kij,kj->ki", trans[:, :2], grid[inside] - trans[:, 2])  # (k, 2)
    weights = np.column_stack([bary, 1 - bary.sum(1)])  # (k, 3)
    out = np.full(len(grid), np.nan)
    out[inside] = (weights * vals[tri.simplices[simplex[inside]]]).sum(1)
    return out


def interpolate(y: torch.Tensor, mask: torch.Tensor, fill: float = -1.0) -> torch.Tensor:
    """Fill the pixels where ``mask == 0`` by linear interpolation of the others; ``fill`` if none is observed."""
    from scipy.interpolate import griddata

    _check4("y", y)
    m = torch.broadcast_to(mask, y.shape).detach().cpu().numpy() != 0
    ys = y.detach().cpu().double().numpy()
    out = np.empty_like(ys)
    H, W = ys.shape[-2:]
    grid = np.stack(np.meshgrid(np.arange(H), np.arange(W), indexing="ij"), -1).reshape(-1, 2).astype(float)
    for b in range(ys.shape[0]):
        for c in range(ys.shape[1]):
            pts = np.argwhere(m[b, c]).astype(float)
            if len(pts) < 3:
                out[b, c] = fill
                continue
            vals = ys[b, c][m[b, c]]
            lin = _linear_on_grid(pts, vals, grid)
            near = griddata(pts, vals, grid, method="nearest")
            out[b, c] = np.where(np.isnan(lin), near, lin).reshape(H, W)
    return torch.from_numpy(out).to(dtype=y.dtype, device=y.device)


def _grad(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Forward differences with a zero difference across the last row/column (Neumann boundary)."""
    dx = torch.zeros_like(x)
    dy = torch.zeros_like(x)
    dx[..., :, :-1] = x[..., :, 1:] - x[..., :, :-1]
    dy[..., :-1, :] = x[..., 1:, :] - x[..., :-1, :]
    return dx, dy


def _grad_adjoint(dx: torch.Tensor, dy: torch.Tensor) -> torch.Tensor:
    """The exact adjoint of :func:`_grad` (minus a divergence)."""
    out = torch.zeros_like(dx)
    out[..., :, :-1] -= dx[..., :, :-1]
    out[..., :, 1:] += dx[..., :, :-1]
    out[..., :-1, :] -= dy[..., :-1, :]
    out[..., 1:, :] += dy[..., :-1, :]
    return out


def tikhonov(operator, y: torch.Tensor, lam: float, iters: int = 500, tol: float = 1e-8) -> torch.Tensor:
    r"""Gradient-regularised least squares by conjugate gradients; ``operator`` needs ``adjoint``."""
    _check4("y", y)
    if not lam > 0:
        raise ValueError(f"lam must be positive, got {lam!r}")
    if not hasattr(operator, "adjoint"):
        raise TypeError("operator must be a LinearOperator with an adjoint")
    rhs = operator.adjoint(y)  # (B, C, H, W)

    def normal(v: torch.Tensor) -> torch.Tensor:
        return operator.adjoint(operator(v)) + lam * _grad_adjoint(*_grad(v))

    x = torch.zeros_like(rhs)
    r = rhs - normal(x)
    p, rs = r.clone(), (r * r).sum()
    for _ in range(iters):  # plain CG: the normal operator is symmetric positive definite for lam > 0
        ap = normal(p)
        alpha = rs / (p * ap).sum()
        x, r = x + alpha * p, r - alpha * ap
        rs_new = (r * r).sum()
        if rs_new.sqrt() < tol * rhs.norm():
            break
        p, rs = r + (rs_new / rs) * p, rs_new
    return x


def tv_reconstruct(operator, y: torch.Tensor, lam: float, iters: int = 300, lr: float = 0.05, eps: float = 1e-2,
                   x_init: torch.Tensor | None = None) -> torch.Tensor:
    r"""Smoothed-TV regularised least squares by Adam; starts from ``x_init`` (default :math:`A^\top y`)."""
    _check4("y", y)
    if not lam > 0:
        raise ValueError(f"lam must be positive, got {lam!r}")
    if not eps > 0:
        raise ValueError(f"eps must be positive, got {eps!r}")
    x = (operator.adjoint(y) if x_init is None else x_init).detach().clone().requires_grad_(True)
    opt = torch.optim.Adam([x], lr=lr)
    for _ in range(iters):
        dx, dy = _grad(x)
        loss = 0.5 * (operator(x) - y).pow(2).sum() + lam * (dx.pow(2) + dy.pow(2) + eps**2).sqrt().sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
    return x.detach()


def metrics(x_hat: torch.Tensor, x_true: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """PSNR (dB) and SSIM of each image of ``x_hat`` against ``x_true`` (both on ``[-1, 1]``; batch of 1 broadcasts).

    Both are mapped to ``[0, 1]`` and ``x_hat`` is clipped there, as an image would be displayed;
    ``data_range = 1``. Returns two arrays of shape ``(B,)``.
    """
    from skimage.metrics import peak_signal_noise_ratio, structural_similarity

    _check4("x_hat", x_hat)
    _check4("x_true", x_true)
    if x_true.shape[1:] != x_hat.shape[1:] or x_true.shape[0] not in (1, x_hat.shape[0]):
        raise ValueError(f"x_true of shape {tuple(x_true.shape)} does not match x_hat of shape {tuple(x_hat.shape)}")
    a = ((x_hat.detach().cpu().double().numpy() + 1) / 2).clip(0, 1)
    b = (x_true.detach().cpu().double().numpy() + 1) / 2
    b = np.broadcast_to(b, a.shape)
    psnr = np.array([peak_signal_noise_ratio(b[i], a[i], data_range=1.0) for i in range(len(a))])
    ssim = np.array([structural_similarity(b[i], a[i], data_range=1.0, channel_axis=0) for i in range(len(a))])
    return psnr, ssim
