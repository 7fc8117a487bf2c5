"""Run-time configuration: which device, fast or full settings, and seeding.

This is the *only* module that reads the environment. Chapters ask it for values
and never branch on environment variables themselves:

* ``COURSE_FAST=1`` selects small, quick settings (CI, a first read in class);
  unset or ``0`` selects the full settings whose results the text discusses.
* ``COURSE_DEVICE`` overrides the device (``cpu``, ``cuda``, ``cuda:1``, ``mps``);
  by default CUDA is used when available.
* ``COURSE_SEED`` (a non-negative int, default 0) shifts every random draw the chapters make
  -- noise, masks, kernels, initialisations, sample seeds -- except the draws that reproduce an
  original example's exact run, which keep that example's seed. ``COURSE_SEED=1`` reruns the
  book on other draws: a claim that still holds is not the luck of one draw.
* ``COURSE_GRADING=1`` is grading mode, set by the autograder (``make grade``): an
  exercise still left as its placeholder fails its self-check instead of printing
  "not attempted yet" (:func:`grading`).

Example
-------
>>> from course_lib.config import pick, device, seed, seeded, seed_everything
>>> n_iter = pick(full=1000, fast=100)   # 1000, or 100 under COURSE_FAST=1
>>> generator = seed_everything(seed(0))   # also returns a seeded CPU generator
>>> noise_gen = seeded(2)   # a generator for draw 2, shifted by COURSE_SEED
"""

from __future__ import annotations

import os
import random
from typing import TypeVar

import numpy as np
import torch

__all__ = ["fast", "pick", "device", "threads", "seed_offset", "seed", "seeded", "seed_everything", "describe",
           "grading"]

T = TypeVar("T")
_DEFAULT_THREADS = torch.get_num_threads()  # before any chapter changes it

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"", "0", "false", "no", "off"}


def fast() -> bool:
    """``True`` when ``COURSE_FAST`` asks for the quick settings.

    Accepted values (case-insensitive): ``1/true/yes/on`` and ``0/false/no/off``
    or unset. Anything else raises ``ValueError`` rather than guessing.
    """
    raw = os.environ.get("COURSE_FAST", "").strip().lower()
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise ValueError(
        f"COURSE_FAST must be one of 1/true/yes/on or 0/false/no/off, got {raw!r}"
    )


_fast_mode = fast  # `pick` below takes a keyword of the same name


def pick(full: T, fast: T) -> T:  # noqa: A002 - the keyword reads well at call sites
    """Return ``fast`` under ``COURSE_FAST=1`` and ``full`` otherwise.

    Chapters write every size and iteration count through this helper, so one
    switch shrinks the whole book for CI and both values are visible in the text.
    """
    return fast if _fast_mode() else full


def device() -> torch.device:
    """The device the chapters compute on.

    ``COURSE_DEVICE`` wins when set (it must name a device type PyTorch knows
    and that is available here); otherwise CUDA when available, else the CPU.
    """
    raw = os.environ.get("COURSE_DEVICE", "").strip()
    if not raw:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(raw)
    except RuntimeError as err:
        raise ValueError(
            f"COURSE_DEVICE={raw!r} is not a device PyTorch understands "
            "(expected e.g. 'cpu', 'cuda', 'cuda:0' or 'mps')"
        ) from err
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"COURSE_DEVICE={raw!r} asks for CUDA, but torch.cuda.is_available() is False")
    if dev.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError(f"COURSE_DEVICE={raw!r} asks for MPS, which is not available here")
    return dev


SEED_STRIDE = 100_000
"""How far ``COURSE_SEED`` moves a seed: the chapters' own seeds are below it, so the shifted
seeds of two draws never collide (``seed(b) = b + SEED_STRIDE * COURSE_SEED``)."""


def seed_offset() -> int:
    """``COURSE_SEED`` as an int (0 when unset); anything but a non-negative int raises ``ValueError``."""
    raw = os.environ.get("COURSE_SEED", "").strip()
    if not raw:
        return 0
    if not raw.isdigit():
        raise ValueError(f"COURSE_SEED must be a non-negative integer, got {raw!r}")
    return int(raw)


def seed(base: int = 0) -> int:
    """The seed of a chapter's draw number ``base``, shifted by ``COURSE_SEED``.

    ``seed(base) = base + SEED_STRIDE * COURSE_SEED``: ``base`` itself by default, so the book's
    printed numbers come from ``COURSE_SEED=0``. A draw that reproduces an original example's run
    uses that example's seed directly instead, so that the reproduction stays exact.
    """
    if not isinstance(base, int) or isinstance(base, bool) or not 0 <= base < SEED_STRIDE:
        raise ValueError(f"base must be an int in [0, {SEED_STRIDE}), got {base!r}")
    return base + SEED_STRIDE * seed_offset()


def seeded(base: int = 0) -> torch.Generator:
    """A CPU ``torch.Generator`` seeded with :func:`seed` ``(base)``: one chapter draw, movable by ``COURSE_SEED``."""
    return torch.Generator().manual_seed(seed(base))


def seed_everything(seed: int = 0) -> torch.Generator:
    """Seed Python, NumPy and PyTorch (all devices) and return a CPU generator.

    Also asks cuDNN for deterministic kernels so that the same run prints the
    same figures. The returned ``torch.Generator`` is seeded with ``seed`` too,
    for code that prefers to pass an explicit generator around.
    """
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise TypeError(f"seed must be an int, got {type(seed).__name__}")
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)
    torch.backends.cudnn.deterministic = True
    torch.backends.cudnn.benchmark = False
    return torch.Generator().manual_seed(seed)


def threads() -> int:
    """CPU threads for a chapter whose work comes in large batches (chapter 3's samplers).

    One under ``COURSE_FAST=1``, where CI runs two notebooks side by side; otherwise every core
    PyTorch would use by default (``torch.get_num_threads()`` at import), since a full run has the
    machine to itself. On a 2-core CPU a batch of 18 digit samples runs 1.5x faster on two threads.
    """
    return 1 if fast() else _DEFAULT_THREADS


def describe() -> str:
    """One line for the top of a chapter: mode, device and library versions."""
    mode = "fast" if fast() else "full"
    return (f"mode: {mode} | device: {device()} | torch {torch.__version__} | threads {torch.get_num_threads()}"
            f" | COURSE_SEED {seed_offset()}")


def grading() -> bool:
    """``True`` in grading mode, where a self-check fails on a placeholder instead of printing a hint.

    ``COURSE_GRADING`` decides when it is set (same values as ``COURSE_FAST``; anything else raises
    ``ValueError``). When it is unset, grading mode follows nbgrader: its autograder runs every
    notebook with ``NBGRADER_EXECUTION=autograde``, so an instructor who presses "autograde" in
    nbgrader's formgrader gets the same scores as ``make grade``, and a placeholder scores 0.
    """
    raw = os.environ.get("COURSE_GRADING")
    if raw is None:
        return os.environ.get("NBGRADER_EXECUTION", "") == "autograde"
    raw = raw.strip().lower()
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise ValueError(
        f"COURSE_GRADING must be one of 1/true/yes/on or 0/false/no/off, got {raw!r}"
    )
