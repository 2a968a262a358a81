import chainer
import chainer.functions as F
import numpy
import pytest
from chainer import gradient_check

from gqn.kernels.tap_convolution_2d import TapConvolution2D, applicable


def _both(x, w, b, pad, gy, indexes=(0, 1, 2)):
    """Output and gradients of the tap convolution and of ``F.convolution_2d``."""
    results = []
    for conv in (lambda *a: TapConvolution2D(pad).apply(a)[0],
                 lambda *a: F.convolution_2d(*a, stride=1, pad=pad)):
        inputs = [chainer.Variable(a, requires_grad=i in indexes)
                  for i, a in enumerate((x, w, b))]
        y = conv(*inputs)
        y.grad = gy
        y.backward()
        results.append([y.array] + [v.grad for v in inputs])
    return results


@pytest.mark.parametrize('B, C, H, W, O, kh, kw, pad', [
    (2, 16, 16, 16, 6, 5, 5, (2, 2)),  # the generator's heads, scaled down
    (1, 3, 5, 5, 2, 3, 3, (1, 1)),     # batch 1
    (3, 5, 9, 6, 1, 5, 5, (2, 2)),     # odd, non-square maps
    (2, 4, 7, 9, 3, 3, 3, (0, 0)),     # 'valid' convolution
    (2, 3, 6, 5, 4, 5, 5, (4, 4)),     # padding k - 1
    (1, 2, 4, 4, 3, 5, 5, (1, 1)),     # kernel larger than the output
    (2, 6, 8, 7, 2, 3, 5, (1, 2)),     # non-square kernel
    (2, 5, 4, 4, 3, 1, 1, (0, 0)),     # 1x1
])
def test_matches_chainer_in_float64(B, C, H, W, O, kh, kw, pad):
    rng = numpy.random.RandomState(C * 100 + kh)
    x = rng.standard_normal((B, C, H, W))
    w = rng.standard_normal((O, C, kh, kw))
    b = rng.standard_normal(O)
    y_shape = (B, O, H + 2 * pad[0] - kh + 1, W + 2 * pad[1] - kw + 1)
    ours, stock = _both(x, w, b, pad, rng.standard_normal(y_shape))
    for name, a, e in zip(('y', 'gx', 'gW', 'gb'), ours, stock):
        assert a.shape == e.shape and a.dtype == numpy.float64, name
        numpy.testing.assert_allclose(a, e, rtol=1e-12, atol=1e-12 * numpy.abs(e).max(),
                                      err_msg=name)


def test_float32_and_only_the_requested_gradients():
    rng = numpy.random.RandomState(1)
    x = rng.standard_normal((4, 32, 16, 16)).astype(numpy.float32)
    w = rng.standard_normal((6, 32, 5, 5)).astype(numpy.float32)
    b = rng.standard_normal(6).astype(numpy.float32)
    gy = rng.standard_normal((4, 6, 16, 16)).astype(numpy.float32)
    ours, stock = _both(x, w, b, (2, 2), gy, indexes=(1,))
    assert ours[1] is None and ours[3] is None
    for a, e in ((ours[0], stock[0]), (ours[2], stock[2])):
        assert a.dtype == numpy.float32
        numpy.testing.assert_allclose(a, e, rtol=1e-4, atol=1e-5 * numpy.abs(e).max())


def test_gradient_check_in_float64():
    rng = numpy.random.RandomState(2)
    x, w, b = rng.standard_normal((2, 3, 6, 5)), rng.standard_normal((2, 3, 3, 3)), \
        rng.standard_normal(2)
    gy = rng.standard_normal((2, 2, 6, 5))
    gradient_check.check_backward(lambda *a: TapConvolution2D((1, 1)).apply(a)[0],
                                  (x, w, b), gy, eps=1e-6, atol=1e-7, rtol=1e-6)


@pytest.mark.parametrize('shape, expected', [
    ((6, 128, 5, 5), True),    # the paper's heads: 150 tap maps from 128 channels
    ((6, 38, 5, 5), True),
    ((6, 37, 5, 5), False),
    ((512, 394, 5, 5), False),  # a core's gates
    ((256, 256, 3, 3), False),
])
def test_applicable(shape, expected):
    assert applicable(shape) == expected
