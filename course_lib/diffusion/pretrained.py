"""Load the committed priors safely: SHA-256 check, then ``torch.load(..., weights_only=True)``.

The weights in ``course_lib/weights/digits32_denoiser.pt`` (the digit prior) and
``photos_denoiser.pt`` (the natural-image prior, colour, trained on the photographs of
:mod:`course_lib.diffusion.photos`) are written by ``python -m course_lib.train_prior [--data photos]``
together with ``<stem>.sha256`` (the hash, ``sha256sum`` format) and ``<stem>_training.json``
(training curve and settings).
``weights_only=True`` means unpickling can build tensors and plain containers only, never
run code; the hash check catches a truncated or altered file before it is even unpickled.

Example
-------
>>> import torch
>>> D = load_digit_denoiser()     # a DenoisingUNet in eval mode, weights frozen
>>> x = torch.zeros(2, 1, 32, 32) # (B, 1, 32, 32) on [-1, 1], the network's device
>>> D(x, 0.5).shape
torch.Size([2, 1, 32, 32])
>>> P = load_photo_denoiser()     # colour: (B, 3, H, W), H and W divisible by 4
>>> P(torch.zeros(1, 3, 64, 64), 0.5).shape
torch.Size([1, 3, 64, 64])
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import torch

from ..models.denoiser import DenoisingUNet

__all__ = ["WEIGHTS_PATH", "PHOTO_WEIGHTS_PATH", "expected_sha256", "load_verified", "read_training_log",
           "load_digit_denoiser", "load_kernel_denoiser", "load_photo_denoiser", "training_log", "photo_training_log"]

WEIGHTS_PATH = Path(__file__).resolve().parent.parent / "weights" / "digits32_denoiser.pt"
PHOTO_WEIGHTS_PATH = WEIGHTS_PATH.with_name("photos_denoiser.pt")
_RETRAIN = "regenerate it with `python -m course_lib.train_prior`"
_RETRAIN_PHOTOS = "regenerate it with `python -m course_lib.train_prior --data photos`"


def expected_sha256(path: str | Path = WEIGHTS_PATH, retrain: str = _RETRAIN) -> str:
    """The hash stored next to ``path`` (``<stem>.sha256``); ``retrain`` says how to regenerate it."""
    side = Path(path).with_suffix(".sha256")
    if not side.is_file():
        raise FileNotFoundError(f"no stored hash for {path}: {side} is missing; {retrain}")
    digest = side.read_text().split()[0].strip().lower()
    if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
        raise ValueError(f"{side} does not hold a SHA-256 hex digest (got {digest!r})")
    return digest


def load_verified(path: str | Path, model: type[torch.nn.Module], sha256: str | None = None,
                  device: torch.device | str | None = None, retrain: str = _RETRAIN) -> torch.nn.Module:
    """Check ``path`` against ``sha256`` (default: the stored hash), then load it safely.

    ``torch.load(..., weights_only=True)`` builds tensors and plain containers only; the hash check
    catches a truncated or altered file before it is unpickled. The file holds ``{"config": ...,
    "state_dict": ...}``; returns ``model(**config)`` in eval mode, float32, without gradients on
    its weights, on ``device`` (default: the CPU). The caller places inputs there.
    """
    path = Path(path)
    expected = (sha256 or expected_sha256(path, retrain)).lower()
    if not path.is_file():
        raise FileNotFoundError(f"weights file {path} is missing (expected SHA-256 {expected}); {retrain}")
    got = hashlib.sha256(path.read_bytes()).hexdigest()
    if got != expected:
        raise ValueError(f"weights file {path} is corrupted or was changed: SHA-256 {got}, "
                         f"expected {expected}; {retrain}")
    blob = torch.load(path, map_location="cpu", weights_only=True)
    net = model(**blob["config"])
    net.load_state_dict(blob["state_dict"])
    return net.to(device=device).eval().requires_grad_(False)


def read_training_log(path: str | Path, retrain: str = _RETRAIN) -> dict:
    """A training log saved beside the weights (a dict of lists and numbers)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"training log {path} is missing; {retrain}")
    return json.loads(path.read_text())


def load_digit_denoiser(path: str | Path = WEIGHTS_PATH, sha256: str | None = None,
                        device: torch.device | str | None = None) -> DenoisingUNet:
    """Chapter 3's digit prior, checked and loaded by :func:`load_verified`."""
    return load_verified(path, DenoisingUNet, sha256, device)


def training_log(path: str | Path = WEIGHTS_PATH.with_name("digits32_training.json")) -> dict:
    """The training curve and settings saved by ``train_prior``."""
    return read_training_log(path)


def load_photo_denoiser(path: str | Path = PHOTO_WEIGHTS_PATH, sha256: str | None = None,
                        device: torch.device | str | None = None) -> DenoisingUNet:
    """The natural-image prior (``(B, 3, H, W)`` on ``[-1, 1]``), checked and loaded by :func:`load_verified`."""
    return load_verified(path, DenoisingUNet, sha256, device, retrain=_RETRAIN_PHOTOS)


def photo_training_log(path: str | Path = PHOTO_WEIGHTS_PATH.with_name("photos_training.json")) -> dict:
    """The photo prior's training curve and settings saved by ``train_prior --data photos``."""
    return read_training_log(path, retrain=_RETRAIN_PHOTOS)


def load_kernel_denoiser(*args, **kwargs):
    """Chapter 5's kernel prior: :func:`course_lib.blind.kernel_prior.load_kernel_denoiser`.

    Kept here beside the digit prior, so that every shipped prior loads from one module (same
    SHA-256 check, ``weights_only=True``); imported on call, since ``course_lib.blind`` builds on
    ``course_lib.diffusion``.
    """
    from ..blind.kernel_prior import load_kernel_denoiser as load

    return load(*args, **kwargs)
