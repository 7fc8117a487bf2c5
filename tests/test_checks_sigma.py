"""The chapter-2 self-checks: a right answer passes, typical wrong ones raise, a placeholder is "not attempted"."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from course_lib.checks.sigma import check_anisotropic_fit, check_loss_gradient, check_newton_step
from course_lib.sigma import anisotropic_gaussian_blur2d, gaussian_blur1d, gaussian_kernel1d


def _placeholder(*args):
    raise NotImplementedError


# ----------------------------------------------------------------------------- exercise 1
def _dtaps(sigma):
    w = gaussian_kernel1d(torch.tensor(sigma, dtype=torch.float64))  # (2r+1,)
    r = w.numel() // 2
    k = torch.arange(-r, r + 1, dtype=torch.float64)
    return w, w * (k**2 - (w * k**2).sum()) / sigma**3, r


def _right_grad(x, y, sigma):
    w, dw, r = _dtaps(sigma)
    residual = gaussian_blur1d(x, sigma) - y  # (1, 1, N)
    dpred = F.conv1d(x, dw.view(1, 1, -1), padding=r)  # (1, 1, N)
    return (residual * dpred).mean()


def _autograd_grad(x, y, sigma):  # a different route to the same number: must pass too
    s = torch.tensor(sigma, dtype=torch.float64, requires_grad=True)
    (g,) = torch.autograd.grad(0.5 * (gaussian_blur1d(x, s) - y).pow(2).mean(), s)
    return g


def _no_centering(x, y, sigma):  # forgets the "- sum_j w_j j^2" of the tap derivative
    w, _, r = _dtaps(sigma)
    k = torch.arange(-r, r + 1, dtype=torch.float64)
    dpred = F.conv1d(x, (w * k**2 / sigma**3).view(1, 1, -1), padding=r)
    return ((gaussian_blur1d(x, sigma) - y) * dpred).mean()


WRONG_GRADS = {
    "zero": lambda x, y, s: 0.0,
    "sign": lambda x, y, s: -_right_grad(x, y, s),
    "factor_2": lambda x, y, s: 2 * _right_grad(x, y, s),
    "dtheta": lambda x, y, s: s * _right_grad(x, y, s),
    "sum_not_mean": lambda x, y, s: x.numel() * _right_grad(x, y, s),
    "no_centering": _no_centering,
}


@pytest.mark.parametrize("right", [_right_grad, _autograd_grad], ids=["closed_form", "autograd"])
def test_loss_gradient_right(right, capsys):
    check_loss_gradient(right)
    assert capsys.readouterr().out.startswith("✓")


@pytest.mark.parametrize("name", WRONG_GRADS)
def test_loss_gradient_wrong(name):
    with pytest.raises(AssertionError, match="expected"):
        check_loss_gradient(WRONG_GRADS[name])


def test_loss_gradient_placeholder(capsys):
    check_loss_gradient(_placeholder)
    out = capsys.readouterr().out
    assert "not attempted yet" in out and "conv1d" in out


# ----------------------------------------------------------------------------- exercise 2
def _newton(loss_fn, theta, sign=1.0, factor=1.0, fallback=True):
    theta = theta.detach().requires_grad_()
    (g,) = torch.autograd.grad(loss_fn(theta), theta, create_graph=True)
    (h,) = torch.autograd.grad(g, theta)
    step = g / h if (h > 0 or not fallback) else g
    return (theta - sign * factor * step).detach()


def _gradient_step(loss_fn, theta):
    theta = theta.detach().requires_grad_()
    (g,) = torch.autograd.grad(loss_fn(theta), theta)
    return (theta - g).detach()


WRONG_NEWTON = {
    "unchanged": lambda f, t: t,
    "sign": lambda f, t: _newton(f, t, sign=-1.0),
    "factor_2": lambda f, t: _newton(f, t, factor=2.0),
    "no_fallback": lambda f, t: _newton(f, t, fallback=False),
    "gradient_step": _gradient_step,
    "returns_none": lambda f, t: None,
}


def test_newton_right(capsys):
    check_newton_step(_newton)
    out = capsys.readouterr().out
    assert out.startswith("✓") and "sigma = 2.7" in out


@pytest.mark.parametrize("name", WRONG_NEWTON)
def test_newton_wrong(name):
    with pytest.raises(AssertionError):
        check_newton_step(WRONG_NEWTON[name])


def test_newton_placeholder(capsys):
    check_newton_step(_placeholder)
    assert "not attempted yet" in capsys.readouterr().out


# ----------------------------------------------------------------------------- exercise 3
def _fit(x, target, steps=300, shared=False):
    theta = torch.zeros(1 if shared else 2, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.Adam([theta], lr=0.05)
    for _ in range(steps):
        s = theta.exp().expand(2)
        loss = 0.5 * (anisotropic_gaussian_blur2d(x, s[0], s[1]) - target).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    sx, sy = theta.detach().exp().expand(2).tolist()
    return sx, sy


WRONG_FITS = {
    "start": lambda x, t: (1.0, 1.0),
    "swapped": lambda x, t: _fit(x, t)[::-1],
    "isotropic": lambda x, t: _fit(x, t, shared=True),
    "too_few_steps": lambda x, t: _fit(x, t, steps=10),
    "one_value": lambda x, t: 2.0,
}


def test_anisotropic_right(capsys):
    check_anisotropic_fit(_fit)
    assert capsys.readouterr().out.startswith("✓")


@pytest.mark.parametrize("name", WRONG_FITS)
def test_anisotropic_wrong(name):
    with pytest.raises(AssertionError):
        check_anisotropic_fit(WRONG_FITS[name])


def test_anisotropic_swapped_says_so():
    with pytest.raises(AssertionError, match="swapped"):
        check_anisotropic_fit(WRONG_FITS["swapped"])


def test_anisotropic_placeholder(capsys):
    check_anisotropic_fit(_placeholder)
    assert "not attempted yet" in capsys.readouterr().out


def test_references_are_independent_of_the_library():
    """The NumPy references agree with the course's blur: a check would fail if either were wrong."""
    from course_lib.checks import sigma as checks

    x = checks._signal(50, seed=1)
    ref = checks._blur_np(x, 1.7)
    ours = gaussian_blur1d(torch.tensor(x).reshape(1, 1, -1), 1.7).flatten().numpy()
    assert abs(ref - ours).max() < 1e-12
    y = checks._blur_np(x, 2.6)
    h = 1e-6  # central difference on the NumPy loss, a third route to dl/dsigma
    fd = (checks._loss_np(x, y, 1.7 + h) - checks._loss_np(x, y, 1.7 - h)) / (2 * h)
    assert math.isclose(checks._dloss_dsigma(x, y, 1.7), fd, rel_tol=1e-6)
