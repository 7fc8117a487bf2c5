"""The natural-image prior: its photographs, their split, its crops, its weights and its loader."""

import pickle

import pytest
import torch

from course_lib.diffusion import photos
from course_lib.diffusion.photos import SPLITS, heldout_crops, load_photo, photo_crops, photo_images
from course_lib.diffusion.pretrained import (PHOTO_WEIGHTS_PATH, expected_sha256, load_photo_denoiser,
                                             photo_training_log)
from course_lib.models import DenoisingUNet
from course_lib.train_prior import TrainSettings, file_sha256


# ---------------------------------------------------------------- the data
def test_splits_are_disjoint_and_the_test_photographs_are_held_out():
    train, val, test = (set(SPLITS[k]) for k in ("train", "val", "test"))
    assert not (train & val) and not (train & test) and not (val & test)
    assert test == {"chelsea", "coffee"} and len(train) >= 5
    assert set(photo_images("test")) == test


def test_training_crops_come_from_the_training_photographs_only(monkeypatch):
    seen = []
    real = photos.load_photo

    def spy(name, short=photos.BASE_SHORT):
        seen.append(name)
        return real(name, short)

    photos._pyramid.cache_clear()
    monkeypatch.setattr(photos, "load_photo", spy)
    photo_crops(8, size=16, generator=torch.Generator().manual_seed(0), shorts=(64, 96))
    photos._pyramid.cache_clear()
    assert seen and set(seen) == set(SPLITS["train"])
    assert not set(seen) & set(SPLITS["test"] + SPLITS["val"])


def test_photographs_load_from_the_installed_packages():
    for name in photos.PHOTOS:
        x = load_photo(name)
        assert x.shape[0] == 3 and min(x.shape[1:]) == photos.BASE_SHORT
        assert x.dtype == torch.float32 and float(x.min()) >= -1 and float(x.max()) <= 1
        assert float(x.std()) > 0.05  # a photograph, not a blank image


def test_crops_are_deterministic_and_on_the_diffusion_scale():
    a = photo_crops(6, size=32, generator=torch.Generator().manual_seed(3))
    b = photo_crops(6, size=32, generator=torch.Generator().manual_seed(3))
    c = photo_crops(6, size=32, generator=torch.Generator().manual_seed(4))
    assert a.shape == (6, 3, 32, 32) and torch.equal(a, b) and not torch.equal(a, c)
    assert float(a.min()) >= -1 and float(a.max()) <= 1
    t1, t2 = heldout_crops(64, per_photo=2), heldout_crops(64, per_photo=2)
    assert t1.shape == (4, 3, 64, 64) and torch.equal(t1, t2)
    assert torch.equal(t1[0], photo_images("test")["chelsea"][:, :64, :64])  # the first corner is the top left


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="split"):
        photo_images("training")
    with pytest.raises(ValueError, match="size"):
        photo_crops(2, size=30)
    with pytest.raises(ValueError, match="size"):
        heldout_crops(size=66)
    with pytest.raises(ValueError, match="name"):
        load_photo("lena")
    with pytest.raises(ValueError, match="n must"):
        photo_crops(0)
    with pytest.raises(ValueError, match="data"):
        TrainSettings.for_data("faces")
    with pytest.raises(ValueError, match="crop"):
        TrainSettings.for_data("photos", crop=30)


# ---------------------------------------------------------------- the network and its weights
def test_network_runs_on_colour_64x64_and_rejects_bad_input():
    net = DenoisingUNet(channels=3, width=4)
    assert net(torch.randn(2, 3, 64, 64), 0.5).shape == (2, 3, 64, 64)
    with pytest.raises(ValueError, match="channels"):
        net(torch.randn(2, 1, 64, 64), 0.5)
    with pytest.raises(ValueError, match="divisible by 4"):
        net(torch.randn(2, 3, 62, 64), 0.5)


def test_committed_photo_prior_loads_and_matches_its_log():
    D = load_photo_denoiser()
    assert D.config["channels"] == 3 and not D.training
    assert all(not p.requires_grad for p in D.parameters())
    x = heldout_crops(64, per_photo=1)  # (2, 3, 64, 64)
    assert D(x, 0.5).shape == x.shape
    log = photo_training_log()
    assert log["sha256"] == expected_sha256(PHOTO_WEIGHTS_PATH) == file_sha256(PHOTO_WEIGHTS_PATH)
    assert log["settings"]["data"] == "photos" and PHOTO_WEIGHTS_PATH.stat().st_size < 10e6
    mse = log["heldout_mse"][-1]  # denoising beats doing nothing at every noise level
    assert all(v < float(s) ** 2 for s, v in mse.items())


def test_corrupted_photo_weights_raise_naming_the_file(weights_copy):
    bad = weights_copy(PHOTO_WEIGHTS_PATH, corrupt=True)
    with pytest.raises(ValueError, match=f"{bad.name}.*corrupted"):
        load_photo_denoiser(bad)


def test_photo_weights_load_safely(tmp_path):
    """A file whose hash is right but which holds a pickled object is refused by weights_only=True."""

    class Evil:
        def __reduce__(self):
            return (print, ("code ran",))

    bad = tmp_path / "evil.pt"
    bad.write_bytes(pickle.dumps({"config": {}, "state_dict": Evil()}, protocol=2))
    with pytest.raises(pickle.UnpicklingError):
        load_photo_denoiser(bad, sha256=file_sha256(bad))
