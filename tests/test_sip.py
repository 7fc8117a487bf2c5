"""Tests for course_lib.sip (SIP / GD / supervised training) and course_lib.models.UNet."""

import pytest
import torch

from course_lib.heat import diffuse, heat_sources, inverse_diffuse, tikhonov_inverse
from course_lib.models import UNet
from course_lib.sip import gd_loss, heat_errors, predict, pseudo_labels, sip_loss, train_heat_inverter


def _batch(n=3, size=32, seed=0):
    x = heat_sources(n, size, torch.Generator().manual_seed(seed))  # (n, 1, size, size)
    return x, diffuse(x, 8.0)


def test_sip_loss_gradient_is_minus_the_physics_update():
    x_true, y = _batch()
    x_hat = (x_true + 0.1 * torch.randn_like(x_true)).requires_grad_()
    loss, _ = sip_loss(x_hat, y, 8.0)
    loss.sum().backward()
    dy = y - diffuse(x_hat.detach(), 8.0)
    dx = inverse_diffuse(dy, 8.0, dy.abs() * 1e-6)
    torch.testing.assert_close(x_hat.grad, -dx)


def test_sip_loss_with_a_fixed_uncertainty():
    x_true, y = _batch()
    x_hat = (x_true + 0.1 * torch.randn_like(x_true)).requires_grad_()
    loss, _ = sip_loss(x_hat, y, 8.0, uncertainty=1e-14)
    loss.sum().backward()
    dy = y - diffuse(x_hat.detach(), 8.0)
    torch.testing.assert_close(x_hat.grad, -inverse_diffuse(dy, 8.0, torch.full_like(dy, 1e-14)))


def test_gd_loss_gradient_is_the_diffused_residual():
    x_true, y = _batch()
    x_hat = (x_true + 0.1 * torch.randn_like(x_true)).requires_grad_()
    loss, y_hat = gd_loss(x_hat, y, 8.0)
    loss.sum().backward()
    # diffusion is self-adjoint, so the gradient is the residual diffused once more
    torch.testing.assert_close(x_hat.grad, diffuse(y_hat.detach() - y, 8.0))


def test_sip_update_is_invariant_to_scaling_the_physics():
    # P -> cP: GD's gradient scales by c^2; SIP's update (the damped inverse of cP applied to the
    # residual, uncertainty 1e-6 |r|) does not change: (cP)^-1 (c r) = P^-1 r mode by mode.
    x_true, y = _batch()
    g = torch.Generator().manual_seed(3)
    x_hat = x_true + 0.1 * torch.randn(x_true.shape, generator=g, dtype=x_true.dtype)
    r = y - diffuse(x_hat, 8.0)
    sip = inverse_diffuse(r, 8.0, r.abs() * 1e-6)
    gd = diffuse(diffuse(x_hat, 8.0) - y, 8.0)
    for c, tol in ((0.25, 0.0), (4.0, 0.0), (0.1, 1e-8), (10.0, 1e-8)):  # powers of 2 are exact
        r_c = c * r
        sip_c = inverse_diffuse(r_c / c, 8.0, r_c.abs() * 1e-6 / c)
        assert float((sip_c - sip).norm() / sip.norm()) <= tol
        gd_c = c * diffuse(c * diffuse(x_hat, 8.0) - c * y, 8.0)
        torch.testing.assert_close(gd_c, c**2 * gd)
        assert float((gd_c - gd).norm() / gd.norm()) > 0.5  # the gradient does change


def test_predict_sets_the_mean_and_keeps_dtype():
    torch.manual_seed(0)
    net = UNet(1, 1)
    _, y = _batch()
    x_hat = predict(net, y)
    assert x_hat.dtype == torch.float64 and x_hat.shape == y.shape
    torch.testing.assert_close(x_hat.mean(dim=(-2, -1)), y.mean(dim=(-2, -1)))


def test_heat_errors_are_per_example_sums():
    x_true, _ = _batch()
    errs = heat_errors(x_true + 0.5, x_true, 8.0)
    torch.testing.assert_close(errs["x_l1"], torch.full((3,), 0.5 * 32 * 32, dtype=torch.float64))
    torch.testing.assert_close(errs["x_l2"], torch.full((3,), 0.5 * 0.25 * 32 * 32, dtype=torch.float64))


def test_same_seed_same_start_and_sip_beats_gd():
    runs = {}
    for method in ("sip", "gd"):
        torch.manual_seed(0)  # a small U-Net keeps the test fast; same weights for both
        net = UNet(1, 1, levels=3, filters=8)
        runs[method] = train_heat_inverter(
            method, steps=30, batch_size=8, seed=0, lr=3e-3, size=32, net=net, progress=False
        )
    # same initial weights and same first batch: identical errors before the first update
    assert runs["sip"]["x_l1"][0] == runs["gd"]["x_l1"][0]
    assert runs["sip"]["y_l2"][0] == runs["gd"]["y_l2"][0]
    for h in runs.values():
        assert all(len(h[k]) == 30 for k in ("x_l1", "x_l2", "y_l2", "seconds"))
        assert all(b >= a for a, b in zip(h["seconds"], h["seconds"][1:]))
        assert isinstance(h["model"], UNet) and not h["model"].training
        assert set(h) == {"x_l1", "x_l2", "y_l2", "seconds", "model"}
    late = {m: sum(h["x_l1"][-10:]) / 10 for m, h in runs.items()}
    assert late["sip"] < late["gd"], late


def test_snapshots_record_without_changing_the_training():
    y_snap = diffuse(heat_sources(2, 32, torch.Generator().manual_seed(7)), 8.0)  # (2, 1, 32, 32)
    kwargs = dict(steps=7, batch_size=4, seed=1, size=32, progress=False)
    plain = train_heat_inverter("sip", **kwargs)
    snap = train_heat_inverter("sip", snapshots=y_snap, snapshot_every=3, **kwargs)
    assert snap["x_l1"] == plain["x_l1"]
    assert [s for s, _ in snap["snapshots"]] == [0, 3, 6, 7]
    final = snap["snapshots"][-1][1]
    assert final.shape == y_snap.shape and final.dtype == torch.float64
    with torch.no_grad():
        torch.testing.assert_close(final, predict(snap["model"], y_snap))
    assert not torch.equal(snap["snapshots"][0][1], final)


def test_batchnorm_statistics_are_recomputed_for_the_final_weights():
    torch.manual_seed(0)
    net = UNet(1, 1, levels=2, filters=4)
    h = train_heat_inverter("gd", steps=3, batch_size=4, size=32, net=net, progress=False)
    bn = [m for m in h["model"].modules() if isinstance(m, torch.nn.BatchNorm2d)][0]
    assert bn.momentum == 0.1 and int(bn.num_batches_tracked) == 4  # four fresh batches, cumulative


def test_default_network_is_seeded():
    a = train_heat_inverter("supervised", steps=1, batch_size=2, seed=5, size=32, progress=False)
    b = train_heat_inverter("gd", steps=1, batch_size=2, seed=5, size=32, progress=False)
    assert a["x_l1"][0] == b["x_l1"][0]  # same initial weights and data before any update


def test_unet_shapes_and_size():
    torch.manual_seed(0)
    net = UNet(1, 1)
    assert sum(p.numel() for p in net.parameters()) == 37_697  # PhiFlow's u_net(1, 1) has 37,697
    assert net(torch.rand(2, 1, 32, 32)).shape == (2, 1, 32, 32)
    two = UNet(2, 3, levels=3, filters=(4, 8, 16), periodic=True)
    assert two(torch.rand(1, 2, 16, 12)).shape == (1, 3, 16, 12)


def test_unet_periodic_padding_is_shift_equivariant():
    # one level (no pooling or upsampling): circular padding makes the net commute with rolls
    torch.manual_seed(0)
    net = UNet(1, 1, levels=1, filters=4, periodic=True).eval()
    x = torch.rand(1, 1, 12, 10)
    shifted = torch.roll(x, shifts=(3, 7), dims=(-2, -1))
    torch.testing.assert_close(net(shifted), torch.roll(net(x), shifts=(3, 7), dims=(-2, -1)))


def test_an_explicit_cpu_device_changes_nothing():
    # Placement and predict()'s output device are checked per device in test_devices.py.
    h = train_heat_inverter("sip", steps=2, batch_size=2, size=32, device="cpu", progress=False)
    reference = train_heat_inverter("sip", steps=2, batch_size=2, size=32, progress=False)
    assert h["x_l1"] == reference["x_l1"]


def test_bad_inputs_name_the_argument():
    with pytest.raises(ValueError, match="method"):
        train_heat_inverter("adam", steps=1, batch_size=1)
    with pytest.raises(ValueError, match="steps"):
        train_heat_inverter("sip", steps=0, batch_size=1)
    with pytest.raises(TypeError, match="batch_size"):
        train_heat_inverter("sip", steps=1, batch_size=2.0)
    with pytest.raises(ValueError, match="lr"):
        train_heat_inverter("sip", steps=1, batch_size=1, lr=-1.0)
    with pytest.raises(ValueError, match="amount"):
        train_heat_inverter("sip", steps=1, batch_size=1, amount=0.0)
    with pytest.raises(ValueError, match="sip_uncertainty"):
        train_heat_inverter("sip", steps=1, batch_size=1, sip_uncertainty=-1.0)
    with pytest.raises(ValueError, match="schedule"):
        train_heat_inverter("sip", steps=1, batch_size=1, schedule="step")
    with pytest.raises(ValueError, match="device"):
        train_heat_inverter("sip", steps=1, batch_size=1, device="gpu0")
    with pytest.raises(ValueError, match="filters"):
        UNet(1, 1, levels=3, filters=(4, 8))
    with pytest.raises(ValueError, match="x"):
        UNet(1, 1)(torch.rand(1, 30, 30))
    with pytest.raises(ValueError, match="divisible"):
        UNet(1, 1)(torch.rand(1, 1, 30, 30))
    with pytest.raises(ValueError, match="y"):
        predict(UNet(1, 1), torch.rand(30, 30))
    with pytest.raises(ValueError, match="snapshots"):
        train_heat_inverter("sip", steps=1, batch_size=1, snapshots=torch.rand(32, 32))
    with pytest.raises(ValueError, match="snapshot_every"):
        train_heat_inverter("sip", steps=1, batch_size=1, snapshot_every=0)


def test_sip_loss_takes_another_inverse_and_pseudo_labels_are_one_step_from_the_mean():
    x_true, y = _batch()
    x_hat = (x_true + 0.1 * torch.randn_like(x_true)).requires_grad_()
    inverse = lambda r: tikhonov_inverse(r, 8.0, 1e-10)  # noqa: E731
    loss, _ = sip_loss(x_hat, y, 8.0, inverse=inverse)
    loss.sum().backward()
    torch.testing.assert_close(x_hat.grad, -inverse(y - diffuse(x_hat.detach(), 8.0)))
    m = y.mean(dim=(-2, -1), keepdim=True)
    torch.testing.assert_close(pseudo_labels(y, 8.0, inverse=inverse), m + inverse(y - m))
    torch.testing.assert_close(pseudo_labels(y, 8.0, 1e-14),
                               m + inverse_diffuse(y - m, 8.0, torch.full_like(y, 1e-14)))
    with pytest.raises(TypeError, match="inverse"):
        sip_loss(x_hat, y, 8.0, inverse="tikhonov")


def test_sgd_noise_and_pseudo_labels_train_and_a_diverging_rate_is_reported():
    kwargs = dict(steps=4, batch_size=2, size=32, progress=False)
    clean = train_heat_inverter("pseudo", **kwargs)
    noisy = train_heat_inverter("pseudo", noise=1e-2, sip_uncertainty=1e-2, **kwargs)
    # the same sources with and without noise: the first batch's source error differs only through
    # the prediction from a noisy observation, so it changes, but by far less than the error itself
    assert 0 < abs(clean["x_l1"][0] - noisy["x_l1"][0]) < 0.05 * clean["x_l1"][0]
    sgd = train_heat_inverter("sip", optimizer="sgd", lr=1e-3, **kwargs)
    assert len(sgd["x_l1"]) == 4 and "diverged" not in sgd
    blow = train_heat_inverter("supervised", optimizer="sgd", lr=1e6, **kwargs)
    assert "diverged" in blow and len(blow["x_l1"]) == blow["diverged"] < 4
    with pytest.raises(ValueError, match="optimizer"):
        train_heat_inverter("sip", optimizer="lbfgs", **kwargs)
    with pytest.raises(ValueError, match="noise"):
        train_heat_inverter("sip", noise=-1.0, **kwargs)
    with pytest.raises(TypeError, match="sip_inverse"):
        train_heat_inverter("sip", sip_inverse=1.0, **kwargs)
