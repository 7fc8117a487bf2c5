"""The chapters' heavy paths on every device this machine has (the CPU, and CUDA where present).

On a CPU-only machine the ``cuda`` cases are skipped; the GPU workflow job runs them. Each case
also checks where results come back: chapter 4's ``predict`` returns to the caller's device, while
chapter 3's network follows the PyTorch convention that the caller places inputs on its device.
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
    y = y.to(device)  # the caller places the input on the network's device
    x_hat = predict(h["model"], y)
    assert x_hat.device.type == device and x_hat.dtype == torch.float64
    torch.testing.assert_close(x_hat.mean(dim=(-2, -1)), y.mean(dim=(-2, -1)))


@pytest.mark.parametrize("device", DEVICES)
def test_dps_runs_where_the_caller_places_its_tensors(device):
    D = load_digit_denoiser(device=device)
    assert next(D.parameters()).device.type == device
    x = digit_images("test")[:2].to(device)  # (2, 1, 32, 32): the caller places inputs on the network's device
    mask = (torch.rand(1, 1, 32, 32, generator=torch.Generator().manual_seed(0)) < 0.3).float().to(device)
    obs = measure(Inpainting(mask), x, 0.1, generator=torch.Generator().manual_seed(1))
    sample = dps_sample(D, obs.operator, obs, steps=5, zeta=1.0, x_shape=(2, 1, 32, 32),
                        generator=torch.Generator().manual_seed(2), progress=False)
    assert sample.device.type == device and sample.shape == x.shape and torch.isfinite(sample).all()
    prior = dps_sample(D, None, None, steps=3, zeta=0.0, x_shape=(1, 1, 32, 32), progress=False,
                       generator=torch.Generator(device=device).manual_seed(0))
    assert prior.device.type == device
    if device != "cpu":  # the same network on the CPU gives the same denoised image (TF32 convolutions on GPUs)
        cpu = load_digit_denoiser()
        torch.testing.assert_close(D(x, 0.5).cpu(), cpu(x.cpu(), 0.5), rtol=5e-3, atol=5e-3)
        with pytest.raises(RuntimeError):  # nothing moves tensors behind the caller's back
            D(x.cpu(), 0.5)
