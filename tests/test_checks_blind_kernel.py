"""The chapter 1 self-checks: a right answer prints the tick, wrong ones raise, the placeholder is friendly.

The right answers below are written independently of the library (no project_simplex, no
course_lib.convolution), as a learner would write them.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from course_lib.checks.blind_kernel import check_kernel_gradient, check_projection, check_safe_step


def _placeholder(*args):
    raise NotImplementedError


def _assert_not_attempted(check, capsys):
    check(_placeholder)
    out = capsys.readouterr().out
    assert "not attempted yet" in out and "\u2713" not in out


# ----------------------------------------------------------------------------- exercise 1
def sort_projection(v):
    u = torch.sort(v, dim=-1, descending=True).values
    css = torch.cumsum(u, dim=-1) - 1
    j = torch.arange(1, v.shape[-1] + 1, dtype=v.dtype)
    rho = (u - css / j > 0).sum(dim=-1, keepdim=True)
    tau = torch.gather(css, -1, rho - 1) / rho
    return torch.clamp(v - tau, min=0)


def one_threshold_for_all(v):  # the original example's batch bug
    u = torch.sort(v, dim=-1, descending=True).values
    css = torch.cumsum(u, dim=-1) - 1
    j = torch.arange(1, v.shape[-1] + 1, dtype=v.dtype).expand_as(v)
    cond = u - css / j > 0
    return torch.clamp(v - css[cond][-1] / j[cond][-1], min=0)


def first_index_rho(v):  # rho = the FIRST index where the condition holds: always 1
    u = torch.sort(v, dim=-1, descending=True).values
    return torch.clamp(v - (u[..., :1] - 1), min=0)


def no_clip(v):  # the right tau, but entries below it are not set to zero
    u = torch.sort(v, dim=-1, descending=True).values
    css = torch.cumsum(u, dim=-1) - 1
    j = torch.arange(1, v.shape[-1] + 1, dtype=v.dtype)
    rho = (u - css / j > 0).sum(dim=-1, keepdim=True)
    return v - torch.gather(css, -1, rho - 1) / rho


def test_projection_right_answer_passes(capsys):
    check_projection(sort_projection)
    assert capsys.readouterr().out.startswith("\u2713")


@pytest.mark.parametrize(
    "wrong",
    [
        lambda v: torch.zeros_like(v),
        lambda v: v,
        lambda v: torch.softmax(v, dim=-1),  # on the simplex, not the closest point
        lambda v: v.clamp(min=0) / v.clamp(min=0).sum(-1, keepdim=True).clamp_min(1e-12),  # clip, rescale
        lambda v: torch.full_like(v, 1 / v.shape[-1]),  # the centre of the simplex
        one_threshold_for_all,
        first_index_rho,
        no_clip,
        lambda v: sort_projection(v)[..., :-1],  # wrong shape
        lambda v: sort_projection(v.T.contiguous()).T,  # projected the wrong axis
    ],
    ids=["zeros", "identity", "softmax", "clip-rescale", "centre", "one-threshold", "first-rho", "no-clip",
         "shape", "wrong-axis"],
)
def test_projection_wrong_answers_raise(wrong):
    with pytest.raises(AssertionError):
        check_projection(wrong)


def test_projection_placeholder(capsys):
    _assert_not_attempted(check_projection, capsys)


def test_projection_forgotten_return_raises():
    with pytest.raises(AssertionError, match="return"):
        check_projection(lambda v: None)


# ----------------------------------------------------------------------------- exercise 2
def correlation_gradient(k, x, y, scale=0.5, flip=True, sign=1.0):
    C, (h, w) = x.shape[1], k.shape[-2:]
    blurred = F.conv2d(x, torch.flip(k, dims=(-2, -1)).expand(C, 1, h, w), groups=C)
    r = blurred - y  # (1, C, h', w')
    corr = F.conv2d(x, r)  # (1, 1, h, w): sum over channels of r correlated with x
    if flip:
        corr = torch.flip(corr, dims=(-2, -1))
    return sign * 2 * scale * corr / y.numel()


def test_gradient_right_answer_passes(capsys):
    check_kernel_gradient(correlation_gradient)
    assert capsys.readouterr().out.startswith("\u2713")


@pytest.mark.parametrize(
    "wrong,match",
    [
        (lambda k, x, y: torch.zeros_like(k), "relative error"),
        (lambda k, x, y: correlation_gradient(k, x, y, scale=1.0), "2 times"),  # the loss without 1/2
        (lambda k, x, y: correlation_gradient(k, x, y) * y.numel(), "times"),  # no 1/N
        (lambda k, x, y: correlation_gradient(k, x, y, sign=-1.0), "sign"),
        (lambda k, x, y: correlation_gradient(k, x, y, flip=False), "flip"),
        (lambda k, x, y: correlation_gradient(k, x, y)[..., :-1], "shape"),
        (lambda k, x, y: k, "relative error"),
    ],
    ids=["zeros", "factor-2", "no-1/N", "sign", "no-flip", "shape", "the-kernel"],
)
def test_gradient_wrong_answers_raise(wrong, match):
    with pytest.raises(AssertionError, match=match):
        check_kernel_gradient(wrong)


def test_gradient_placeholder(capsys):
    _assert_not_attempted(check_kernel_gradient, capsys)


# ----------------------------------------------------------------------------- exercise 3
def power_iteration_step(A, shape, n_iter=200, factor=1.0, half=True, use_adjoint=True):
    v = torch.randn(shape, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    for _ in range(n_iter):
        w = A(v)
        v = A.adjoint(w) if use_adjoint else w[: shape[0]]
        v = v / v.norm()
    lam = float(A(v).square().sum())
    n = A(v).numel()
    curvature = lam / n if half else 2 * lam / n
    return factor / curvature


def test_safe_step_right_answer_passes(capsys):
    check_safe_step(power_iteration_step)
    assert capsys.readouterr().out.startswith("\u2713")


@pytest.mark.parametrize(
    "wrong,match",
    [
        (lambda A, s: power_iteration_step(A, s, factor=2.0), "2/L"),  # the edge of the guarantee
        (lambda A, s: power_iteration_step(A, s, half=False), "factor 2"),  # the loss without 1/2
        (lambda A, s: power_iteration_step(A, s) / A(torch.zeros(s)).numel(), "singular"),  # forgot N
        (lambda A, s: power_iteration_step(A, s, n_iter=1), "expected the step"),  # not converged
        (lambda A, s: power_iteration_step(A, s, use_adjoint=False), "expected the step"),  # A A, not A^T A
        (lambda A, s: 0.0, "expected the step"),
    ],
    ids=["2/L", "no-half", "no-N", "one-iteration", "no-adjoint", "zero"],
)
def test_safe_step_wrong_answers_raise(wrong, match):
    with pytest.raises(AssertionError, match=match):
        check_safe_step(wrong)


def test_safe_step_placeholder(capsys):
    _assert_not_attempted(check_safe_step, capsys)
