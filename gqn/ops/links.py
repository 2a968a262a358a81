"""Convolution links that pick the fastest formulation of the same operation.

Drop-in subclasses of ``chainer.links.Convolution2D`` and
``Deconvolution2D`` (same parameters, same names, same initialisation, so
snapshots are interchangeable): ``stride == ksize`` convolutions without
padding (1x1 ones among them) through the patch GEMMs of
:mod:`gqn.kernels.patch_convolution`, the other stride-1 ones through
:func:`gqn.ops.convolution_2d` (no im2col on the CPU, cuDNN on CUDA); anything
else, and everything inside :func:`gqn.ops.stock_ops`, through Chainer's own
functions.
"""
import chainer.functions as F
import chainer.links as L
import numpy

from gqn.kernels.patch_convolution import patch_convolution, patch_deconvolution
from gqn.ops.convolution import convolution_2d
from gqn.ops.stock_ops import stock_ops_enabled


def _pair(x):
    return tuple(x) if isinstance(x, (tuple, list)) else (x, x)


class Convolution2D(L.Convolution2D):
    """``L.Convolution2D`` with the fast paths above (no dilation, no groups)."""

    def forward(self, x):
        if self.W.array is None:
            self._initialize_params(x.shape[1])
        k, stride, pad = self.W.shape[2:], _pair(self.stride), _pair(self.pad)
        if not stock_ops_enabled():
            if stride == tuple(k) and pad == (0, 0) and k[0] == k[1]:  # (and 1x1 kernels)
                return patch_convolution(x, self.W, self.b)
            if stride == (1, 1):
                return convolution_2d(x, self.W, self.b, pad=pad)
        return F.convolution_2d(x, self.W, self.b, self.stride, self.pad)


class Deconvolution2D(L.Deconvolution2D):
    """``L.Deconvolution2D`` with the patch GEMM for ``stride == ksize``, no padding."""

    def forward(self, x):
        k, stride, pad = self.W.shape[2:], _pair(self.stride), _pair(self.pad)
        if (not stock_ops_enabled() and stride == tuple(k) and pad == (0, 0) and k[0] == k[1]
                and self.outsize in (None, (None, None))):
            return patch_deconvolution(x, self.W, self.b)
        return F.deconvolution_2d(x, self.W, self.b, self.stride, self.pad, self.outsize)


def stacked_convolutions(x, convs):
    """``[conv(x) for conv in convs]`` for stride-1 :class:`Convolution2D` links of one
    kernel size and padding, as one convolution with their output channels stacked
    (outside :func:`gqn.ops.stock_ops`): on the CPU the input is transformed
    once for all of them, in both passes, and its gradient needs no sum of parts.

    Args:
        x (~chainer.Variable): ``(B, C_in, H, W)``.
        convs (sequence of Convolution2D): initialised links with biases.

    Returns:
        list: one ``~chainer.Variable`` per link, as the link would return it.
    """
    if stock_ops_enabled():
        return [conv(x) for conv in convs]
    y = convolution_2d(x, [conv.W for conv in convs], F.concat([conv.b for conv in convs], axis=0),
                       pad=_pair(convs[0].pad))
    ends = numpy.cumsum([conv.W.shape[0] for conv in convs])[:-1].tolist()
    return list(F.split_axis(y, ends, axis=1))
