import chainer
import chainer.functions as F
import numpy
import pytest
from chainer import gradient_check

from gqn.kernels.convolution_2d import Convolution2D, convolution_2d, runs_natively
from gqn.kernels.tap_convolution_2d import TapConvolution2D
from gqn.kernels.winograd_convolution_2d import WinogradConvolution2D


def shifted(x, W, b=None, pad=None):
    """The shifted-GEMM :class:`Convolution2D` itself (``convolution_2d`` sends 3x3 and
    5x5 kernels to Winograd's algorithm instead)."""
    pad = _same_pad(W) if pad is None else (pad, pad) if isinstance(pad, int) else pad
    y, = Convolution2D(pad).apply((x, W) if b is None else (x, W, b))
    return y


def _both(x, W, b, pad, gy, ours=shifted):
    """Output and input gradients of ``ours`` and of ``F.convolution_2d``."""
    results = []
    stock_pad = _same_pad(W) if pad is None else pad
    for conv in (lambda *a: ours(*a, pad=pad),
                 lambda *a: F.convolution_2d(*a, stride=1, pad=stock_pad)):
        inputs = [None if a is None else chainer.Variable(a) for a in (x, W, b)]
        y = conv(*inputs)
        y.grad = gy
        y.backward()
        results.append([y.array] + [None if v is None else v.grad for v in inputs])
    return results


def _data(rng, B, C, H, W, O, kh, kw, bias=True, dtype=numpy.float32):
    x = rng.standard_normal((B, C, H, W)).astype(dtype)
    w = rng.standard_normal((O, C, kh, kw)).astype(dtype)
    b = rng.standard_normal(O).astype(dtype) if bias else None
    return x, w, b


def _same_pad(w):
    return w.shape[2] // 2, w.shape[3] // 2


def _gy(rng, y_shape, dtype):
    return rng.standard_normal(y_shape).astype(dtype)


@pytest.mark.parametrize('B, C, H, W, O, k, bias', [
    (2, 7, 16, 16, 12, 5, True),    # the gate convolution, scaled down
    (1, 3, 5, 5, 4, 3, False),      # batch 1
    (3, 13, 9, 6, 5, 5, True),      # odd, non-square maps, odd channel counts
    (2, 5, 4, 7, 9, 1, True),       # 1x1
    (1, 1, 2, 3, 1, 5, True),       # kernel larger than the image
    (4, 33, 8, 8, 20, 3, False),
])
def test_matches_chainer_in_float32(B, C, H, W, O, k, bias):
    rng = numpy.random.RandomState(C * 100 + k)
    x, w, b = _data(rng, B, C, H, W, O, k, k, bias)
    gy = _gy(rng, (B, O, H, W), numpy.float32)
    ours, stock = _both(x, w, b, None, gy)
    assert ours[0].shape == (B, O, H, W) and ours[0].dtype == numpy.float32
    for name, a, e in zip(('y', 'gx', 'gW', 'gb'), ours, stock):
        if e is None:
            assert a is None
            continue
        assert a.dtype == numpy.float32 and a.shape == e.shape, name
        scale = numpy.abs(e).max()
        numpy.testing.assert_allclose(a, e, rtol=1e-4, atol=2e-6 * scale, err_msg=name)


@pytest.mark.parametrize('kh, kw, pad', [
    (3, 5, 0),         # 'valid' convolution
    (3, 3, (3, 2)),    # padding larger than k // 2
    (5, 3, (1, 0)),    # non-square kernel, asymmetric padding
    (4, 2, None),      # even kernel: k // 2 padding grows the output by one
])
def test_other_paddings_and_kernels_match_chainer_in_float64(kh, kw, pad):
    rng = numpy.random.RandomState(kh * 10 + kw)
    x, w, b = _data(rng, 2, 3, 6, 5, 4, kh, kw, dtype=numpy.float64)
    y_shape = F.convolution_2d(x, w, pad=_same_pad(w) if pad is None else pad).shape
    ours, stock = _both(x, w, b, pad, _gy(rng, y_shape, numpy.float64))
    for name, a, e in zip(('y', 'gx', 'gW', 'gb'), ours, stock):
        numpy.testing.assert_allclose(a, e, rtol=1e-12, atol=1e-12, err_msg=name)


@pytest.mark.parametrize('bias', [True, False])
def test_gradient_check_in_float64(bias):
    rng = numpy.random.RandomState(3)
    x, w, b = _data(rng, 2, 3, 5, 4, 2, 3, 3, bias, dtype=numpy.float64)
    gy = _gy(rng, (2, 2, 5, 4), numpy.float64)
    inputs = (x, w) if b is None else (x, w, b)
    gradient_check.check_backward(lambda *a: convolution_2d(*a), inputs, gy,
                                  dtype=numpy.float64, atol=1e-7, rtol=1e-7)


def test_only_the_requested_gradients_are_computed():
    rng = numpy.random.RandomState(4)
    x, w, b = _data(rng, 2, 4, 6, 6, 3, 5, 5)
    gy = _gy(rng, (2, 3, 6, 6), numpy.float32)
    _, (stock_y, stock_gx, stock_gw, stock_gb) = _both(x, w, b, None, gy)
    # x is a constant (the step-invariant inputs of a generator that needs no input gradient).
    wv, bv = chainer.Variable(w), chainer.Variable(b)
    y = convolution_2d(x, wv, bv)
    y.grad = gy
    y.backward()
    numpy.testing.assert_allclose(wv.grad, stock_gw, rtol=1e-4, atol=1e-4)
    numpy.testing.assert_allclose(bv.grad, stock_gb, rtol=1e-4, atol=1e-4)
    # W is a constant.
    xv = chainer.Variable(x)
    y = convolution_2d(xv, w)
    y.grad = gy
    y.backward()
    numpy.testing.assert_allclose(xv.grad, stock_gx, rtol=1e-4, atol=1e-4)


def test_non_contiguous_inputs_and_reused_buffers():
    # W sliced along C_in like a core's W_variant; x a channel slice of a concatenation;
    # shapes alternate so the per-thread scratch buffers are reused at several sizes.
    rng = numpy.random.RandomState(5)
    for B, C, S, O in [(3, 9, 8, 16), (1, 2, 3, 4), (2, 6, 11, 5), (3, 9, 8, 16)]:
        full_x, full_w, b = _data(rng, B, 2 * C, S, S, O, 5, 5)
        x, w = full_x[:, 1::2], full_w[:, :C]
        assert not x.flags.c_contiguous and not w.flags.c_contiguous
        gy = _gy(rng, (B, O, S, S), numpy.float32)
        ours, stock = _both(x, w, b, None, gy)
        for name, a, e in zip(('y', 'gx', 'gW', 'gb'), ours, stock):
            numpy.testing.assert_allclose(a, e, rtol=1e-4, atol=1e-4, err_msg=name)


def test_results_do_not_share_the_work_buffers():
    # With B = C_in = 1 the transposed work buffers have the result's layout already.
    rng = numpy.random.RandomState(10)
    first, second = (_data(rng, 1, 1, 4, 5, 1, 3, 3) for _ in range(2))
    gy = _gy(rng, (1, 1, 4, 5), numpy.float32)
    kept = _both(*first, None, gy)[0]
    saved = [a.copy() for a in kept]
    _both(*second, None, gy)
    for a, e in zip(kept, saved):
        numpy.testing.assert_array_equal(a, e)


def test_numpy_float_inputs_run_natively_and_others_are_delegated():
    rng = numpy.random.RandomState(6)
    x, w, b = _data(rng, 1, 2, 4, 4, 9, 3, 3)
    assert runs_natively(x, w, b) and runs_natively(x, w, None)
    # few outputs (O k k <= 4 C) go to the tap convolution, other 3x3 and 5x5 kernels
    # to Winograd's algorithm, the rest to shifted GEMMs
    assert isinstance(convolution_2d(x, w, b).creator, WinogradConvolution2D)
    assert isinstance(convolution_2d(x, w[:, :, :1, :1], b).creator, Convolution2D)
    assert isinstance(convolution_2d(x, w[:, :, :2, :], b, pad=1).creator, Convolution2D)
    x8, w8, b8 = _data(rng, 1, 8, 4, 4, 2, 5, 3)
    assert isinstance(convolution_2d(x8, w8, b8).creator, TapConvolution2D)
    assert isinstance(convolution_2d(x8, [w8], b8).creator, TapConvolution2D)
    # float16 is left to Chainer's own convolution (as CuPy arrays are, see the GPU test).
    x16, w16, b16 = (a.astype(numpy.float16) for a in (x, w, b))
    assert not runs_natively(x16, w16, b16)
    y = convolution_2d(x16, w16, b16)
    assert isinstance(y.creator, chainer.functions.connection.convolution_2d.Convolution2DFunction)
    assert y.dtype == numpy.float16
    numpy.testing.assert_array_equal(y.array, F.convolution_2d(x16, w16, b16, pad=1).array)


def test_bad_shapes_are_rejected():
    rng = numpy.random.RandomState(7)
    x, w, _ = _data(rng, 1, 3, 4, 4, 2, 3, 3)
    with pytest.raises(chainer.utils.type_check.InvalidType):
        convolution_2d(x, w[:, :2])
    with pytest.raises(chainer.utils.type_check.InvalidType):
        convolution_2d(x, w.astype(numpy.float64))


def test_training_follows_the_same_loss_curve_as_chainers_convolution():
    rng = numpy.random.RandomState(8)
    x, w, b = _data(rng, 2, 3, 6, 6, 4, 5, 5)
    target = rng.standard_normal((2, 4, 6, 6)).astype(numpy.float32)
    curves = []
    for conv in (convolution_2d, lambda x, W, b: F.convolution_2d(x, W, b, pad=2)):
        link = chainer.Link()
        with link.init_scope():
            link.W, link.b = chainer.Parameter(w * 0.1), chainer.Parameter(b.copy())
        optimizer = chainer.optimizers.Adam(alpha=0.01)
        optimizer.setup(link)
        curve = []
        for _ in range(5):
            loss = F.mean_squared_error(conv(x, link.W, link.b), target)
            link.cleargrads()
            loss.backward()
            optimizer.update()
            curve.append(float(loss.array))
        curves.append(curve)
    ours, stock = curves
    assert ours[-1] < 0.9 * ours[0]
    numpy.testing.assert_allclose(ours, stock, rtol=1e-5)


@pytest.mark.gpu
def test_cupy_arrays_go_to_chainers_convolution(cupy):
    rng = numpy.random.RandomState(9)
    x, w, b = _data(rng, 2, 5, 8, 8, 4, 5, 5)
    gy = _gy(rng, (2, 4, 8, 8), numpy.float32)
    assert not runs_natively(cupy.asarray(x), cupy.asarray(w), None)
    grads = []
    for xp in (numpy, cupy):
        inputs = [chainer.Variable(xp.asarray(a)) for a in (x, w, b)]
        y = convolution_2d(*inputs)
        expected_type = WinogradConvolution2D if xp is numpy else \
            chainer.functions.connection.convolution_2d.Convolution2DFunction
        assert isinstance(y.creator, expected_type)
        y.grad = xp.asarray(gy)
        y.backward()
        grads.append([cupy.asnumpy(a) for a in [y.array] + [v.grad for v in inputs]])
    for a, e in zip(*grads):
        numpy.testing.assert_allclose(a, e, rtol=1e-4, atol=1e-4)
