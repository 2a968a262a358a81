"""A stride-1 2-D convolution for the CPU that never materialises im2col.

Chainer's CPU ``convolution_2d`` builds the full ``k_h * k_w``-fold column
matrix (im2col) for the forward pass and again for the weight gradient, and
scatters a second one back (col2im) for the input gradient. Here only the
``k_w`` horizontal shifts are copied, into a matrix whose rows are the pixels
in ``(row, batch, column)`` order: shifting by one image row is then an
offset of ``B * W_out`` rows, so every vertical tap of the kernel reads a
contiguous row range of that matrix and the convolution is ``k_h`` large
GEMMs accumulated into the output (likewise for both gradients). On a ``5 x 5``
kernel this copies ``5x`` the input instead of ``25x`` and does the same
FLOPs in a few calls to BLAS with ``K = k_w * C_in``.

The work buffers (the shift matrix, the transposed input and output, a block of
GEMM product, 16 MiB in float32) are kept per thread and reused across calls;
they grow to the largest call seen, about ``(k_w + 1) |x| + |y|``.

:func:`convolution_2d`, the entry point, sends kernels with few output channels
to :mod:`gqn.kernels.tap_convolution_2d` (one GEMM, then shifted sums), other
3x3 and 5x5 kernels to Winograd's algorithm
(:mod:`gqn.kernels.winograd_convolution_2d`, ``F(4 x 4, r x r)``: 6.25x fewer
multiplications on 5x5 kernels); this module's :class:`Convolution2D` runs the rest.
"""
import chainer
import chainer.functions as F
import numpy

from gqn.kernels import tap_convolution_2d
from gqn.kernels.convolution_types import check_convolution_types
from gqn.kernels.tap_convolution_2d import TapConvolution2D, tap_range
from gqn.kernels.winograd_convolution_2d import WinogradConvolution2D, applicable
from gqn.kernels.workspace import scratch as _scratch

_SCRATCH_ELEMENTS = 1 << 22  # accumulated GEMM products go through blocks this size

#: Output tile size ``m`` of Winograd's ``F(m x m, r x r)`` per kernel size ``r``
#: (:mod:`gqn.kernels.winograd_convolution_2d`); other kernels use shifted GEMMs.
WINOGRAD_TILE = {3: 4, 5: 4}


def _matmul(a, b, out, accumulate):
    """``out = a @ b`` or ``out += a @ b`` (through a bounded scratch product)."""
    if not accumulate:
        numpy.matmul(a, b, out=out)
        return
    blocks = -(-len(a) * b.shape[1] // _SCRATCH_ELEMENTS)
    rows = -(-len(a) // blocks)
    product = _scratch('product', (rows, b.shape[1]), out.dtype)
    for start in range(0, len(a), rows):
        stop = min(start + rows, len(a))
        numpy.matmul(a[start:stop], b, out=product[:stop - start])
        out[start:stop] += product[:stop - start]


def _row_shifts(x, kw, pw, w_out):
    """The horizontal-shift matrix ``(H, B, W_out, kw, C)`` of ``x (B, C, H, W)``.

    ``cols[i, b, j, dj, c] = x[b, c, i, j + dj - pw]`` (zero outside the image).
    """
    B, C, H, W = x.shape
    x_t = _scratch('image', (H, B, W, C), x.dtype)
    x_t[...] = x.transpose(2, 0, 3, 1)
    cols = _scratch('cols', (H, B, w_out, kw, C), x.dtype)
    for dj in range(kw):
        lo, hi = tap_range(dj, pw, W, w_out)
        cols[:, :, :lo, dj] = 0
        cols[:, :, hi:, dj] = 0
        cols[:, :, lo:hi, dj] = x_t[:, :, lo + dj - pw:hi + dj - pw]
    return cols


def _kernel_matrices(W):
    """``(kh, C_out, kw * C_in)``: the weight slice of each vertical tap, ``(dj, c)`` columns."""
    O, C, kh, kw = W.shape
    return numpy.ascontiguousarray(W.transpose(2, 0, 3, 1)).reshape(kh, O, kw * C)


def _taps(k, pad, size_in, size_out, target):
    """The taps along one axis, in the order to accumulate them into ``target``.

    Returns ``(d, lo, hi, accumulate)`` tuples: tap ``d`` maps output indices
    ``[lo, hi)`` to input indices ``[lo + d - pad, hi + d - pad)``. The
    target is the ``'output'`` (forward pass) or the ``'input'`` (gradient)
    side. A tap covering the whole target, if there is one, comes first with
    ``accumulate=False`` and initialises it; otherwise every tap accumulates
    and the caller zeroes the target first (``taps[0][3]`` tells which).
    """
    def covers(d, lo, hi):
        if target == 'output':
            return (lo, hi) == (0, size_out)
        return (lo + d - pad, hi + d - pad) == (0, size_in)

    spans = [(d, *tap_range(d, pad, size_in, size_out)) for d in range(k)]
    first = next((d for d, lo, hi in spans if covers(d, lo, hi)), None)
    spans.sort(key=lambda span: span[0] != first)
    return [(d, lo, hi, d != first) for d, lo, hi in spans if hi > lo]


class Convolution2D(chainer.FunctionNode):
    """``y = conv(x, W) + b``, stride 1, zero padding ``(ph, pw)``; NumPy arrays.

    Same values as ``F.convolution_2d(x, W, b, stride=1, pad=(ph, pw))``.
    Differentiable once (the backward pass is :class:`Convolution2DGrad`).
    """

    def __init__(self, pad):
        self.ph, self.pw = pad

    def check_type_forward(self, in_types):
        check_convolution_types(in_types, (self.ph, self.pw))

    def forward_cpu(self, inputs):
        self.retain_inputs((0, 1))
        x, W = inputs[:2]
        B, C, H, W_in = x.shape
        O, _, kh, kw = W.shape
        h_out, w_out = H + 2 * self.ph - kh + 1, W_in + 2 * self.pw - kw + 1
        cols = _row_shifts(x, kw, self.pw, w_out).reshape(H * B * w_out, kw * C)
        kernels = _kernel_matrices(W)
        line = B * w_out
        y_t = _scratch('out', (O, h_out * line), x.dtype)
        taps = _taps(kh, self.ph, H, h_out, 'output')
        if taps[0][3]:
            y_t[...] = 0
        for di, lo, hi, accumulate in taps:
            rows = slice((lo + di - self.ph) * line, (hi + di - self.ph) * line)
            _matmul(kernels[di], cols[rows].T, y_t[:, lo * line:hi * line], accumulate)
        y = numpy.empty((B, O, h_out, w_out), x.dtype)
        y_t = y_t.reshape(O, h_out, B, w_out).transpose(2, 0, 1, 3)
        if len(inputs) == 3:
            numpy.add(y_t, inputs[2][:, None, None], out=y)
        else:
            y[...] = y_t
        return y,

    def backward(self, indexes, grad_outputs):
        x, W = self.get_retained_inputs()
        gy, = grad_outputs
        return Convolution2DGrad((self.ph, self.pw), indexes).apply((x, W, gy))


class Convolution2DGrad(chainer.FunctionNode):
    """``(x, W, gy) -> (gx, gW, gb)`` of :class:`Convolution2D`, restricted to
    the gradients listed in ``indexes`` (0: ``x``, 1: ``W``, 2: ``b``).
    Not differentiable."""

    def __init__(self, pad, indexes):
        self.ph, self.pw = pad
        self.indexes = tuple(indexes)

    def forward_cpu(self, inputs):
        x, W, gy = inputs
        B, C, H, W_in = x.shape
        O, _, kh, kw = W.shape
        _, _, h_out, w_out = gy.shape
        line = B * w_out
        gy_t = _scratch('out', (O, h_out, B, w_out), gy.dtype)
        gy_t[...] = gy.transpose(1, 2, 0, 3)
        gy_t = gy_t.reshape(O, h_out * line)
        grads = {}
        if 1 in self.indexes:
            cols = _row_shifts(x, kw, self.pw, w_out).reshape(H * line, kw * C)
            g_kernels = numpy.zeros((kh, O, kw * C), x.dtype)
            for di, lo, hi, _ in _taps(kh, self.ph, H, h_out, 'output'):
                rows = slice((lo + di - self.ph) * line, (hi + di - self.ph) * line)
                numpy.matmul(gy_t[:, lo * line:hi * line], cols[rows], out=g_kernels[di])
            grads[1] = g_kernels.reshape(kh, O, kw, C).transpose(1, 3, 0, 2).copy()
        if 0 in self.indexes:
            grads[0] = self._grad_x(x, _kernel_matrices(W), gy_t, w_out)
        if 2 in self.indexes:
            grads[2] = gy_t.sum(axis=1)
        return tuple(grads[i] for i in self.indexes)

    def _grad_x(self, x, kernels, gy_t, w_out):
        B, C, H, W_in = x.shape
        kh, _, kwc = kernels.shape
        kw = kwc // C
        line = B * w_out
        g_cols = _scratch('cols', (H * line, kwc), x.dtype)
        taps = _taps(kh, self.ph, H, gy_t.shape[1] // line, 'input')
        if taps[0][3]:
            g_cols[...] = 0
        for di, lo, hi, accumulate in taps:
            rows = slice((lo + di - self.ph) * line, (hi + di - self.ph) * line)
            _matmul(gy_t[:, lo * line:hi * line].T, kernels[di], g_cols[rows], accumulate)
        g_cols = g_cols.reshape(H, B, w_out, kw, C)
        gx_t = _scratch('image', (H, B, W_in, C), x.dtype)
        taps = _taps(kw, self.pw, W_in, w_out, 'input')
        if taps[0][3]:
            gx_t[...] = 0
        for dj, lo, hi, accumulate in taps:
            src = g_cols[:, :, lo:hi, dj]
            dst = gx_t[:, :, lo + dj - self.pw:hi + dj - self.pw]
            if accumulate:
                dst += src
            else:
                dst[...] = src
        return gx_t.transpose(1, 3, 0, 2).copy()


def runs_natively(*arrays):
    """Whether :func:`convolution_2d` uses this module's NumPy implementation
    for these arrays (NumPy float32/float64); otherwise it calls
    ``F.convolution_2d`` (cuDNN on CuPy arrays, Chainer's own elsewhere)."""
    return all(isinstance(a, numpy.ndarray) and a.dtype in (numpy.float32, numpy.float64)
               for a in arrays if a is not None)


def convolution_2d(x, W, b=None, pad=None):
    """Stride-1 two-dimensional convolution, ``'same'`` padding by default.

    Args:
        x (~chainer.Variable or array): ``(B, C_in, H, W)``.
        W (~chainer.Variable or array, or a sequence of them):
            ``(C_out, C_in, k_h, k_w)``, or its blocks of output channels in order
            (for the stacked convolutions of one input: the Winograd path then keeps
            no concatenated copy of the weights).
        b (~chainer.Variable or array or None): ``(C_out,)``.
        pad (int or pair of int or None): zero padding ``(p_h, p_w)``;
            ``None`` means ``(k_h // 2, k_w // 2)``, which keeps ``H x W``
            for odd kernels.

    Returns:
        ~chainer.Variable: ``(B, C_out, H + 2 p_h - k_h + 1, W + 2 p_w - k_w + 1)``,
        equal (to float rounding) to ``F.convolution_2d(x, W, b, stride=1, pad=pad)``.
        NumPy float32/float64 inputs use :class:`TapConvolution2D` for kernels
        with few output channels (:func:`gqn.kernels.tap_convolution_2d.applicable`),
        :class:`WinogradConvolution2D` for the other kernel sizes in
        :data:`WINOGRAD_TILE` (relative error about 1e-5 in float32, against 1e-6
        for a direct convolution) and :class:`Convolution2D` for the rest; anything
        else (CuPy, float16) goes
        to ``F.convolution_2d`` unchanged (cuDNN picks its own algorithm).
    """
    Ws = tuple(W) if isinstance(W, (list, tuple)) else (W,)
    kh, kw = Ws[0].shape[2:]
    if pad is None:
        pad = (kh // 2, kw // 2)
    elif not isinstance(pad, (tuple, list)):
        pad = (pad, pad)
    pad = (int(pad[0]), int(pad[1]))
    bias = () if b is None else (b,)
    native = runs_natively(*[chainer.as_array(a) for a in (x,) + Ws + bias])
    if native and len(Ws) == 1 and tap_convolution_2d.applicable(Ws[0].shape):
        y, = TapConvolution2D(pad).apply((x, Ws[0]) + bias)
        return y
    if native and kh in WINOGRAD_TILE and applicable(Ws[0].shape, pad):
        y, = WinogradConvolution2D(pad, WINOGRAD_TILE[kh], len(Ws)).apply((x,) + Ws + bias)
        return y
    W = Ws[0] if len(Ws) == 1 else F.concat(Ws, axis=0)
    if not native:
        return F.convolution_2d(x, W, b, stride=1, pad=pad)
    y, = Convolution2D(pad).apply((x, W) + bias)
    return y
