"""Tests for course_lib.data: bundled test images, no download."""

from __future__ import annotations

import pytest
import torch

from course_lib.data import image_names, load_image


def test_names():
    names = image_names()
    assert "astronaut" in names and "camera" in names
    assert len(set(names)) == len(names)


@pytest.mark.parametrize("name", image_names())
def test_every_name_loads_in_color_and_grey(name):
    x = load_image(name, size=16)
    g = load_image(name, size=16, color=False)
    assert x.shape == (1, 3, 16, 16) and g.shape == (1, 1, 16, 16)
    for t in (x, g):
        assert t.dtype == torch.float32 and t.device.type == "cpu"
        assert float(t.min()) >= 0.0 and float(t.max()) <= 1.0
        assert float(t.std()) > 0.01  # an image, not a constant


def test_sizes_dtype_and_device():
    x = load_image("astronaut", size=64, dtype=torch.float64, device="cpu")
    assert x.shape == (1, 3, 64, 64) and x.dtype == torch.float64
    assert load_image("astronaut", size=33).shape == (1, 3, 33, 33)  # odd sizes too


def test_grey_image_in_color_repeats_the_channel():
    x = load_image("camera", size=32)
    torch.testing.assert_close(x[:, 0], x[:, 1], rtol=0, atol=0)
    torch.testing.assert_close(x[:, 0:1], load_image("camera", size=32, color=False))


def test_grey_is_a_luminance_of_the_color_image():
    x = load_image("astronaut", size=32, dtype=torch.float64)
    g = load_image("astronaut", size=32, color=False, dtype=torch.float64)
    # ITU-R 601 weights, as skimage.color.rgb2gray
    lum = 0.2125 * x[:, 0] + 0.7154 * x[:, 1] + 0.0721 * x[:, 2]
    torch.testing.assert_close(g[:, 0], lum, rtol=0, atol=1e-6)


def test_deterministic():
    assert torch.equal(load_image("coffee", size=24), load_image("coffee", size=24))


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"name": "lena"}, "name"),
        ({"name": "ASTRONAUT"}, "name"),
        ({"size": 4}, "size"),
        ({"size": 64.0}, "size"),
        ({"size": True}, "size"),
        ({"size": -1}, "size"),
    ],
)
def test_bad_input_names_the_argument(kwargs, match):
    with pytest.raises(ValueError, match=match):
        load_image(**kwargs)
