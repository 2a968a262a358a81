"""The convolutions and activation the model calls, with the switch to Chainer's own.

Each function is the operation the model means; how it runs is decided in
:mod:`gqn.kernels` (no im2col on the CPU, patch GEMMs, cuDNN on CUDA), or, inside
:func:`gqn.ops.stock_ops`, by Chainer's stock function of the same operation.
"""
import chainer
import chainer.functions as F
import numpy

from gqn.kernels import convolution_2d as _convolution_2d
from gqn.kernels.relu import ReLU
from gqn.ops.stock_ops import stock_ops_enabled


def convolution_2d(x, W, b=None, pad=None):
    """Stride-1 two-dimensional convolution, ``'same'`` padding by default.

    Args:
        x (~chainer.Variable or array): ``(B, C_in, H, W)``.
        W (~chainer.Variable or array, or a sequence of them): ``(C_out, C_in, k_h,
            k_w)``, or its blocks of output channels in order (the stacked
            convolutions of one input).
        b (~chainer.Variable or array or None): ``(C_out,)``.
        pad (int or pair of int or None): zero padding; ``None`` means ``(k_h // 2,
            k_w // 2)``.

    Returns:
        ~chainer.Variable: ``(B, C_out, H + 2 p_h - k_h + 1, W + 2 p_w - k_w + 1)``,
        :func:`gqn.kernels.convolution_2d.convolution_2d` (equal to
        ``F.convolution_2d`` to float rounding), which runs inside
        :func:`gqn.ops.stock_ops`.
    """
    if not stock_ops_enabled():
        return _convolution_2d.convolution_2d(x, W, b, pad)
    if isinstance(W, (list, tuple)):
        W = F.concat(W, axis=0)
    if pad is None:
        pad = (W.shape[2] // 2, W.shape[3] // 2)
    return F.convolution_2d(x, W, b, pad=pad)


def relu(x):
    """``F.relu(x)``, through :class:`gqn.kernels.relu.ReLU` (threaded) for NumPy arrays
    outside :func:`gqn.ops.stock_ops`."""
    if stock_ops_enabled() or not isinstance(chainer.as_array(x), numpy.ndarray):
        return F.relu(x)
    y, = ReLU().apply((x,))
    return y
