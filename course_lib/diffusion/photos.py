r"""Colour photographs that ship with scikit-image and scikit-learn: the natural-image prior's data.

Every photograph is read from the files installed with the packages (``skimage/data`` and
``sklearn/datasets/images``), never downloaded. It is mapped from 8-bit RGB to the diffusion scale

.. math::

    x = 2\,\frac{u}{255} - 1 \in [-1, 1]^{3 \times H \times W},

and resized (anti-aliased, bilinear) so that its *shorter* side has ``short`` pixels; the
reference resolution is ``short=128`` (:data:`BASE_SHORT`), at which a 64x64 crop shows an object,
not a patch of texture. The split is by photograph, fixed and checked by name:

* ``"train"`` -- astronaut, rocket, hubble_deep_field, immunohistochemistry, retina,
  motorcycle (the left view of the stereo pair), china;
* ``"val"`` -- flower: for tuning the baselines' and DPS's parameters;
* ``"test"`` -- chelsea (the cat) and coffee: held out entirely, used only to report results.

Training crops are drawn by :func:`photo_crops` from a pyramid of each training photograph at
shorter sides :data:`TRAIN_SHORTS` (the "rescaling" augmentation), with a random horizontal flip and
a random rotation by a multiple of 90 degrees. Every draw comes from the ``torch.Generator`` it is
given, so a seed fixes the crops bit for bit. :func:`heldout_crops` gives the fixed evaluation crops:
``n`` crops per photograph, their corners spread evenly over the image at ``short=128``.

Example
-------
>>> import torch
>>> sorted(photo_images("test"))                      # held-out photographs, by name
['chelsea', 'coffee']
>>> photo_images("val")["flower"].shape                   # (3, H, W), shorter side 128
torch.Size([3, 128, 192])
>>> g = torch.Generator().manual_seed(0)
>>> x = photo_crops(4, size=32, generator=g)     # (B, 3, 32, 32) on [-1, 1]
>>> x.shape, bool(x.min() >= -1) and bool(x.max() <= 1)
(torch.Size([4, 3, 32, 32]), True)
>>> heldout_crops(size=64, per_photo=2).shape     # chelsea's 2 crops, then coffee's
torch.Size([4, 3, 64, 64])
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

__all__ = ["PHOTOS", "SPLITS", "BASE_SHORT", "TRAIN_SHORTS", "load_photo", "photo_images", "photo_crops",
           "heldout_crops"]

# name -> (package, file inside the package's data folder)
PHOTOS = {
    "astronaut": ("skimage", "astronaut.png"),
    "rocket": ("skimage", "rocket.jpg"),
    "hubble_deep_field": ("skimage", "hubble_deep_field.jpg"),
    "immunohistochemistry": ("skimage", "ihc.png"),
    "retina": ("skimage", "retina.jpg"),
    "motorcycle": ("skimage", "motorcycle_left.png"),
    "china": ("sklearn", "china.jpg"),
    "flower": ("sklearn", "flower.jpg"),
    "chelsea": ("skimage", "chelsea.png"),
    "coffee": ("skimage", "coffee.png"),
}
SPLITS = {
    "train": ("astronaut", "rocket", "hubble_deep_field", "immunohistochemistry", "retina", "motorcycle", "china"),
    "val": ("flower",),
    "test": ("chelsea", "coffee"),
}
BASE_SHORT = 128  # the evaluation resolution: shorter side in pixels
TRAIN_SHORTS = (96, 128, 192, 256)  # the training pyramid (every photograph's shorter side is >= 300)


def _data_dir(package: str) -> Path:
    if package == "skimage":
        import skimage

        return Path(skimage.__file__).parent / "data"
    import sklearn

    return Path(sklearn.__file__).parent / "datasets" / "images"


@lru_cache(maxsize=None)
def _read(name: str) -> np.ndarray:
    """The photograph ``name`` as uint8 ``(H, W, 3)``, read from the installed package (no download)."""
    from skimage.io import imread

    if name not in PHOTOS:
        raise ValueError(f"name must be one of {sorted(PHOTOS)}, got {name!r}")
    package, file = PHOTOS[name]
    path = _data_dir(package) / file
    if not path.is_file():
        raise FileNotFoundError(f"photograph {name!r} should ship with {package} as {path}, which is missing")
    im = imread(path)
    return np.ascontiguousarray(im[..., :3])


def load_photo(name: str, short: int | None = BASE_SHORT) -> torch.Tensor:
    """Photograph ``name`` on ``[-1, 1]``, shape ``(3, H, W)``, shorter side ``short`` (``None``: as stored)."""
    x = torch.from_numpy(_read(name)).permute(2, 0, 1).float() / 255.0  # (3, H, W) in [0, 1]
    if short is not None:
        if not isinstance(short, int) or isinstance(short, bool) or short < 4:
            raise ValueError(f"short must be an int >= 4 or None, got {short!r}")
        h, w = x.shape[-2:]
        f = short / min(h, w)
        size = (short, round(w * f)) if h <= w else (round(h * f), short)
        x = F.interpolate(x[None], size=size, mode="bilinear", antialias=True, align_corners=False)[0]
    return (2.0 * x - 1.0).clamp(-1.0, 1.0)


def _check_split(split: str) -> tuple[str, ...]:
    if split not in SPLITS:
        raise ValueError(f"split must be one of {sorted(SPLITS)}, got {split!r}")
    return SPLITS[split]


def photo_images(split: str = "train", short: int | None = BASE_SHORT) -> dict[str, torch.Tensor]:
    """The photographs of ``split`` by name, each ``(3, H, W)`` on ``[-1, 1]`` (see :func:`load_photo`)."""
    return {name: load_photo(name, short) for name in _check_split(split)}


@lru_cache(maxsize=4)
def _pyramid(split: str, shorts: tuple[int, ...]) -> tuple[torch.Tensor, ...]:
    return tuple(load_photo(name, s) for name in _check_split(split) for s in shorts)


def _check_size(size: int) -> None:
    if not isinstance(size, int) or isinstance(size, bool) or size < 4 or size % 4:
        raise ValueError(f"size must be a positive int divisible by 4 (the U-Net halves twice), got {size!r}")


def photo_crops(n: int, size: int = 32, generator: torch.Generator | None = None, split: str = "train",
                shorts: tuple[int, ...] = TRAIN_SHORTS, augment: bool = True) -> torch.Tensor:
    """``n`` random ``size`` x ``size`` crops of the photographs of ``split``, ``(n, 3, size, size)``.

    Each crop picks a photograph and a scale (shorter side in ``shorts``) uniformly, then a corner
    uniformly; with ``augment`` it is flipped left-right with probability 1/2 and rotated by
    ``k * 90`` degrees, ``k`` uniform in 0..3. All draws come from ``generator``, in this order.
    """
    _check_size(size)
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive int, got {n!r}")
    if min(shorts) < size:
        raise ValueError(f"shorts must all be >= size={size}, got {shorts}")
    pyr = _pyramid(split, tuple(shorts))
    which = torch.randint(0, len(pyr), (n,), generator=generator)
    u = torch.rand(n, 2, generator=generator)  # crop corner, as a fraction of the free range
    flip = torch.randint(0, 2, (n,), generator=generator)
    rot = torch.randint(0, 4, (n,), generator=generator)
    out = []
    for i in range(n):
        im = pyr[int(which[i])]  # (3, H, W)
        h, w = im.shape[-2:]
        top, left = int(u[i, 0] * (h - size + 1)), int(u[i, 1] * (w - size + 1))
        c = im[:, top:top + size, left:left + size]
        if augment:
            c = c.flip(-1) if flip[i] else c
            c = torch.rot90(c, int(rot[i]), dims=(-2, -1))
        out.append(c)
    return torch.stack(out)  # (n, 3, size, size)


def heldout_crops(size: int = 64, per_photo: int = 4, split: str = "test", short: int = BASE_SHORT) -> torch.Tensor:
    """Fixed evaluation crops: ``per_photo`` per photograph of ``split``, ``(len * per_photo, 3, size, size)``.

    The corners lie evenly on the diagonal of the free range (first at the top left, last at the
    bottom right), in the order of ``SPLITS[split]``; no randomness, no augmentation.
    """
    _check_size(size)
    out = []
    for im in photo_images(split, short).values():
        h, w = im.shape[-2:]
        for t in np.linspace(0.0, 1.0, per_photo) if per_photo > 1 else [0.5]:
            top, left = round(t * (h - size)), round(t * (w - size))
            out.append(im[:, top:top + size, left:left + size])
    return torch.stack(out)
