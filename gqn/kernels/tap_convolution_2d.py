"""A stride-1 convolution with few output channels: one GEMM over the channels,
then shifted sums of its taps.

``conv(x, W)[o] = sum over taps t of shift_t(sum_c W[o, c, t] x[c])``: one matrix
product of the ``O k_h k_w`` tap kernels with the input's channels gives every
tap's map at once, and the output is the sum of those maps, each shifted by its
tap. The GEMM does the FLOPs of the direct convolution, the shifts touch only
``O k_h k_w`` small maps, and nothing is copied ``k_h k_w`` times (no im2col)
or transformed (Winograd). That is the cheapest route when ``O k_h k_w`` is not
much more than ``C_in``: the 5x5 heads of the generator (128 -> 6 channels)
take about a third of the time of the Winograd convolution, which pays for
transforming all 128 input channels to produce 6. The gradients are the same
steps reversed. NumPy arrays; :func:`gqn.kernels.convolution_2d.convolution_2d` routes the
kernels of :func:`applicable` here.
"""
import chainer
import numpy

from gqn.kernels.convolution_types import check_convolution_types


def applicable(W_shape):
    """Whether the kernel ``(O, C, k_h, k_w)`` has few enough outputs for
    :class:`TapConvolution2D`: ``O k_h k_w <= 4 C``. (On the heads' 5x5 kernels
    with 6 outputs, measured against Winograd's ``F(4 x 4, 5 x 5)``, batch 36,
    16x16: 11 vs. 31 ms forward and backward from 128 channels, 9.5 vs. 14 ms
    from 64, even from 32.)"""
    O, C, kh, kw = W_shape
    return O * kh * kw <= 4 * C


def tap_range(d, pad, size_in, size_out):
    """Output indices ``[lo, hi)`` whose input index ``o + d - pad`` lies in the image."""
    return max(0, pad - d), min(size_out, size_in + pad - d)


def _tap_spans(k, pad, size_in, size_out):
    """``(d, out, in)`` per tap ``d`` along one axis: the slices of output and input
    indices it connects (output ``i`` reads input ``i + d - pad``)."""
    spans = []
    for d in range(k):
        lo, hi = tap_range(d, pad, size_in, size_out)
        if hi > lo:
            spans.append((d, slice(lo, hi), slice(lo + d - pad, hi + d - pad)))
    return spans


def _kernel_rows(W):
    """``(O k_h k_w, C)``: the kernels of ``W (O, C, k_h, k_w)``, one row per tap."""
    O, C, kh, kw = W.shape
    return W.transpose(0, 2, 3, 1).reshape(O * kh * kw, C)


class TapConvolution2D(chainer.FunctionNode):
    """``y = conv(x, W) + b``, stride 1, zero padding ``pad``; NumPy arrays.

    Same values (to float rounding) as
    ``F.convolution_2d(x, W, b, stride=1, pad=pad)``. Differentiable once (the
    backward is :class:`TapConvolution2DGrad`).
    """

    def __init__(self, pad):
        self.pad = tuple(pad)

    def check_type_forward(self, in_types):
        check_convolution_types(in_types, self.pad)

    def forward_cpu(self, inputs):
        self.retain_inputs((0, 1))
        x, W = inputs[:2]
        B, C, H, W_in = x.shape
        O, _, kh, kw = W.shape
        size_out = (H + 2 * self.pad[0] - kh + 1, W_in + 2 * self.pad[1] - kw + 1)
        # every tap's map: (B, O kh kw, H W_in)
        P = numpy.matmul(_kernel_rows(W), x.reshape(B, C, H * W_in))
        P = P.reshape(B, O, kh, kw, H, W_in)
        y = numpy.zeros((B, O) + size_out, x.dtype)
        for di, rows_out, rows_in in _tap_spans(kh, self.pad[0], H, size_out[0]):
            for dj, cols_out, cols_in in _tap_spans(kw, self.pad[1], W_in, size_out[1]):
                y[:, :, rows_out, cols_out] += P[:, :, di, dj, rows_in, cols_in]
        if len(inputs) == 3:
            y += inputs[2][:, None, None]
        return y,

    def backward(self, indexes, grad_outputs):
        return TapConvolution2DGrad(self.pad, indexes).apply(
            self.get_retained_inputs() + tuple(grad_outputs))


class TapConvolution2DGrad(chainer.FunctionNode):
    """``(x, W, gy) -> (gx, gW, gb)`` of :class:`TapConvolution2D`, restricted to
    ``indexes`` (0: ``x``, 1: ``W``, 2: ``b``). Not differentiable."""

    def __init__(self, pad, indexes):
        self.pad = pad
        self.indexes = tuple(indexes)

    def forward_cpu(self, inputs):
        x, W, gy = inputs
        B, C, H, W_in = x.shape
        O, _, kh, kw = W.shape
        size_out = gy.shape[2:]
        # the gradient of every tap's map: gy shifted back by the tap
        gP = numpy.zeros((B, O, kh, kw, H, W_in), gy.dtype)
        for di, rows_out, rows_in in _tap_spans(kh, self.pad[0], H, size_out[0]):
            for dj, cols_out, cols_in in _tap_spans(kw, self.pad[1], W_in, size_out[1]):
                gP[:, :, di, dj, rows_in, cols_in] = gy[:, :, rows_out, cols_out]
        gP = gP.reshape(B, O * kh * kw, H * W_in)
        grads = {}
        if 0 in self.indexes:
            grads[0] = numpy.matmul(_kernel_rows(W).T, gP).reshape(x.shape)
        if 1 in self.indexes:
            g_rows = numpy.matmul(gP, x.reshape(B, C, H * W_in).transpose(0, 2, 1)).sum(axis=0)
            grads[1] = numpy.ascontiguousarray(
                g_rows.reshape(O, kh, kw, C).transpose(0, 3, 1, 2))
        if 2 in self.indexes:
            grads[2] = gy.sum(axis=(0, 2, 3))
        return tuple(grads[i] for i in self.indexes)
