"""Shared test set-up."""

import shutil

import pytest
import torch


@pytest.fixture(autouse=True, scope="session")
def one_torch_thread():
    """Every test works on small tensors: extra threads only add hand-off latency (and stall on a busy CPU)."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture
def weights_copy(tmp_path):
    """``copy(src, corrupt=False)``: a weights file and its ``.sha256`` copied into ``tmp_path``.

    With ``corrupt=True`` one byte in the middle of the copy is flipped, so its hash no longer matches.
    """
    def copy(src, corrupt=False):
        dst = tmp_path / src.name
        shutil.copy(src, dst)
        shutil.copy(src.with_suffix(".sha256"), dst.with_suffix(".sha256"))
        if corrupt:
            raw = bytearray(dst.read_bytes())
            raw[len(raw) // 2] ^= 0xFF
            dst.write_bytes(bytes(raw))
        return dst

    return copy
