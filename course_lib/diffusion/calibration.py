r"""How far a set of posterior samples is from the posterior it should represent.

For samples :math:`x^{(1)}, \dots, x^{(n)}` with sample mean :math:`\hat m`, per-pixel sample standard
deviation :math:`\hat s` and sample covariance :math:`\hat C`, against a posterior with mean
:math:`m`, per-pixel standard deviation :math:`s` and covariance :math:`C`, from a prior of mean :math:`\mu`:

* **mean error** :math:`\|\hat m - m\| / \|\mu - m\|`, relative to how far the measurement moves the
  posterior away from the prior (1 means "no better than ignoring :math:`y`");
* **std ratio** :math:`\|\hat s\| / \|s\|` (1 when the spread is right, below 1 when too narrow);
* **covariance error** :math:`\|\hat C - C\|_F / \|C\|_F` (correlations included).

Even exact samples have errors of order :math:`1/\sqrt n`; compare with those of :math:`n` exact
samples (``course_lib.diffusion.sample_gaussian``).

**Coverage** of an uncertainty map: the fraction of true pixels :math:`x_0` inside
:math:`\hat m \pm k\hat s`. For a Gaussian posterior and :math:`k = 2` it is 95.4 % when the mean and
spread are exact and the truth is drawn from the prior the posterior uses.

Example
-------
>>> import torch
>>> g = torch.Generator().manual_seed(0)
>>> xs = torch.randn(4000, 1, 2, 2, generator=g, dtype=torch.float64)  # N(0, I)
>>> err = posterior_errors(xs, torch.zeros(1, 2, 2), torch.eye(4), torch.ones(1, 2, 2))
>>> err["std_ratio"] > 0.97 and err["mean_error"] < 0.05
True
>>> cov = coverage(torch.zeros(1, 2, 2), torch.ones(1, 2, 2), xs, k=2.0)  # +-2 std
>>> abs(cov - 0.954) < 0.01
True
"""

from __future__ import annotations

import torch

__all__ = ["posterior_errors", "coverage", "coverage_of_samples"]


def _diverged(samples: torch.Tensor, max_abs: float) -> bool:
    """A sampler diverged: a sample is not finite or lies beyond ``max_abs`` (images live on ``[-1, 1]``)."""
    return not bool(torch.isfinite(samples).all()) or float(samples.abs().max()) > max_abs


def posterior_errors(samples: torch.Tensor, post_mean: torch.Tensor, post_cov: torch.Tensor,
                     prior_mean: torch.Tensor, max_abs: float = 1e3) -> dict[str, float]:
    """Mean error, std ratio and covariance error (see the module docstring) of ``samples`` ``(n, C, H, W)``.

    ``post_mean`` and ``prior_mean`` have the shape ``(C, H, W)`` of one sample, ``post_cov`` is
    ``(d, d)``. A diverged sampler -- a sample not finite or beyond ``max_abs`` (images live on
    ``[-1, 1]``) -- gives ``nan`` for all three.
    """
    if not isinstance(samples, torch.Tensor) or samples.dim() != 4 or samples.shape[0] < 2:
        raise ValueError(f"samples must be an (n, C, H, W) tensor with n >= 2, got {getattr(samples, 'shape', None)}")
    d = samples[0].numel()
    if post_mean.numel() != d or prior_mean.numel() != d or post_cov.shape != (d, d):
        raise ValueError(f"post_mean and prior_mean must hold {d} values and post_cov be ({d}, {d})")
    x = samples.detach().to(torch.float64).flatten(1)
    if _diverged(x, max_abs):
        nan = float("nan")
        return {"mean_error": nan, "std_ratio": nan, "cov_error": nan}
    m, mu = post_mean.to(x).flatten(), prior_mean.to(x).flatten()
    c = post_cov.to(x)
    return {"mean_error": float((x.mean(0) - m).norm() / (mu - m).norm()),
            "std_ratio": float(x.std(0).norm() / c.diagonal().clamp_min(0).sqrt().norm()),
            "cov_error": float((torch.cov(x.T) - c).norm() / c.norm())}


def coverage(mean: torch.Tensor, std: torch.Tensor, truth: torch.Tensor, k: float = 2.0) -> float:
    """Fraction of the entries of ``truth`` within ``mean +- k * std`` (all three broadcast together)."""
    if not k > 0:
        raise ValueError(f"k must be positive, got {k!r}")
    mean, std, truth = torch.broadcast_tensors(mean.detach(), std.detach(), truth.detach())
    if not bool(torch.isfinite(mean).all() and torch.isfinite(std).all()):
        return float("nan")
    return float(((truth - mean).abs() <= k * std).double().mean())


def coverage_of_samples(samples: torch.Tensor, truth: torch.Tensor, k: float = 2.0,
                        max_abs: float = 1e3) -> float:
    """:func:`coverage` of the sample mean +- ``k`` sample std: ``samples`` ``(P, n, C, H, W)`` (``n``
    samples for each of ``P`` problems), ``truth`` ``(P, C, H, W)``; ``nan`` for a diverged sampler
    (a sample beyond ``max_abs``), whose huge spread would cover everything."""
    if not isinstance(samples, torch.Tensor) or samples.dim() != 5 or samples.shape[1] < 2:
        raise ValueError(f"samples must be (P, n, C, H, W) with n >= 2, got {getattr(samples, 'shape', None)}")
    if truth.shape != samples.shape[:1] + samples.shape[2:]:
        raise ValueError(f"truth must have shape {tuple(samples.shape[:1] + samples.shape[2:])}, got {tuple(truth.shape)}")
    if _diverged(samples, max_abs):
        return float("nan")
    return coverage(samples.mean(1), samples.std(1), truth, k)
