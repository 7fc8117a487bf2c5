"""The chapters' heavy paths on every device this machine has (the CPU, and CUDA where present).

On a CPU-only machine the ``cuda`` cases are skipped; the GPU workflow job runs them. Each case
also checks that results come back where the caller's tensors live, which is what lets a chapter
keep its data on the CPU while a network runs on ``COURSE_DEVICE``.
"""

import pytest
import torch

from course_lib.diffusion import digit_images, dps_sample, load_digit_denoiser, measure
from course_lib.heat import diffuse, heat_sources
from course_lib.operators import Inpainting
from course_lib.sip import predict, train_heat_inverter

DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device"))]


@pytest.mark.parametrize("device", DEVICES)
def test_heat_inverter_trains_on_the_device(device):
    h = train_heat_inverter("sip", steps=3, batch_size=4, size=32, device=device, progress=False)
    assert next(h["model"].parameters()).device.type == device
    assert all(torch.isfinite(torch.tensor(h["x_l1"])))
    y = diffuse(heat_sources(2, 32, torch.Generator().manual_seed(1)), 8.0)  # (2, 1, 32, 32) on the CPU
    x_hat = predict(h["model"], y)
    assert x_hat.device.type == "cpu" and x_hat.dtype == torch.float64
    torch.testing.assert_close(x_hat.mean(dim=(-2, -1)), y.mean(dim=(-2, -1)))


@pytest.mark.parametrize("device", DEVICES)
def test_denoiser_on_the_device_guides_a_cpu_sampler(device):
    D = load_digit_denoiser(device=device)
    assert next(D.parameters()).device.type == device
    x = digit_images("test")[:2]  # (2, 1, 32, 32) on the CPU
    mask = (torch.rand(1, 1, 32, 32, generator=torch.Generator().manual_seed(0)) < 0.3).float()
    obs = measure(Inpainting(mask), x, 0.1, generator=torch.Generator().manual_seed(1))
    sample = dps_sample(D, obs.operator, obs, steps=5, zeta=1.0, x_shape=(2, 1, 32, 32),
                        generator=torch.Generator().manual_seed(2), progress=False)
    assert sample.device.type == "cpu" and sample.shape == x.shape and torch.isfinite(sample).all()
    if device != "cpu":  # the same network on the CPU gives the same denoised image (TF32 convolutions on GPUs)
        cpu = load_digit_denoiser()
        torch.testing.assert_close(D(x, 0.5), cpu(x, 0.5), rtol=5e-3, atol=5e-3)
