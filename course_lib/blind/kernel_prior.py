r"""A diffusion prior over motion-blur kernels: the scaling, the denoiser wrapper and the safe loader.

A kernel :math:`k` lies on the probability simplex (:math:`k \ge 0`, :math:`\sum k = 1`), with values
near :math:`1/\text{(path length)}`, far from the diffusion scale :math:`[-1, 1]` of chapter 3. We map it
by its peak, as an image:

.. math::  z = 2\,\frac{k}{\max k} - 1 \in [-1, 1],\qquad
           k = \Pi_\Delta\!\Big(\frac{\max(z, -1) + 1}{2}\Big)\ \text{(clip, then normalise the sum)}.

The map is exact on kernels (``from_model(to_model(k)) == k``) and ignores the overall scale, which the
simplex fixes anyway. The prior is chapter 3's :class:`~course_lib.models.DenoisingUNet`, trained by
``python -m course_lib.train_kernel_prior`` on fresh :func:`~course_lib.kernels.motion_blur_kernel`
draws; the U-Net needs sides divisible by 4, so :class:`KernelDenoiser` pads the ``h x h`` kernel with
:math:`-1` (zero weight) to the next multiple of 4 and crops the result back.

Example
-------
>>> import torch
>>> from course_lib.kernels import motion_blur_kernel
>>> k = motion_blur_kernel(9, generator=torch.Generator().manual_seed(0))  # (1,1,9,9)
>>> bool(torch.allclose(from_model(to_model(k)), k, atol=1e-6))
True
>>> D = load_kernel_denoiser()       # KernelDenoiser in eval mode, kernel_size 9
>>> D(to_model(k), 0.5).shape
torch.Size([1, 1, 9, 9])
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F

from ..diffusion.pretrained import load_verified, read_training_log
from ..models.denoiser import DenoisingUNet

__all__ = ["KERNEL_WEIGHTS_PATH", "KernelDenoiser", "to_model", "from_model", "load_kernel_denoiser",
           "kernel_training_log"]

KERNEL_WEIGHTS_PATH = Path(__file__).resolve().parent.parent / "weights" / "kernels9_denoiser.pt"
_RETRAIN = "regenerate it with `python -m course_lib.train_kernel_prior`"


def to_model(k: torch.Tensor) -> torch.Tensor:
    """Kernels ``(B, 1, h, w)`` on the simplex -> the diffusion scale: ``2 k / max k - 1`` per kernel."""
    if not isinstance(k, torch.Tensor) or k.dim() != 4:
        raise ValueError(f"k must be a (B, 1, h, w) tensor, got {getattr(k, 'shape', type(k).__name__)}")
    peak = k.flatten(1).amax(1).clamp_min(1e-12)[:, None, None, None]  # (B, 1, 1, 1)
    return 2.0 * k / peak - 1.0


def from_model(z: torch.Tensor) -> torch.Tensor:
    """Back to the simplex: clip ``(z + 1) / 2`` at 0 and normalise each kernel to sum 1.

    An all-negative ``z`` (no mass anywhere) gives the flat kernel rather than a division by zero.
    """
    if not isinstance(z, torch.Tensor) or z.dim() != 4:
        raise ValueError(f"z must be a (B, 1, h, w) tensor, got {getattr(z, 'shape', type(z).__name__)}")
    w = ((z + 1.0) / 2.0).clamp_min(0.0)  # (B, 1, h, w)
    s = w.flatten(1).sum(1)[:, None, None, None]
    flat = torch.full_like(w, 1.0 / w[0, 0].numel())
    return torch.where(s > 1e-12, w / s.clamp_min(1e-12), flat)


class KernelDenoiser(nn.Module):
    r"""MMSE denoiser :math:`D(z, \sigma)` of ``kernel_size x kernel_size`` kernels on the scale of :func:`to_model`.

    Wraps a :class:`~course_lib.models.DenoisingUNet` that works on a ``canvas x canvas`` grid
    (``canvas`` = ``kernel_size`` rounded up to a multiple of 4): the input is padded with -1 at the
    bottom and right, denoised, and cropped back. ``forward(z, sigma)``: ``z`` ``(B, 1, h, h)``.
    """

    def __init__(self, kernel_size: int = 9, width: int = 16, sigma_data: float = 0.5) -> None:
        super().__init__()
        if not isinstance(kernel_size, int) or isinstance(kernel_size, bool) or kernel_size < 3:
            raise ValueError(f"kernel_size must be an int >= 3, got {kernel_size!r}")
        self.kernel_size = kernel_size
        self.canvas = -(-kernel_size // 4) * 4
        self.net = DenoisingUNet(channels=1, width=width, sigma_data=sigma_data)
        self.config = {"kernel_size": kernel_size, "width": width, "sigma_data": float(sigma_data)}

    @property
    def sigma_data(self) -> float:
        """The data scale of the preconditioning (the wrapped U-Net's)."""
        return self.net.sigma_data

    def pad(self, z: torch.Tensor) -> torch.Tensor:
        """``(B, 1, h, h)`` -> ``(B, 1, canvas, canvas)``, the extra rows and columns at -1 (no weight)."""
        p = self.canvas - self.kernel_size
        return F.pad(z, (0, p, 0, p), value=-1.0)

    def forward(self, z: torch.Tensor, sigma: torch.Tensor | float) -> torch.Tensor:
        if not isinstance(z, torch.Tensor) or z.dim() != 4 or tuple(z.shape[1:]) != (1, self.kernel_size,
                                                                                    self.kernel_size):
            raise ValueError(f"z must be (B, 1, {self.kernel_size}, {self.kernel_size}), "
                             f"got {getattr(z, 'shape', type(z).__name__)}")
        h = self.kernel_size
        return self.net(self.pad(z), sigma)[..., :h, :h]

    def extra_repr(self) -> str:
        return f"config={self.config}, canvas={self.canvas}"


def load_kernel_denoiser(path: str | Path = KERNEL_WEIGHTS_PATH, sha256: str | None = None,
                         device: torch.device | str | None = None) -> KernelDenoiser:
    """Chapter 5's kernel prior, checked against its stored SHA-256 and loaded with
    ``weights_only=True`` by :func:`course_lib.diffusion.pretrained.load_verified`: the float32
    :class:`KernelDenoiser` in eval mode, without gradients on its weights, on ``device`` (default CPU).
    """
    return load_verified(path, KernelDenoiser, sha256, device, retrain=_RETRAIN)


def kernel_training_log(path: str | Path = KERNEL_WEIGHTS_PATH.with_name("kernels9_training.json")) -> dict:
    """The training curve and settings saved by ``train_kernel_prior``."""
    return read_training_log(path, retrain=_RETRAIN)
