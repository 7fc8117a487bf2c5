"""Tests for course_lib.kernels: random motion-blur PSFs live on the simplex and are reproducible."""

from __future__ import annotations

import pytest
import torch

from course_lib.kernels import camera_trajectory, motion_blur_kernel, motion_blur_kernel_with_path
from course_lib.projections import project_simplex


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("size", [3, 8, 25, 31])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_kernel_is_a_psf(size, dtype):
    k = motion_blur_kernel(size, generator=_gen(size), dtype=dtype)
    assert k.shape == (1, 1, size, size) and k.dtype == dtype
    assert float(k.min()) >= 0.0
    assert float(k.sum()) == pytest.approx(1.0, abs=1e-6 if dtype == torch.float32 else 1e-12)
    assert int((k > 0).sum()) >= 2  # a smear, not a delta
    # on the simplex already: the projection leaves it alone
    torch.testing.assert_close(project_simplex(k, dim=(-2, -1)), k)


def test_default_size_and_dtype():
    k = motion_blur_kernel(generator=_gen(0))
    assert k.shape == (1, 1, 25, 25) and k.dtype == torch.float32


def test_seeded_generator_is_deterministic_and_seeds_differ():
    a = motion_blur_kernel(25, generator=_gen(123))
    b = motion_blur_kernel(25, generator=_gen(123))
    c = motion_blur_kernel(25, generator=_gen(124))
    assert torch.equal(a, b)
    assert not torch.allclose(a, c)
    # float32 is the float64 kernel rounded: the dtype changes nothing else
    d = motion_blur_kernel(25, generator=_gen(123), dtype=torch.float64)
    torch.testing.assert_close(d.float(), a, rtol=0, atol=0)


def test_global_rng_is_used_without_a_generator():
    torch.manual_seed(7)
    a = motion_blur_kernel(15)
    torch.manual_seed(7)
    assert torch.equal(a, motion_blur_kernel(15))


def test_mass_stays_inside_the_kernel():
    """The path is scaled into [0.5, size - 1.5]: nothing piles up on the border by clipping."""
    for seed in range(5):
        k = motion_blur_kernel(25, generator=_gen(seed), dtype=torch.float64)[0, 0]
        border = k[0].sum() + k[-1].sum() + k[:, 0].sum() + k[:, -1].sum()
        assert float(border) == 0.0


def test_straight_line_without_jitter():
    path = camera_trajectory(64, generator=_gen(3), jitter=0.0)  # (64, 2)
    s = torch.linalg.svdvals(path - path.mean(0))
    assert float(s[1] / s[0]) < 1e-10  # collinear points
    # its kernel: weighted covariance of the pixels is elongated (a thin smear)
    k = motion_blur_kernel(21, generator=_gen(3), jitter=0.0, dtype=torch.float64)[0, 0]
    rows, cols = torch.meshgrid(torch.arange(21.0, dtype=k.dtype), torch.arange(21.0, dtype=k.dtype), indexing="ij")
    coords = torch.stack([rows.flatten(), cols.flatten()], 1)  # (441, 2)
    mean = (k.flatten()[:, None] * coords).sum(0)
    cov = ((coords - mean).T * k.flatten()) @ (coords - mean)
    eig = torch.linalg.eigvalsh(cov)
    assert float(eig[0] / eig[1]) < 0.05


def test_camera_trajectory_shape_and_extent():
    p = camera_trajectory(100, generator=_gen(0))
    assert p.shape == (100, 2) and p.dtype == torch.float64
    extent = (p.max(0).values - p.min(0).values).max()
    assert float(extent) == pytest.approx(1.0)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"size": 2}, "size"),
        ({"size": 25.0}, "size"),
        ({"size": True}, "size"),
        ({"size": 9, "length": (0.0, 0.5)}, "length"),
        ({"size": 9, "length": (0.8, 0.5)}, "length"),
        ({"size": 9, "length": (0.5, 1.5)}, "length"),
        ({"size": 9, "jitter": -1.0}, "jitter"),
    ],
)
def test_bad_input_names_the_argument(kwargs, match):
    with pytest.raises(ValueError, match=match):
        motion_blur_kernel(**kwargs)


def test_bad_trajectory_points():
    with pytest.raises(ValueError, match="n_points"):
        camera_trajectory(1)


def test_kernel_with_path_is_the_kernel_of_that_path():
    """The returned path made the kernel: same draws as motion_blur_kernel, and bilinear splatting
    keeps the first moment, so the kernel's centroid is the mean of the path's points."""
    k, path = motion_blur_kernel_with_path(25, generator=_gen(123), dtype=torch.float64)
    assert torch.equal(k, motion_blur_kernel(25, generator=_gen(123), dtype=torch.float64))
    assert path.shape == (16 * 25, 2) and path.dtype == torch.float64
    rows, cols = torch.meshgrid(torch.arange(25.0, dtype=k.dtype), torch.arange(25.0, dtype=k.dtype), indexing="ij")
    centroid = torch.stack([(k[0, 0] * rows).sum(), (k[0, 0] * cols).sum()])
    torch.testing.assert_close(centroid, path.mean(0), rtol=0, atol=1e-10)
    # every point of the path lies on a pixel that carries weight
    r, c = torch.round(path[:, 0]).long(), torch.round(path[:, 1]).long()
    assert bool((k[0, 0, r, c] > 0).all())
    # a different seed draws a different path
    _, other = motion_blur_kernel_with_path(25, generator=_gen(124))
    assert not torch.allclose(path, other)
