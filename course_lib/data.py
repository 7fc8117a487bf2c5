"""Images and data sets that ship inside installed packages: nothing is downloaded.

* :func:`load_image` — a named test image from ``skimage.data`` as a ``(1, C, H, W)``
  tensor in ``[0, 1]``, centre-cropped to a square and resized.
* :func:`image_names` — the names :func:`load_image` accepts.

Example
-------
>>> x = load_image("astronaut", size=256)            # (1, 3, 256, 256) in [0, 1]
>>> g = load_image("camera", size=128, color=False)  # (1, 1, 128, 128)
"""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["load_image", "image_names"]

# Test images bundled in the scikit-image wheel (no pooch download needed).
_IMAGES = ("astronaut", "chelsea", "coffee", "rocket", "camera", "immunohistochemistry")


def image_names() -> tuple[str, ...]:
    """Names accepted by :func:`load_image`."""
    return _IMAGES


def _to_square_float(img: np.ndarray) -> np.ndarray:
    """Centre-crop to a square and convert to float64 in [0, 1]; shape (H, W, C)."""
    if img.ndim == 2:
        img = img[..., None]
    img = img[..., :3]  # drop an alpha channel if any
    h, w = img.shape[:2]
    s = min(h, w)
    top, left = (h - s) // 2, (w - s) // 2
    img = img[top : top + s, left : left + s]
    if img.dtype == np.uint8:
        return img.astype(np.float64) / 255.0
    return img.astype(np.float64)


def load_image(
    name: str = "astronaut",
    size: int = 256,
    color: bool = True,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """Load a test image from ``skimage.data`` as a ``(1, C, size, size)`` tensor in [0, 1].

    Parameters
    ----------
    name : one of :func:`image_names`.
    size : side of the square output, in pixels (anti-aliased resize).
    color : ``True`` gives ``C = 3`` (grey images are repeated), ``False`` gives the
        luminance ``C = 1``.
    """
    import skimage.data
    from skimage.color import rgb2gray
    from skimage.transform import resize

    if name not in _IMAGES:
        raise ValueError(f"name must be one of {_IMAGES}, got {name!r}")
    if not isinstance(size, int) or isinstance(size, bool) or size < 8:
        raise ValueError(f"size must be an int >= 8, got {size!r}")
    img = _to_square_float(getattr(skimage.data, name)())  # (S, S, C)
    img = resize(img, (size, size), anti_aliasing=True)
    if color:
        if img.shape[-1] == 1:
            img = np.repeat(img, 3, axis=-1)
    else:
        img = rgb2gray(img) if img.shape[-1] == 3 else img[..., 0]
        img = img[..., None]
    img = np.clip(img, 0.0, 1.0)
    t = torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1)))[None]  # (1, C, H, W)
    return t.to(dtype=dtype, device=device)
