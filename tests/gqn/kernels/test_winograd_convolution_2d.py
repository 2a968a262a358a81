import chainer
import chainer.functions as F
import numpy
import pytest
from chainer import gradient_check

from gqn.kernels import winograd_convolution_2d as wc
from gqn.kernels.winograd_convolution_2d import WinogradConvolution2D, applicable


@pytest.mark.parametrize('m, r', [(2, 3), (4, 3), (2, 5), (4, 5)])
def test_one_dimensional_transforms_compute_a_correlation(m, r):
    A_T, G, B_T = wc.winograd_matrices(m, r)
    rng = numpy.random.RandomState(m * 10 + r)
    d, g = rng.standard_normal(m + r - 1), rng.standard_normal(r)
    expected = [d[i:i + r] @ g for i in range(m)]
    numpy.testing.assert_allclose(A_T @ ((G @ g) * (B_T @ d)), expected, rtol=1e-12, atol=1e-12)


def _both(x, w, b, pad, m, gy):
    """Output and gradients of the Winograd convolution and of ``F.convolution_2d``."""
    results = []
    for conv in (lambda *a: WinogradConvolution2D(pad, m).apply(a)[0],
                 lambda *a: F.convolution_2d(*a, stride=1, pad=pad)):
        inputs = [chainer.Variable(a) for a in (x, w, b)]
        y = conv(*inputs)
        y.grad = gy
        y.backward()
        results.append([y.array] + [v.grad for v in inputs])
    return results


def _data(rng, B, C, H, W, O, r, dtype):
    return (rng.standard_normal((B, C, H, W)).astype(dtype),
            rng.standard_normal((O, C, r, r)).astype(dtype),
            rng.standard_normal(O).astype(dtype))


@pytest.mark.parametrize('B, C, H, W, O, r, pad, m', [
    (2, 7, 16, 16, 12, 5, 2, 2),   # the gate convolution, scaled down
    (2, 7, 16, 16, 12, 5, 2, 4),
    (1, 3, 5, 5, 4, 3, 1, 2),      # batch 1, 3x3
    (3, 5, 9, 6, 4, 5, 2, 4),      # odd, non-square maps: partial tiles
    (2, 4, 7, 9, 3, 3, 0, 4),      # 'valid' convolution
    (2, 3, 6, 5, 4, 5, 4, 2),      # padding r - 1 (the input gradient's)
    (1, 2, 4, 4, 3, 5, 1, 2),      # kernel larger than the output
])
def test_matches_chainer_in_float64(B, C, H, W, O, r, pad, m, threads):
    rng = numpy.random.RandomState(C * 100 + r)
    x, w, b = _data(rng, B, C, H, W, O, r, numpy.float64)
    y_shape = (B, O, H + 2 * pad - r + 1, W + 2 * pad - r + 1)
    gy = rng.standard_normal(y_shape)
    ours, stock = _both(x, w, b, (pad, pad), m, gy)
    for name, a, e in zip(('y', 'gx', 'gW', 'gb'), ours, stock):
        assert a.shape == e.shape and a.dtype == numpy.float64, name
        numpy.testing.assert_allclose(a, e, rtol=1e-11, atol=1e-11 * numpy.abs(e).max(),
                                      err_msg=name)


@pytest.mark.parametrize('m', [2, 4])
def test_float32_relative_error_is_small(m):
    """On a gate-sized reduction (C = 160, 25 taps) the float32 result is within 1e-4 of a
    float64 reference, relative to the largest value. (Chainer's own float32 convolution
    does about 2e-6; Winograd's transforms add and subtract terms of unequal size, and cuDNN's
    Winograd kernels, used for training on GPUs, do the same.)"""
    rng = numpy.random.RandomState(m)
    x, w, b = _data(rng, 4, 160, 16, 16, 32, 5, numpy.float64)
    gy = rng.standard_normal((4, 32, 16, 16))
    exact = _both(x, w, b, (2, 2), m, gy)[1]
    ours = _both(*[a.astype(numpy.float32) for a in (x, w, b)], (2, 2), m,
                 gy.astype(numpy.float32))[0]
    for name, a, e in zip(('y', 'gx', 'gW', 'gb'), ours, exact):
        assert a.dtype == numpy.float32, name
        assert numpy.abs(a - e).max() <= 1e-4 * numpy.abs(e).max(), name


def test_blocked_channels_give_the_same_result(monkeypatch):
    """Wide channel counts go through blocks of :data:`BLOCK_BYTES`; force tiny blocks."""
    rng = numpy.random.RandomState(5)
    x, w, b = _data(rng, 2, 9, 8, 8, 11, 5, numpy.float64)
    gy = rng.standard_normal((2, 11, 8, 8))
    whole = _both(x, w, b, (2, 2), 2, gy)[0]
    monkeypatch.setattr(wc, 'BLOCK_BYTES', 36 * 32 * 8 * 3)  # 3 channels per block
    blocked = _both(x, w, b, (2, 2), 2, gy)[0]
    for name, a, e in zip(('y', 'gx', 'gW', 'gb'), blocked, whole):
        numpy.testing.assert_allclose(a, e, rtol=1e-12, atol=1e-12, err_msg=name)


@pytest.mark.parametrize('m', [2, 4])
def test_gradient_check_in_float64(m):
    rng = numpy.random.RandomState(m)
    x, w, b = _data(rng, 2, 3, 5, 6, 4, 5, numpy.float64)
    gy = rng.standard_normal((2, 4, 5, 6))
    gradient_check.check_backward(
        lambda *a: WinogradConvolution2D((2, 2), m).apply(a)[0], (x, w, b), gy,
        dtype=numpy.float64, atol=1e-6, rtol=1e-6)


def test_weights_in_blocks_of_output_channels_equal_the_concatenated_weight():
    """``(x, W_1, W_2, W_3, b)`` (the stacked gate convolutions) is the convolution with
    ``concat(W_1, W_2, W_3)``: same output, same gradients, split per block."""
    rng = numpy.random.RandomState(7)
    x, w, b = _data(rng, 2, 5, 8, 8, 9, 5, numpy.float64)
    gy = rng.standard_normal((2, 9, 8, 8))
    whole = _both(x, w, b, (2, 2), 4, gy)[0]
    inputs = [chainer.Variable(a) for a in (x, w[:2], w[2:6], w[6:], b)]
    y, = WinogradConvolution2D((2, 2), 4, n_weights=3).apply(inputs)
    y.grad = gy
    y.backward()
    numpy.testing.assert_allclose(y.array, whole[0], rtol=1e-12, atol=1e-12)
    numpy.testing.assert_allclose(inputs[0].grad, whole[1], rtol=1e-12, atol=1e-12)
    numpy.testing.assert_allclose(numpy.concatenate([v.grad for v in inputs[1:4]]), whole[2],
                                  rtol=1e-12, atol=1e-12)
    assert all(v.grad.flags.c_contiguous for v in inputs[1:4])  # (ChainerMN reduces only these)
    numpy.testing.assert_allclose(inputs[4].grad, whole[3], rtol=1e-12, atol=1e-12)
    gradient_check.check_backward(
        lambda *a: WinogradConvolution2D((2, 2), 4, n_weights=3).apply(a)[0],
        (x[:, :2, :5, :6], w[:2, :2], w[2:6, :2], w[6:, :2], b), gy[:, :, :5, :6],
        dtype=numpy.float64, atol=1e-6, rtol=1e-6)


@pytest.mark.parametrize('shape, pad, expected', [
    ((8, 4, 5, 5), (2, 2), True), ((8, 4, 3, 3), (1, 1), True), ((8, 4, 3, 3), (0, 0), True),
    ((8, 4, 1, 1), (0, 0), False), ((8, 4, 7, 7), (3, 3), False), ((8, 4, 5, 3), (2, 1), False),
    ((8, 4, 5, 5), (5, 5), False),
])
def test_applicable(shape, pad, expected):
    assert applicable(shape, pad) is expected
