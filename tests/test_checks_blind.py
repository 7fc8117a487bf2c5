"""Chapter 5's self-checks: right answers pass, wrong ones raise, placeholders say 'not attempted yet'."""

import pytest
import torch
import torch.nn.functional as F

from course_lib.checks.blind import (check_delayed_normalisation, check_kernel_error, check_kernel_step,
                                     check_total_variation)
from course_lib.convolution import convolve2d, convolve2d_kernel_adjoint
from course_lib.projections import project_simplex


def _placeholder(*args):
    raise NotImplementedError


def _shift_error(k_hat, k_true, wrap=False, norm_of_hat=False, shifts=True):
    h = k_hat.shape[-1]
    S = h // 2
    best = float("inf")
    rng = range(-S, S + 1) if shifts else [0]
    for di in rng:
        for dj in rng:
            if wrap:
                moved = torch.roll(k_hat, (di, dj), dims=(-2, -1))
            else:
                p = F.pad(k_hat, (S, S, S, S))
                moved = p[..., S - di : S - di + h, S - dj : S - dj + h]
            ref = k_hat.norm() if norm_of_hat else k_true.norm()
            best = min(best, float((moved - k_true).norm() / ref))
    return best


def _tv(x, iso=True, periodic=True, mean=False, squared=False):
    if periodic:
        dx, dy = torch.roll(x, -1, dims=-1) - x, torch.roll(x, -1, dims=-2) - x
    else:
        dx, dy = F.pad(x.diff(dim=-1), (0, 1)), F.pad(x.diff(dim=-2), (0, 0, 0, 1))
    v = (dx**2 + dy**2) if squared else ((dx**2 + dy**2).sqrt() if iso else dx.abs() + dy.abs())
    return v.flatten(1).mean(1) if mean else v.flatten(1).sum(1)


def _step(x, y, k, step, sign=1.0, project="exact", flip=False, times=1.0):
    r = convolve2d(x, k, padding="circular") - y
    g = convolve2d_kernel_adjoint(x, r, tuple(k.shape), padding="circular")
    if flip:
        g = g.flip(-2, -1)
    v = k - sign * times * step * g
    if project == "exact":
        return project_simplex(v, dim=(-2, -1))
    if project == "clip":
        v = v.clamp_min(0)
        return v / v.sum()
    return v


# ----------------------------------------------------------------------------- placeholders
@pytest.mark.parametrize("check", [check_kernel_error, check_total_variation, check_kernel_step,
                                   check_delayed_normalisation])
def test_placeholder_is_not_attempted(check, capsys):
    check(_placeholder)
    assert "not attempted yet" in capsys.readouterr().out


# ----------------------------------------------------------------------------- exercise 1
def test_kernel_error_right(capsys):
    check_kernel_error(_shift_error)
    assert capsys.readouterr().out.startswith("\u2713")


@pytest.mark.parametrize("wrong", [
    lambda a, b: _shift_error(a, b, shifts=False),       # no shift at all
    lambda a, b: _shift_error(a, b, wrap=True),          # torch.roll wraps mass around
    lambda a, b: _shift_error(a, b, norm_of_hat=True),   # divides by the wrong norm
    lambda a, b: 2 * _shift_error(a, b),                 # a factor 2
    lambda a, b: 0.0,                                    # zeros
], ids=["no-shift", "wrap", "wrong-norm", "factor-2", "zero"])
def test_kernel_error_wrong(wrong):
    with pytest.raises(AssertionError):
        check_kernel_error(wrong)


def test_kernel_error_missing_return():
    with pytest.raises(AssertionError, match="return"):
        check_kernel_error(lambda a, b: None)


# ----------------------------------------------------------------------------- exercise 2
def test_total_variation_right(capsys):
    check_total_variation(_tv)
    out = capsys.readouterr().out
    assert out.startswith("\u2713") and "TV(k * x) / TV(x)" in out


@pytest.mark.parametrize("wrong", [
    lambda x: _tv(x, iso=False), lambda x: _tv(x, periodic=False), lambda x: _tv(x, mean=True),
    lambda x: _tv(x, squared=True), lambda x: 2 * _tv(x), lambda x: torch.zeros(x.shape[0]),
], ids=["anisotropic", "non-periodic", "mean", "squared", "factor-2", "zeros"])
def test_total_variation_wrong(wrong):
    with pytest.raises(AssertionError):
        check_total_variation(wrong)


# ----------------------------------------------------------------------------- exercise 3
def test_kernel_step_right(capsys):
    check_kernel_step(_step)
    assert capsys.readouterr().out.startswith("\u2713")


@pytest.mark.parametrize("wrong", [
    lambda x, y, k, s: _step(x, y, k, s, sign=-1.0),            # uphill
    lambda x, y, k, s: _step(x, y, k, s, project="none"),        # no projection
    lambda x, y, k, s: _step(x, y, k, s, project="clip"),        # clip and renormalise
    lambda x, y, k, s: _step(x, y, k, s, flip=True),             # convolution instead of correlation
    lambda x, y, k, s: _step(x, y, k, s, times=2.0),             # a factor 2 in the step
    lambda x, y, k, s: k,                                        # identity: no step
], ids=["uphill", "no-projection", "clip-renormalise", "flipped-gradient", "factor-2", "identity"])
def test_kernel_step_wrong(wrong):
    with pytest.raises(AssertionError):
        check_kernel_step(wrong)


# ----------------------------------------------------------------------------- exercise 4
def _delayed(k, grad, step, sign=1.0, order="clip-first", renormalise=True):
    v = k - sign * step * grad
    if order == "project":
        return project_simplex(v, dim=(-2, -1))
    if order == "normalise-first":
        return (v / v.sum()).clamp_min(0)
    v = v.clamp_min(0)
    return v / v.sum() if renormalise else v


def test_delayed_normalisation_right(capsys):
    check_delayed_normalisation(_delayed)
    out = capsys.readouterr().out
    assert out.startswith("\u2713") and "the exact projection" in out


@pytest.mark.parametrize("wrong", [
    lambda k, g, s: _delayed(k, g, s, order="project"),          # the exact projection
    lambda k, g, s: _delayed(k, g, s, order="normalise-first"),  # normalise, then clip
    lambda k, g, s: _delayed(k, g, s, renormalise=False),        # clip only
    lambda k, g, s: _delayed(k, g, s, sign=-1.0),                # uphill
    lambda k, g, s: k,                                           # no step
], ids=["projection", "normalise-first", "no-renormalisation", "uphill", "identity"])
def test_delayed_normalisation_wrong(wrong):
    with pytest.raises(AssertionError):
        check_delayed_normalisation(wrong)
