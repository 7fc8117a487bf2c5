"""Tests for course_lib.projections.project_simplex.

References independent of the library's sort-based formula: bisection on the
threshold tau (sum max(v - tau, 0) = 1), the KKT conditions, and scipy's SLSQP.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.optimize
import torch

from course_lib.projections import project_simplex


def bisection_projection(v: np.ndarray) -> np.ndarray:
    """Reference for one vector: find tau with sum(max(v - tau, 0)) = 1 by bisection."""
    v = np.asarray(v, dtype=np.float64).ravel()
    lo, hi = v.min() - 1.0, v.max()  # mass(lo) >= 1 >= mass(hi) = 0
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if np.maximum(v - mid, 0.0).sum() > 1.0:
            lo = mid
        else:
            hi = mid
    return np.maximum(v - 0.5 * (lo + hi), 0.0)


def assert_kkt(v: np.ndarray, p: np.ndarray, tol: float = 1e-12) -> None:
    """p = argmin ||p - v|| on the simplex iff p >= 0, sum p = 1 and, for one tau,
    p_i = v_i - tau where p_i > 0 and v_i <= tau where p_i = 0."""
    v, p = v.ravel(), p.ravel()
    assert p.min() >= 0.0
    assert abs(p.sum() - 1.0) <= tol * len(p)
    support = p > 0
    tau = np.mean(v[support] - p[support])
    np.testing.assert_allclose(v[support] - p[support], tau, atol=10 * tol)
    assert np.all(v[~support] <= tau + 10 * tol)


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# A batch whose slices need very different thresholds (tau = 9, ~0.1, about -6.7, ...).
# Using one threshold for the whole batch -- the seed's `ind[cond][-1]` -- gets it wrong.
MIXED_BATCH = torch.tensor(
    [
        [10.0, 9.0, 8.0, 7.0],  # one winner: (1, 0, 0, 0)
        [0.1, 0.2, 0.0, 0.3],  # interior: every entry kept
        [-5.0, -6.0, -7.0, -8.0],  # far below the simplex, all kept
        [0.25, 0.25, 0.25, 0.25],  # already on the simplex
        [3.0, -1.0, 2.9, 0.0],  # two survivors
    ],
    dtype=torch.float64,
)


def global_threshold_projection(v: torch.Tensor) -> torch.Tensor:
    """The known-wrong variant: the support size rho is taken over the whole batch."""
    u = torch.sort(v, dim=-1, descending=True).values
    css = torch.cumsum(u, dim=-1) - 1.0
    j = torch.arange(1, v.shape[-1] + 1, dtype=v.dtype).expand_as(v)
    cond = u - css / j > 0
    tau = css[cond][-1] / j[cond][-1]  # the last true entry of the whole batch
    return torch.clamp(v - tau, min=0.0)


def test_batch_with_different_thresholds_matches_bisection():
    p = project_simplex(MIXED_BATCH)
    for row_v, row_p in zip(MIXED_BATCH.numpy(), p.numpy()):
        np.testing.assert_allclose(row_p, bisection_projection(row_v), rtol=0, atol=1e-12)
        assert_kkt(row_v, row_p)
    # every slice is projected on its own: batch result == one slice at a time
    for i in range(len(MIXED_BATCH)):
        torch.testing.assert_close(p[i], project_simplex(MIXED_BATCH[i]), rtol=0, atol=1e-15)


def test_mixed_batch_would_catch_a_global_threshold():
    """Guard for the test above: the batch really separates a per-slice from a global threshold."""
    wrong = global_threshold_projection(MIXED_BATCH)
    assert not torch.allclose(wrong, project_simplex(MIXED_BATCH), atol=1e-3)


@pytest.mark.parametrize("n", [1, 2, 5, 50, 625])
def test_random_batches_match_bisection_and_kkt(n):
    v = 3.0 * torch.randn(8, n, generator=_gen(n), dtype=torch.float64)
    v[1] += 100.0  # shift one slice far away: its threshold differs by ~100 from the rest
    p = project_simplex(v)
    for row_v, row_p in zip(v.numpy(), p.numpy()):
        np.testing.assert_allclose(row_p, bisection_projection(row_v), rtol=0, atol=1e-10)
        assert_kkt(row_v, row_p, tol=1e-12)


@pytest.mark.parametrize("seed", range(4))
def test_matches_scipy_slsqp_on_tiny_vectors(seed):
    v = torch.randn(4, generator=_gen(100 + seed), dtype=torch.float64)
    v_np = v.numpy()
    res = scipy.optimize.minimize(
        lambda p: 0.5 * np.sum((p - v_np) ** 2),
        x0=np.full(4, 0.25),
        jac=lambda p: p - v_np,
        bounds=[(0.0, None)] * 4,
        constraints=[{"type": "eq", "fun": lambda p: p.sum() - 1.0, "jac": lambda p: np.ones_like(p)}],
        method="SLSQP",
        options={"ftol": 1e-14, "maxiter": 200},
    )
    assert res.success, res.message
    np.testing.assert_allclose(project_simplex(v).numpy(), res.x, atol=1e-6)


def test_dim_tuple_flattens_kernels():
    v = torch.randn(3, 2, 5, 6, generator=_gen(1), dtype=torch.float64)
    p = project_simplex(v, dim=(-2, -1))
    assert p.shape == v.shape
    expected = project_simplex(v.reshape(3, 2, 30)).reshape(v.shape)
    torch.testing.assert_close(p, expected, rtol=0, atol=1e-15)
    torch.testing.assert_close(p.sum(dim=(-2, -1)), torch.ones(3, 2, dtype=torch.float64))
    # order of the tuple and negative/positive spelling do not matter; a list works too
    torch.testing.assert_close(project_simplex(v, dim=(3, 2)), p, rtol=0, atol=0)
    torch.testing.assert_close(project_simplex(v, dim=[2, -1]), p, rtol=0, atol=0)


def test_dim_int_and_non_adjacent_tuple():
    v = torch.randn(4, 7, 3, generator=_gen(2), dtype=torch.float64)
    p1 = project_simplex(v, dim=1)
    torch.testing.assert_close(p1, project_simplex(v.transpose(1, 2), dim=-1).transpose(1, 2), rtol=0, atol=1e-15)
    p02 = project_simplex(v, dim=(0, 2))  # 7 problems of size 12
    ref = project_simplex(v.permute(1, 0, 2).reshape(7, 12)).reshape(7, 4, 3).permute(1, 0, 2)
    torch.testing.assert_close(p02, ref, rtol=0, atol=1e-15)
    torch.testing.assert_close(p02.sum(dim=(0, 2)), torch.ones(7, dtype=torch.float64))


def test_idempotent_and_fixed_points():
    v = torch.randn(6, 25, generator=_gen(3), dtype=torch.float64)
    p = project_simplex(v)
    torch.testing.assert_close(project_simplex(p), p, rtol=0, atol=1e-15)
    on_simplex = torch.rand(6, 25, generator=_gen(4), dtype=torch.float64)
    on_simplex = on_simplex / on_simplex.sum(dim=-1, keepdim=True)
    torch.testing.assert_close(project_simplex(on_simplex), on_simplex, rtol=0, atol=1e-15)
    vertex = torch.zeros(1, 5, dtype=torch.float64)
    vertex[0, 2] = 1.0
    assert torch.equal(project_simplex(vertex), vertex)


def test_ties_and_constant_slices():
    v = torch.tensor([[1.0, 1.0, 0.0], [0.0, 0.0, 0.0], [-3.0, 2.0, 2.0]], dtype=torch.float64)
    expected = torch.tensor([[0.5, 0.5, 0.0], [1 / 3, 1 / 3, 1 / 3], [0.0, 0.5, 0.5]], dtype=torch.float64)
    torch.testing.assert_close(project_simplex(v), expected, rtol=0, atol=1e-15)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_dtype_device_and_input_preserved(dtype):
    v = torch.randn(2, 1, 9, 9, generator=_gen(5)).to(dtype)
    v_copy = v.clone()
    p = project_simplex(v, dim=(-2, -1))
    assert p.dtype == dtype and p.device == v.device and p.shape == v.shape
    assert torch.equal(v, v_copy)  # not modified in place
    assert float((p.sum(dim=(-2, -1)) - 1).abs().max()) < (1e-6 if dtype == torch.float32 else 1e-14)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_cuda_device_preserved():
    v = torch.randn(3, 10, generator=_gen(6), dtype=torch.float64)
    p = project_simplex(v.cuda())
    assert p.device.type == "cuda"
    torch.testing.assert_close(p.cpu(), project_simplex(v), rtol=0, atol=1e-14)


def test_gradcheck_at_a_generic_point():
    # Generic: no ties, no entry exactly at the threshold, some entries clipped to zero.
    v = torch.tensor([[0.9, 0.4, -0.3, 0.05, 0.6], [2.0, -1.0, 0.3, 1.7, 1.1]], dtype=torch.float64)
    p = project_simplex(v)
    assert (p == 0).any() and (p > 0).sum() >= 2
    assert torch.autograd.gradcheck(project_simplex, (v.clone().requires_grad_(True),))
    assert torch.autograd.gradcheck(lambda x: project_simplex(x, dim=(0, 1)), (v.clone().requires_grad_(True),))


@pytest.mark.parametrize(
    "v,dim,exc,match",
    [
        (torch.tensor([0.5, float("nan")]), -1, ValueError, "v contains NaN"),
        (torch.tensor([0.5, float("inf")]), -1, ValueError, "v contains NaN or inf"),
        (np.array([0.5, 0.5]), -1, TypeError, "v must be a torch.Tensor"),
        (torch.tensor([1, 2]), -1, TypeError, "v must be a floating"),
        (torch.tensor(1.0), -1, ValueError, "v must have at least one dimension"),
        (torch.zeros(2, 3), 2, ValueError, "dim"),
        (torch.zeros(2, 3), (0, -2), ValueError, "dim"),
        (torch.zeros(2, 3), (), TypeError, "dim"),
        (torch.zeros(2, 3), 1.0, TypeError, "dim"),
        (torch.zeros(2, 3), True, TypeError, "dim"),
    ],
)
def test_bad_input_names_the_argument(v, dim, exc, match):
    with pytest.raises(exc, match=match):
        project_simplex(v, dim=dim)
