import chainer
import numpy

from gqn.kernels.winograd_convolution_2d import WinogradConvolution2D
from gqn.ops import links
from gqn.ops.stock_ops import stock_ops


def _convs():
    numpy.random.seed(0)
    convs = [links.Convolution2D(5, 4, 3, pad=1), links.Convolution2D(5, 3, 3, pad=1)]
    for conv in convs:
        conv.W.array = conv.W.array.astype(numpy.float64)
        conv.b.array = numpy.random.standard_normal(conv.b.shape)
    return convs


def test_stacked_convolutions_equal_the_separate_ones():
    convs = _convs()
    rng = numpy.random.RandomState(1)
    x_data = rng.standard_normal((2, 5, 6, 7))
    grads = [rng.standard_normal((2, conv.W.shape[0], 6, 7)) for conv in convs]
    results = []
    for stacked in (True, False):
        for conv in convs:
            conv.cleargrads()
        x = chainer.Variable(x_data.copy())
        ys = links.stacked_convolutions(x, convs) if stacked else [conv(x) for conv in convs]
        if stacked:
            assert {type(y.creator.inputs[0].creator) for y in ys} == {WinogradConvolution2D}
        chainer.functions.sum(sum(chainer.functions.sum(y * g) for y, g in zip(ys, grads))
                              ).backward()
        results.append([y.array for y in ys] + [x.grad] +
                       [p.grad for conv in convs for p in (conv.W, conv.b)])
    for a, e in zip(*results):
        assert a.shape == e.shape
        numpy.testing.assert_allclose(a, e, rtol=1e-11, atol=1e-11)


def test_stacked_convolutions_inside_stock_ops_are_the_links():
    convs = _convs()
    x = numpy.random.RandomState(2).standard_normal((1, 5, 4, 4))
    with stock_ops():
        ys = links.stacked_convolutions(x, convs)
    assert [type(y.creator).__name__ for y in ys] == ['Convolution2DFunction'] * 2
