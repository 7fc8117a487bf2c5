"""Tests for course_lib.config: the one module that reads the environment."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from course_lib import config
from course_lib.config import describe, device, fast, pick, seed_everything


@pytest.mark.parametrize("value", ["1", "true", "YES", " on "])
def test_pick_fast(monkeypatch, value):
    monkeypatch.setenv("COURSE_FAST", value)
    assert fast() is True
    assert pick(full=1000, fast=10) == 10
    assert "mode: fast" in describe()


@pytest.mark.parametrize("value", ["0", "false", "off", ""])
def test_pick_full(monkeypatch, value):
    monkeypatch.setenv("COURSE_FAST", value)
    assert pick(full=1000, fast=10) == 1000


def test_pick_full_when_unset(monkeypatch):
    monkeypatch.delenv("COURSE_FAST", raising=False)
    assert fast() is False
    assert pick(full=(256, 256), fast=(64, 64)) == (256, 256)
    assert "mode: full" in describe()


@pytest.mark.parametrize("value", ["2", "fast", "maybe"])
def test_bad_course_fast(monkeypatch, value):
    monkeypatch.setenv("COURSE_FAST", value)
    with pytest.raises(ValueError, match="COURSE_FAST"):
        pick(full=1, fast=0)


def test_device_cpu(monkeypatch):
    monkeypatch.setenv("COURSE_DEVICE", "cpu")
    assert device() == torch.device("cpu")
    assert "device: cpu" in describe()


def test_device_default_without_cuda(monkeypatch):
    monkeypatch.delenv("COURSE_DEVICE", raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert device() == torch.device("cpu")


@pytest.mark.parametrize("value", ["gpu", "cuda:abc", "banana"])
def test_bad_course_device(monkeypatch, value):
    monkeypatch.setenv("COURSE_DEVICE", value)
    with pytest.raises(ValueError, match="COURSE_DEVICE"):
        device()


@pytest.mark.parametrize("value", ["cuda", "cuda:0"])
def test_cuda_requested_but_unavailable(monkeypatch, value):
    monkeypatch.setenv("COURSE_DEVICE", value)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ValueError, match="COURSE_DEVICE.*CUDA"):
        device()


@pytest.fixture
def restore_cudnn(monkeypatch):
    # seed_everything sets these globally; let the test leave them as it found them
    monkeypatch.setattr(torch.backends.cudnn, "deterministic", torch.backends.cudnn.deterministic)
    monkeypatch.setattr(torch.backends.cudnn, "benchmark", torch.backends.cudnn.benchmark)


def _draws(gen: torch.Generator) -> tuple:
    return random.random(), float(np.random.rand()), float(torch.rand(())), float(torch.rand((), generator=gen))


def test_seed_everything_is_reproducible(restore_cudnn):
    first = _draws(seed_everything(42))
    second = _draws(seed_everything(42))
    assert first == second
    assert _draws(seed_everything(43)) != first
    assert torch.backends.cudnn.deterministic is True and torch.backends.cudnn.benchmark is False


def test_seed_everything_returns_a_seeded_generator(restore_cudnn):
    g = seed_everything(5)
    assert isinstance(g, torch.Generator) and g.initial_seed() == 5


@pytest.mark.parametrize("seed", [1.5, "0", None, True])
def test_seed_everything_rejects_non_int(seed, restore_cudnn):
    with pytest.raises(TypeError, match="seed"):
        seed_everything(seed)


def test_large_seed_is_accepted(restore_cudnn):
    seed_everything(2**40)  # numpy only takes 32 bits: reduced modulo 2**32


def test_public_names():
    assert set(config.__all__) >= {"pick", "device", "seed_everything", "describe", "fast"}


def test_threads_is_one_in_fast_mode_and_the_default_otherwise(monkeypatch):
    from course_lib import config

    monkeypatch.setenv("COURSE_FAST", "1")
    assert config.threads() == 1
    monkeypatch.setenv("COURSE_FAST", "0")
    assert config.threads() == config._DEFAULT_THREADS >= 1


def test_seed_offset_default_and_shift(monkeypatch):
    monkeypatch.delenv("COURSE_SEED", raising=False)
    assert config.seed_offset() == 0 and config.seed(7) == 7
    monkeypatch.setenv("COURSE_SEED", "2")
    assert config.seed_offset() == 2
    assert config.seed(7) == 7 + 2 * config.SEED_STRIDE
    assert "COURSE_SEED 2" in describe()
    a = torch.rand(3, generator=config.seeded(7))
    b = torch.rand(3, generator=torch.Generator().manual_seed(7 + 2 * config.SEED_STRIDE))
    assert torch.equal(a, b)
    monkeypatch.setenv("COURSE_SEED", "0")
    assert not torch.equal(torch.rand(3, generator=config.seeded(7)), a)


@pytest.mark.parametrize("value", ["-1", "1.5", "one"])
def test_bad_course_seed(monkeypatch, value):
    monkeypatch.setenv("COURSE_SEED", value)
    with pytest.raises(ValueError, match="COURSE_SEED"):
        config.seed(0)


@pytest.mark.parametrize("base", [-1, config.SEED_STRIDE, 1.0, True])
def test_bad_seed_base(monkeypatch, base):
    monkeypatch.delenv("COURSE_SEED", raising=False)
    with pytest.raises(ValueError, match="base"):
        config.seed(base)


@pytest.mark.parametrize("value, expected", [("1", True), ("on", True), ("0", False), ("", False)])
def test_grading_from_course_grading(monkeypatch, value, expected):
    monkeypatch.setenv("COURSE_GRADING", value)
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")  # COURSE_GRADING wins when set
    assert config.grading() is expected


@pytest.mark.parametrize("value, expected", [("autograde", True), ("validate", False), (None, False)])
def test_grading_follows_nbgrader_when_unset(monkeypatch, value, expected):
    monkeypatch.delenv("COURSE_GRADING", raising=False)
    if value is None:
        monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    else:
        monkeypatch.setenv("NBGRADER_EXECUTION", value)
    assert config.grading() is expected


def test_bad_course_grading(monkeypatch):
    monkeypatch.setenv("COURSE_GRADING", "sometimes")
    with pytest.raises(ValueError, match="COURSE_GRADING"):
        config.grading()
