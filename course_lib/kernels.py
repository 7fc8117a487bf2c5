r"""Random motion-blur kernels: a shaky camera trajectory, rasterised.

During an exposure a hand-held camera drifts along a smooth path
:math:`p(t) \in \mathbb R^2,\ t \in [0, 1]`. Every point of the scene is smeared along
the same path, so the blur kernel (point-spread function, PSF) is the time the
path spends over each pixel:

.. math::  k[i, j] \propto \int_0^1 \Lambda\big(i - p_y(t)\big)\,\Lambda\big(j - p_x(t)\big)\,dt,

with :math:`\Lambda` the linear-interpolation "hat" so that a sub-pixel position
shares its weight between the four pixels around it. We draw the path as a
random walk with momentum -- the *acceleration* is white noise, integrated
twice -- which is smooth like a real hand tremor (compare Boracchi & Foi, 2012).
The path is then centred and scaled to span a random fraction of the kernel,
rasterised by bilinear splatting, and normalised to sum to one: the kernel lies
on the probability simplex (:mod:`course_lib.projections`).

:func:`motion_blur_kernel_with_path` returns the kernel together with the path, in
pixel coordinates, that made it.

Example
-------
>>> g = torch.Generator().manual_seed(123)
>>> k = motion_blur_kernel(25, generator=g)      # (1, 1, 25, 25), k >= 0
>>> k.shape, round(float(k.sum()), 6)
(torch.Size([1, 1, 25, 25]), 1.0)
"""

from __future__ import annotations

import math

import torch

__all__ = ["motion_blur_kernel", "motion_blur_kernel_with_path", "camera_trajectory"]


def camera_trajectory(
    n_points: int = 256,
    generator: torch.Generator | None = None,
    jitter: float = 1.0,
) -> torch.Tensor:
    """A smooth random 2-D path, ``(n_points, 2)`` in (row, col) units, centred at 0 with max extent 1.

    The velocity starts in a random direction and receives white-noise kicks of
    relative size ``jitter`` at every step (larger: more curved paths).
    """
    if not isinstance(n_points, int) or n_points < 2:
        raise ValueError(f"n_points must be an int >= 2, got {n_points!r}")
    if not jitter >= 0:
        raise ValueError(f"jitter must be >= 0, got {jitter!r}")
    dt = 1.0 / (n_points - 1)
    angle = 2 * math.pi * torch.rand((), generator=generator, dtype=torch.float64)
    v0 = torch.stack([torch.sin(angle), torch.cos(angle)])  # unit initial velocity
    kicks = torch.randn(n_points - 1, 2, generator=generator, dtype=torch.float64)
    # white-noise acceleration integrated once: a Brownian velocity around v0
    velocity = v0 + jitter * 3.0 * torch.cumsum(kicks, dim=0) * math.sqrt(dt)
    path = torch.cat([torch.zeros(1, 2, dtype=torch.float64), torch.cumsum(velocity * dt, dim=0)])
    path = path - 0.5 * (path.max(dim=0).values + path.min(dim=0).values)  # centre the bounding box
    extent = (path.max(dim=0).values - path.min(dim=0).values).max().clamp_min(1e-12)
    return path / extent  # (n_points, 2), spans [-1/2, 1/2] along its longer axis


def _splat(path: torch.Tensor, size: int) -> torch.Tensor:
    """Bilinear rasterisation of path points (pixel coordinates) onto a size x size grid."""
    img = torch.zeros(size * size, dtype=path.dtype)
    base = torch.floor(path)
    frac = path - base
    for dy in (0, 1):
        for dx in (0, 1):
            wy = frac[:, 0] if dy else 1 - frac[:, 0]
            wx = frac[:, 1] if dx else 1 - frac[:, 1]
            r = (base[:, 0] + dy).long().clamp(0, size - 1)
            c = (base[:, 1] + dx).long().clamp(0, size - 1)
            img.index_add_(0, r * size + c, wy * wx)
    return img.reshape(size, size)


def motion_blur_kernel_with_path(
    size: int = 25,
    generator: torch.Generator | None = None,
    length: tuple[float, float] = (0.4, 0.9),
    jitter: float = 1.0,
    dtype: torch.dtype = torch.float32,
) -> tuple[torch.Tensor, torch.Tensor]:
    """A random motion-blur PSF and the camera path that made it.

    Returns ``(kernel, path)``: the kernel of shape ``(1, 1, size, size)``, non-negative and
    summing to 1, and the path as ``(16 * size, 2)`` float64 (row, col) pixel coordinates --
    pixel ``(i, j)`` is centred at ``(i, j)``, as ``plt.imshow`` draws it.

    Parameters
    ----------
    size : kernel side in pixels (odd sizes keep the centre on a pixel).
    generator : a seeded ``torch.Generator`` for reproducible kernels.
    length : range of the trajectory's extent, as a fraction of the usable width
        ``size - 2``; each kernel draws its own value uniformly from it.
    jitter : curvature of the path (0 gives a straight line).
    """
    if not isinstance(size, int) or isinstance(size, bool) or size < 3:
        raise ValueError(f"size must be an int >= 3, got {size!r}")
    lo, hi = length
    if not 0 < lo <= hi <= 1:
        raise ValueError(f"length must satisfy 0 < low <= high <= 1, got {length!r}")
    frac = lo + (hi - lo) * float(torch.rand((), generator=generator, dtype=torch.float64))
    path = camera_trajectory(n_points=16 * size, generator=generator, jitter=jitter)
    centre = (size - 1) / 2
    pixels = centre + path * frac * (size - 2)  # inside [0.5, size - 1.5]: no clipping needed
    k = _splat(pixels, size)
    k = k / k.sum()
    return k.to(dtype)[None, None], pixels  # (1, 1, size, size), (16 * size, 2)


def motion_blur_kernel(
    size: int = 25,
    generator: torch.Generator | None = None,
    length: tuple[float, float] = (0.4, 0.9),
    jitter: float = 1.0,
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """A random motion-blur PSF of shape ``(1, 1, size, size)``: non-negative, summing to 1.

    The kernel of :func:`motion_blur_kernel_with_path` (same arguments, same random draws).
    """
    return motion_blur_kernel_with_path(size, generator, length, jitter, dtype)[0]
