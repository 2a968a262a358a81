import importlib
import math

import chainer
import numpy
import pytest
from chainer import gradient_check

from gqn.kernels.conv_lstm_cell import conv_lstm_cell
from gqn.kernels.gaussian_kl import gaussian_kl
from gqn.kernels.gaussian_nll import gaussian_nll


def _sigmoid(x):
    return 1 / (1 + numpy.exp(-x))


def _rand(rng, *shape):
    return rng.uniform(-1.5, 1.5, shape)


def test_conv_lstm_cell_matches_the_lstm_equations(threads):
    rng = numpy.random.RandomState(0)
    c_prev, a = _rand(rng, 2, 3, 4, 5), _rand(rng, 2, 12, 4, 5)
    c, h = conv_lstm_cell(c_prev, a)
    i, f, o, g = a[:, :3], a[:, 3:6], a[:, 6:9], a[:, 9:]
    c_expected = _sigmoid(f) * c_prev + _sigmoid(i) * numpy.tanh(g)
    numpy.testing.assert_allclose(c.array, c_expected, rtol=1e-12)
    numpy.testing.assert_allclose(h.array, _sigmoid(o) * numpy.tanh(c_expected), rtol=1e-12)


def test_conv_lstm_cell_matches_chainers_lstm():
    # F.lstm interleaves the gates as (a, i, f, o) per unit; ours are blocks [i, f, o, g].
    rng = numpy.random.RandomState(1)
    c_prev, a = _rand(rng, 2, 3, 4, 4).astype('f'), _rand(rng, 2, 12, 4, 4).astype('f')
    i, f, o, g = numpy.split(a, 4, axis=1)
    interleaved = numpy.stack([g, i, f, o], axis=2).reshape(2, 12, 4, 4)
    c_ref, h_ref = chainer.functions.lstm(c_prev, interleaved)
    c, h = conv_lstm_cell(c_prev, a)
    numpy.testing.assert_allclose(c.array, c_ref.array, rtol=1e-5, atol=1e-6)
    numpy.testing.assert_allclose(h.array, h_ref.array, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize('grads', ['both', 'c_only', 'h_only'])
def test_conv_lstm_cell_gradient(grads, threads):
    rng = numpy.random.RandomState(2)
    c_prev, a = _rand(rng, 2, 3, 4, 5), _rand(rng, 2, 12, 4, 5)
    gc, gh = _rand(rng, 2, 3, 4, 5), _rand(rng, 2, 3, 4, 5)
    if grads == 'both':
        gradient_check.check_backward(conv_lstm_cell, (c_prev, a), (gc, gh), eps=1e-6,
                                      atol=1e-7, rtol=1e-6)
    else:
        k = 0 if grads == 'c_only' else 1
        gradient_check.check_backward(lambda c, a: conv_lstm_cell(c, a)[k], (c_prev, a),
                                      (gc, gh)[k], eps=1e-6, atol=1e-7, rtol=1e-6)


def test_gaussian_nll_closed_form_and_gradient():
    rng = numpy.random.RandomState(3)
    x, mean = rng.uniform(0, 1, (3, 4)), rng.uniform(-0.5, 1.5, (3, 4))
    sigma = 0.7
    y = gaussian_nll(x, mean, sigma)
    expected = 0.5 * numpy.log(2 * math.pi * sigma ** 2) + (x - mean) ** 2 / (2 * sigma ** 2)
    numpy.testing.assert_allclose(y.array, expected, rtol=1e-12)
    gradient_check.check_backward(lambda x, m: gaussian_nll(x, m, sigma), (x, mean),
                                  rng.randn(3, 4), eps=1e-6, atol=1e-8, rtol=1e-6)
    assert gaussian_nll(x.astype('f'), mean.astype('f'), sigma).dtype == numpy.float32
    with pytest.raises(ValueError):
        gaussian_nll(x, mean, 0.0)


def test_gaussian_nll_units_trap():
    # A perfect 64x64x3 mean image at sigma 0.7 costs ~6,909 nats (REFERENCE.md).
    x = numpy.full((1, 3, 64, 64), 0.5, 'f')
    nll = float(chainer.functions.sum(gaussian_nll(x, x, 0.7)).array)
    assert nll == pytest.approx(12288 * 0.5 * math.log(2 * math.pi * 0.49), rel=1e-5)
    assert round(nll) == 6909


def test_gaussian_kl_closed_form_and_gradient():
    rng = numpy.random.RandomState(4)
    mu_q, lv_q, mu_p, lv_p = (_rand(rng, 2, 3, 4) for _ in range(4))
    kl = gaussian_kl(mu_q, lv_q, mu_p, lv_p).array
    var_q, var_p = numpy.exp(lv_q), numpy.exp(lv_p)
    expected = (numpy.log(numpy.sqrt(var_p) / numpy.sqrt(var_q))
                + (var_q + (mu_q - mu_p) ** 2) / (2 * var_p) - 0.5)
    numpy.testing.assert_allclose(kl, expected, rtol=1e-10, atol=1e-12)
    assert (kl > 0).all()
    gradient_check.check_backward(gaussian_kl, (mu_q, lv_q, mu_p, lv_p), rng.randn(2, 3, 4),
                                  eps=1e-6, atol=1e-8, rtol=1e-6)


def test_gaussian_kl_against_monte_carlo():
    # The same log-variance parameterisation the model samples with.
    rng = numpy.random.RandomState(5)
    mu_q, lv_q, mu_p, lv_p = 0.3, -0.4, -0.2, 0.5
    z = mu_q + numpy.exp(0.5 * lv_q) * rng.standard_normal(400000)

    def log_normal(z, mu, lv):
        return -0.5 * (numpy.log(2 * math.pi) + lv + (z - mu) ** 2 / numpy.exp(lv))
    mc = numpy.mean(log_normal(z, mu_q, lv_q) - log_normal(z, mu_p, lv_p))
    exact = float(gaussian_kl(*(numpy.array([t]) for t in (mu_q, lv_q, mu_p, lv_p))).array[0])
    assert exact == pytest.approx(mc, abs=3e-3)


def test_gaussian_kl_is_exactly_zero_for_equal_gaussians():
    rng = numpy.random.RandomState(6)
    mu, lv = rng.randn(5, 2, 3, 3).astype('f') * 3, rng.randn(5, 2, 3, 3).astype('f') * 3
    kl = gaussian_kl(mu, lv, mu, lv).array
    assert kl.dtype == numpy.float32 and (kl == 0).all()


@pytest.mark.gpu
def test_cuda_kernels_are_selected_and_match_the_numpy_twins(cupy):
    # The modules share their names with the functions they define.
    lstm_mod, kl_mod, nll_mod = (importlib.import_module('gqn.kernels.' + name) for name in
                                 ('conv_lstm_cell', 'gaussian_kl', 'gaussian_nll'))
    rng = numpy.random.RandomState(7)
    cases = [
        (lstm_mod, conv_lstm_cell, (_rand(rng, 2, 3, 4, 5), _rand(rng, 2, 12, 4, 5))),
        (kl_mod, gaussian_kl, tuple(_rand(rng, 2, 3, 4) for _ in range(4))),
        (nll_mod, lambda x, m: gaussian_nll(x, m, 0.7), (_rand(rng, 2, 3), _rand(rng, 2, 3))),
    ]
    for mod, fn, args in cases:
        mod._forward_kernel.cache_clear()
        mod._backward_kernel.cache_clear()
        cpu = [chainer.Variable(a) for a in args]
        gpu = [chainer.Variable(cupy.asarray(a)) for a in args]
        out_cpu, out_gpu = fn(*cpu), fn(*gpu)
        outs_cpu = out_cpu if isinstance(out_cpu, tuple) else (out_cpu,)
        outs_gpu = out_gpu if isinstance(out_gpu, tuple) else (out_gpu,)
        for oc, og in zip(outs_cpu, outs_gpu):
            assert isinstance(og.array, cupy.ndarray)
            numpy.testing.assert_allclose(cupy.asnumpy(og.array), oc.array, rtol=1e-10)
        chainer.functions.sum(sum(o * o for o in outs_cpu)).backward()
        chainer.functions.sum(sum(o * o for o in outs_gpu)).backward()
        assert mod._forward_kernel.cache_info().currsize == 1
        assert mod._backward_kernel.cache_info().currsize == 1
        for vc, vg in zip(cpu, gpu):
            numpy.testing.assert_allclose(cupy.asnumpy(vg.grad), vc.grad, rtol=1e-10)


def test_relu_equals_chainers_in_values_and_gradients(threads):
    from gqn.kernels.relu import ReLU
    from gqn.ops import relu
    from gqn.ops.stock_ops import stock_ops
    rng = numpy.random.RandomState(9)
    x_data = rng.standard_normal((5, 3, 4, 4)).astype(numpy.float32)
    x_data[0, 0, 0, :2] = 0  # (the gradient at 0 is 0, as Chainer's)
    gy = rng.standard_normal(x_data.shape).astype(numpy.float32)
    results = []
    for f in (relu, chainer.functions.relu):
        x = chainer.Variable(x_data.copy())
        y = f(x)
        y.grad = gy
        y.backward()
        results.append((y, x.grad))
    assert isinstance(results[0][0].creator, ReLU)
    for a, e in zip(*results):
        numpy.testing.assert_array_equal(chainer.as_array(a), chainer.as_array(e))
    with stock_ops():
        assert not isinstance(relu(x_data).creator, ReLU)
