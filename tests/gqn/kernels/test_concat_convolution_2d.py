import chainer
import chainer.functions as F
import numpy
import pytest
from chainer import gradient_check

from gqn.kernels.concat_convolution_2d import ConcatConvolution2D, TransformCache


def _parts(rng, B=2, H=6, W=5, sizes=(3, 2, 4), O=6, r=5, dtype=numpy.float64):
    xs = [rng.standard_normal((B, c, H, W)).astype(dtype) for c in sizes]
    Ws = [rng.standard_normal((O, sizes[0] + sizes[1], r, r)).astype(dtype),
          rng.standard_normal((O, sizes[2], r, r)).astype(dtype)]
    return xs, Ws, rng.standard_normal(O).astype(dtype)


@pytest.mark.parametrize('m', [2, 4])
def test_equals_the_convolution_of_the_concatenation(m, threads):
    rng = numpy.random.RandomState(m)
    xs, Ws, b = _parts(rng)
    gy = rng.standard_normal((2, 6, 6, 5))
    ours = [chainer.Variable(a) for a in xs + Ws + [b]]
    y, = ConcatConvolution2D(3, (2, 2), m, TransformCache(), invariant=(2,)).apply(ours)
    stock = [chainer.Variable(a) for a in xs + Ws + [b]]
    y_stock = F.convolution_2d(F.concat(stock[:3]), F.concat(stock[3:5]), stock[5], pad=2)
    for v, g in ((y, gy), (y_stock, gy)):
        v.grad = g
        v.backward()
    numpy.testing.assert_allclose(y.array, y_stock.array, rtol=1e-10, atol=1e-10)
    for a, e in zip(ours, stock):
        numpy.testing.assert_allclose(a.grad, e.grad, rtol=1e-10, atol=1e-10)


def test_steps_share_the_invariant_transform():
    """Two steps over the same invariant part: one transform, the same results as two
    independent convolutions, and the invariant's gradients summed."""
    rng = numpy.random.RandomState(3)
    xs, Ws, b = _parts(rng)
    x2 = rng.standard_normal(xs[0].shape)
    invariant = chainer.Variable(xs[2])
    cache = TransformCache()
    ys, ys_stock = [], []
    for x in (xs[0], x2):
        inputs = [x, xs[1], invariant] + Ws + [b]
        ys.append(ConcatConvolution2D(3, (2, 2), 4, cache, invariant=(2,)).apply(inputs)[0])
        ys_stock.append(F.convolution_2d(F.concat((x, xs[1], xs[2])), F.concat(Ws), b, pad=2))
    assert len(cache._transforms) == 1
    for y, e in zip(ys, ys_stock):
        numpy.testing.assert_allclose(y.array, e.array, rtol=1e-10, atol=1e-10)
    F.sum(ys[0] * ys[1]).backward()
    stock_inv = chainer.Variable(xs[2])
    e = [F.convolution_2d(F.concat((x, xs[1], stock_inv)), F.concat(Ws), b, pad=2)
         for x in (xs[0], x2)]
    F.sum(e[0] * e[1]).backward()
    numpy.testing.assert_allclose(invariant.grad, stock_inv.grad, rtol=1e-10, atol=1e-10)


def test_gradient_check_in_float64():
    rng = numpy.random.RandomState(4)
    xs, Ws, b = _parts(rng, H=5, W=6)
    gy = rng.standard_normal((2, 6, 5, 6))
    gradient_check.check_backward(
        lambda *a: ConcatConvolution2D(3, (2, 2), 4, TransformCache(), (2,)).apply(a)[0],
        tuple(xs + Ws + [b]), gy, dtype=numpy.float64, atol=1e-6, rtol=1e-6)


def test_kernel_blocks_must_span_whole_parts():
    rng = numpy.random.RandomState(5)
    xs, Ws, b = _parts(rng, sizes=(3, 2, 4))
    Ws = [Ws[0][:, :4], numpy.concatenate((Ws[0][:, 4:], Ws[1]), axis=1)]
    with pytest.raises(ValueError, match='span whole input parts'):
        ConcatConvolution2D(3, (2, 2), 4).apply(xs + Ws + [b])


def test_batch_chunks_give_the_same_result(monkeypatch):
    from gqn.kernels import winograd_convolution_2d as wc
    rng = numpy.random.RandomState(6)
    xs, Ws, b = _parts(rng, B=3)
    gy = rng.standard_normal((3, 6, 6, 5))
    results = []
    for block in (wc.BLOCK_BYTES, 64 * 4 * 8 * 6):  # the second: one image per chunk
        monkeypatch.setattr(wc, 'BLOCK_BYTES', block)
        inputs = [chainer.Variable(a) for a in xs + Ws + [b]]
        y, = ConcatConvolution2D(3, (2, 2), 4, TransformCache(), (2,)).apply(inputs)
        y.grad = gy
        y.backward()
        results.append([y.array] + [v.grad for v in inputs])
    for a, e in zip(*results):
        numpy.testing.assert_allclose(a, e, rtol=1e-12, atol=1e-12)
