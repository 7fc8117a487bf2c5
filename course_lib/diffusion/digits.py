r"""32x32 handwritten digits that ship with scikit-learn: the learned prior's training data.

``sklearn.datasets.load_digits`` holds 1,797 digits of 8x8 pixels with 17 grey levels
(UCI "Optical Recognition of Handwritten Digits", Alpaydin & Kaynak, 1998). We upsample
them (cubic, anti-aliased) to 24x24 and pad to 32x32, so every image is a smooth,
centred digit on a black background, mapped to the diffusion scale :math:`[-1, 1]`
(background :math:`-1`). The split is fixed: the last 197 digits are held out and used
only to *evaluate* reconstructions, never to train the prior.

Example
-------
>>> train = digit_images("train")            # (1600, 1, 32, 32) in [-1, 1]
>>> test = digit_images("test")[:4]          # held-out digits for the experiments
>>> small = digits8("train")      # (1600, 1, 8, 8): the Gaussian prior's data
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch

__all__ = ["digit_images", "digits8", "to_unit", "to_model"]

N_TEST = 197


@lru_cache(maxsize=2)
def _digits32() -> np.ndarray:
    from skimage.transform import resize
    from sklearn.datasets import load_digits

    imgs = load_digits().images / 16.0  # (N, 8, 8) in [0, 1]
    up = np.stack([resize(im, (24, 24), order=3, anti_aliasing=False) for im in imgs])  # (N, 24, 24)
    up = np.clip(up, 0.0, 1.0)
    out = np.zeros((len(imgs), 32, 32))
    out[:, 4:28, 4:28] = up
    return out[:, None]  # (N, 1, 32, 32) in [0, 1]


def digit_images(split: str = "train", dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """The 32x32 digits of ``split`` (``"train"``, ``"test"`` or ``"all"``) on ``[-1, 1]``, shape ``(N, 1, 32, 32)``."""
    if split not in ("train", "test", "all"):
        raise ValueError(f"split must be 'train', 'test' or 'all', got {split!r}")
    x = _digits32()
    x = {"train": x[:-N_TEST], "test": x[-N_TEST:], "all": x}[split]
    return to_model(torch.from_numpy(x.copy()).to(dtype))


def digits8(split: str = "train", dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """The original 8x8 digits of ``split`` on ``[-1, 1]``, shape ``(N, 1, 8, 8)`` (same split as :func:`digit_images`)."""
    from sklearn.datasets import load_digits

    if split not in ("train", "test", "all"):
        raise ValueError(f"split must be 'train', 'test' or 'all', got {split!r}")
    x = torch.from_numpy(load_digits().images / 16.0)[:, None].to(dtype)  # (N, 1, 8, 8) in [0, 1]
    x = {"train": x[:-N_TEST], "test": x[-N_TEST:], "all": x}[split]
    return to_model(x)


def to_model(x: torch.Tensor) -> torch.Tensor:
    """Map an image from ``[0, 1]`` to the diffusion scale ``[-1, 1]``: ``2 x - 1``."""
    return 2.0 * x - 1.0


def to_unit(x: torch.Tensor) -> torch.Tensor:
    """Map from ``[-1, 1]`` back to ``[0, 1]`` (no clipping): ``(x + 1) / 2``."""
    return (x + 1.0) / 2.0
