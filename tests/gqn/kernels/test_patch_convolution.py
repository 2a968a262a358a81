import chainer
import chainer.functions as F
import numpy as np
import pytest
from chainer import gradient_check

from gqn.kernels.patch_convolution import patch_convolution, patch_deconvolution
from gqn.ops.links import Convolution2D, Deconvolution2D
from gqn.ops.stock_ops import stock_ops


@pytest.mark.parametrize('k,bias', [(1, True), (2, True), (4, False), (4, True)])
def test_patch_convolution_equals_strided_convolution(k, bias):
    rng = np.random.RandomState(k)
    x = rng.randn(3, 5, 4 * k, 2 * k)
    W = rng.randn(6, 5, k, k)
    b = rng.randn(6) if bias else None
    gy = rng.randn(3, 6, 4, 2)
    ours = patch_convolution(chainer.Variable(x), W, b)
    np.testing.assert_allclose(ours.array, F.convolution_2d(x, W, b, stride=k).array, rtol=1e-12)
    args = (x, W, b) if bias else (x, W)
    gradient_check.check_backward(lambda *a: patch_convolution(*a), args, gy, dtype=np.float64)


@pytest.mark.parametrize('k,bias', [(2, True), (4, False), (4, True)])
def test_patch_deconvolution_equals_strided_deconvolution(k, bias):
    rng = np.random.RandomState(k)
    x = rng.randn(2, 5, 3, 4)
    W = rng.randn(5, 6, k, k)
    b = rng.randn(6) if bias else None
    gy = rng.randn(2, 6, 3 * k, 4 * k)
    ours = patch_deconvolution(x, W, b)
    np.testing.assert_allclose(ours.array, F.deconvolution_2d(x, W, b, stride=k).array,
                               rtol=1e-12)
    args = (x, W, b) if bias else (x, W)
    gradient_check.check_backward(lambda *a: patch_deconvolution(*a), args, gy, dtype=np.float64)


@pytest.mark.parametrize('ksize,stride,pad', [(4, 4, 0), (2, 2, 0), (3, 1, 1), (1, 1, 0),
                                              (3, 2, 1)])
def test_links_match_chainer_links(ksize, stride, pad):
    rng = np.random.RandomState(0)
    x = rng.randn(2, 3, 8, 8).astype(np.float32)
    ours = Convolution2D(3, 4, ksize, stride=stride, pad=pad)
    y = ours(x).array
    with stock_ops():
        np.testing.assert_allclose(y, ours(x).array, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(
        y, F.convolution_2d(x, ours.W, ours.b, stride=stride, pad=pad).array, rtol=1e-5, atol=1e-5)
    up = Deconvolution2D(3, 4, ksize, stride=stride, pad=pad)
    np.testing.assert_allclose(
        up(x).array, F.deconvolution_2d(x, up.W, up.b, stride=stride, pad=pad).array,
        rtol=1e-5, atol=1e-5)
