"""A stride-1 2-D convolution for the CPU by Winograd's minimal filtering.

Winograd's ``F(m x m, r x r)`` computes an ``m x m`` block of a convolution
with an ``r x r`` kernel from one ``a x a`` input tile (``a = m + r - 1``)
using ``a^2`` multiplications instead of ``m^2 r^2``:
``Y = A^T [(G g G^T) * (B^T d B)] A``. Over the channels the elementwise
product becomes, for each of the ``a^2`` transform points, one matrix product
``(tiles x C_in) @ (C_in x C_out)``; the transforms are small dense matrices
applied as one GEMM each. For the GQN's 5x5 gate convolution ``F(4 x 4,
5 x 5)`` does ``64 / 16 = 4`` multiplications per output instead of 25
(``F(2 x 2, 5 x 5)``: 9), in all three passes (output, input gradient, weight
gradient). On the paper's gate convolution (batch 36, 16x16, 401 or 650 -> 512
channels) that is 2-3x faster than the direct shifted-GEMM convolution of
:mod:`gqn.functions.convolution_2d` (``bench/conv.py``).

The transform matrices come from the Cook-Toom construction on the points
``0, 1, -1, 2, -2, 1/2, -1/2, ...`` and infinity (computed in float64, see
:func:`winograd_matrices`). The transforms add and subtract terms of unequal
size: in float32 the result is within about 1e-5 of the exact one, relative to
its largest value (a direct convolution: about 1e-6), as with cuDNN's Winograd
kernels. The input gradient is the Winograd convolution of the output gradient
with the kernels turned by 180 degrees and transposed; the weight gradient is
the exact adjoint of the forward transforms. The tiles are gathered from a
channels-last copy of the input and the products are laid out ``(point, tile,
channel)``, so no transform transposes a large array. Work on the wide channel
dimension goes in blocks (:data:`BLOCK_BYTES` of transformed data at a time),
so the stacked gate convolution of 12 cores (6,144 output channels) never
holds a whole transformed output or all its transformed kernels; the buffers
are per-thread scratch (:mod:`gqn.functions.workspace`).
"""
import functools

import chainer
import numpy
from chainer.utils import type_check

from gqn.functions.workspace import scratch as _scratch

#: The largest transformed block (points x channels x tiles) held at once.
BLOCK_BYTES = 128 << 20

_FINITE_POINTS = (0.0, 1.0, -1.0, 2.0, -2.0, 0.5, -0.5, 3.0, -3.0)


@functools.lru_cache(maxsize=None)
def winograd_matrices(m, r):
    """The 1-D transforms ``(A^T, G, B^T)`` of ``F(m, r)`` in float64.

    For a tile ``d`` of ``a = m + r - 1`` inputs and a filter ``g`` of
    ``r`` taps, ``A^T @ ((G @ g) * (B^T @ d))`` equals the correlation
    ``y[i] = sum_k d[i + k] g[k]``, ``i < m``.

    Returns:
        tuple: ``A^T (m, a)``, ``G (a, r)``, ``B^T (a, a)``.
    """
    a = m + r - 1
    if a - 1 > len(_FINITE_POINTS):
        raise ValueError('F(%d, %d) needs more interpolation points than defined' % (m, r))
    points = _FINITE_POINTS[:a - 1]

    def vandermonde(n):
        V = numpy.zeros((a, n))
        for i, p in enumerate(points):
            V[i] = p ** numpy.arange(n)
        V[-1, -1] = 1.0  # the point at infinity: the leading coefficient
        return V

    return vandermonde(m).T, vandermonde(r), numpy.linalg.inv(vandermonde(a)).T


@functools.lru_cache(maxsize=None)
def _transforms_2d(m, r, dtype):
    """``(out (m^2, a^2), filt (a^2, r^2), inp (a^2, a^2))``: the 2-D transforms as
    Kronecker products, flattened row-major (index ``i * size + j``)."""
    A_T, G, B_T = winograd_matrices(m, r)
    return tuple(numpy.kron(M, M).astype(dtype) for M in (A_T, G, B_T))


def _tiles(size_out, m):
    return -(-size_out[0] // m), -(-size_out[1] // m)


def _input_transform(x, m, r, pad, size_out, c_slice=slice(None)):
    """``(a^2, N, C)``: ``B^T d B`` of every input tile of ``x[:, c_slice]``.

    ``N = B * th * tw`` tiles in ``(b, ti, tj)`` order; tile ``(ti, tj)``
    starts at row ``ti * m - pad[0]`` and column ``tj * m - pad[1]`` of
    ``x`` (zeros outside the image). The tiles are gathered from a
    channels-last copy of ``x``, so every copy moves contiguous channel runs.
    """
    x = x[:, c_slice]
    B, C, H, W = x.shape
    a = m + r - 1
    th, tw = _tiles(size_out, m)
    padded = _scratch('w_padded', (B, th * m + r - 1, tw * m + r - 1, C), x.dtype)
    padded[...] = 0  # (th m + r - 1 >= H + 2 pad[0], likewise for the columns)
    padded[:, pad[0]:pad[0] + H, pad[1]:pad[1] + W] = x.transpose(0, 2, 3, 1)
    d = _scratch('w_tiles', (a, a, B, th, tw, C), x.dtype)
    for i in range(a):
        for j in range(a):
            d[i, j] = padded[:, i:i + m * th:m, j:j + m * tw:m]
    V = _scratch('w_input', (a * a, B * th * tw * C), x.dtype)
    numpy.matmul(_transforms_2d(m, r, x.dtype.type)[2], d.reshape(a * a, -1), out=V)
    return V.reshape(a * a, B * th * tw, C)


def _tile_view(images, m):
    """``(B, O, th, m, tw, m)`` view of ``images (B, O, th m, tw m)``."""
    B, O, h, w = images.shape
    return images.reshape(B, O, h // m, m, w // m, m)


def _output_transform(M, m, r, B, size_out, y):
    """``y (B, O, H_out, W_out) = `` the output tiles ``A^T M A`` of ``M (a^2, N, O)``."""
    th, tw = _tiles(size_out, m)
    O = M.shape[2]
    out = _transforms_2d(m, r, M.dtype.type)[0]
    Y = _scratch('w_output', (m * m, M[0].size), M.dtype)
    numpy.matmul(out, M.reshape(len(M), -1), out=Y)
    Y = Y.reshape(m, m, B, th, tw, O).transpose(2, 5, 3, 0, 4, 1)
    if (th * m, tw * m) == tuple(size_out):
        _tile_view(y, m)[...] = Y
    else:
        full = _scratch('w_output_image', (B, O, th * m, tw * m), M.dtype)
        _tile_view(full, m)[...] = Y
        y[...] = full[:, :, :size_out[0], :size_out[1]]


def _output_adjoint(gy, m, r):
    """``(a^2, N, O)``: the adjoint of :func:`_output_transform` applied to ``gy``."""
    B, O, h, w = gy.shape
    th, tw = _tiles((h, w), m)
    if (th * m, tw * m) != (h, w):
        full = _scratch('w_grad_image', (B, O, th * m, tw * m), gy.dtype)
        full[...] = 0
        full[:, :, :h, :w] = gy
        gy = full
    tiles = _scratch('w_grad_tiles', (m, m, B, th, tw, O), gy.dtype)
    tiles[...] = _tile_view(gy, m).transpose(3, 5, 0, 2, 4, 1)
    out = _transforms_2d(m, r, gy.dtype.type)[0]
    dM = _scratch('w_grad_products', (len(out.T), B * th * tw * O), gy.dtype)
    numpy.matmul(out.T, tiles.reshape(m * m, -1), out=dM)
    return dM.reshape(-1, B * th * tw, O)


def _filter_transform(W, m, flip=False, o=slice(None)):
    """``(a^2, O, C)``: ``G g G^T`` of the kernels ``g`` of the output channels ``o`` of
    the convolution with ``W (O, C, r, r)``. With ``flip``, of the convolution with
    the kernels turned by 180 degrees and transposed (``(C, O, r, r)``: the input
    gradient's), so ``O`` and ``C`` swap and ``o`` selects channels of ``W``'s second
    axis. The result is a scratch buffer, valid until the next call."""
    r = W.shape[2]
    filt = _transforms_2d(m, r, W.dtype.type)[1]
    if flip:  # reversing the r^2 taps of a row-major kernel turns it by 180 degrees
        filt = numpy.ascontiguousarray(filt[:, ::-1])  # (BLAS takes no negative strides)
        W = W[:, o].transpose(1, 0, 2, 3)
    else:
        W = W[o]
    U = _scratch('w_filters', (len(filt), W.shape[0] * W.shape[1]), W.dtype)
    numpy.matmul(filt, W.reshape(-1, r * r).T, out=U)
    return U.reshape((-1,) + W.shape[:2])


def _block(channels, per_channel_bytes):
    """Channels per block so that a block stays within :data:`BLOCK_BYTES`."""
    return max(1, min(channels, BLOCK_BYTES // max(1, per_channel_bytes)))


def winograd_forward(x, W, pad, m, flip=False):
    """``conv(x, W)`` (no bias), stride 1, zero padding ``pad``; NumPy arrays.

    Args:
        x: ``(B, C, H, W)``.
        W: ``(O, C, r, r)``; with ``flip``, ``(C, O, r, r)``, convolved turned by
            180 degrees and transposed (the input gradient of a convolution with ``W``).
    """
    B, C, H, W_in = x.shape
    r = W.shape[2]
    O = W.shape[1 if flip else 0]
    size_out = (H + 2 * pad[0] - r + 1, W_in + 2 * pad[1] - r + 1)
    a2 = (m + r - 1) ** 2
    th, tw = _tiles(size_out, m)
    n = B * th * tw
    y = numpy.empty((B, O) + size_out, x.dtype)
    step_c = _block(C, a2 * n * x.itemsize)
    step_o = _block(O, a2 * n * x.itemsize)
    V = _input_transform(x, m, r, pad, size_out) if step_c == C else None
    for o in range(0, O, step_o):
        o_end = min(O, o + step_o)
        U = _filter_transform(W, m, flip, slice(o, o_end))  # (a^2, o_end - o, C)
        M = _scratch('w_products', (a2, n, o_end - o), x.dtype)
        if V is not None:
            numpy.matmul(V, U.transpose(0, 2, 1), out=M)
        else:  # C too wide for one block: accumulate over blocks of input channels
            P = _scratch('w_block_products', M.shape, x.dtype)
            for c in range(0, C, step_c):
                V_c = _input_transform(x, m, r, pad, size_out, slice(c, c + step_c))
                numpy.matmul(V_c, U[:, :, c:c + step_c].transpose(0, 2, 1),
                             out=M if c == 0 else P)
                if c:
                    M += P
        _output_transform(M, m, r, B, size_out, y[:, o:o_end])
    return y


def winograd_weight_grad(x, gy, r, pad, m):
    """``dL/dW (O, C, r, r)`` of the convolution of ``x`` given ``gy``."""
    B, C = x.shape[:2]
    O = gy.shape[1]
    filt = _transforms_2d(m, r, x.dtype.type)[1]
    a2 = len(filt)
    th, tw = _tiles(gy.shape[2:], m)
    V = _input_transform(x, m, r, pad, gy.shape[2:])  # (a^2, N, C)
    gW = numpy.empty((O, C, r, r), x.dtype)
    step_o = _block(O, a2 * B * th * tw * x.itemsize)
    for o in range(0, O, step_o):
        dM = _output_adjoint(gy[:, o:o + step_o], m, r)  # (a^2, N, O_block)
        dU = _scratch('w_grad_filters', (a2, dM.shape[2], C), x.dtype)
        numpy.matmul(dM.transpose(0, 2, 1), V, out=dU)
        numpy.matmul(dU.reshape(a2, -1).T, filt, out=gW[o:o + step_o].reshape(-1, r * r))
    return gW


def applicable(W_shape, pad):
    """Whether :class:`WinogradConvolution2D` handles a kernel of this shape and padding
    (square, 3x3 to 5x5, padding below the kernel size)."""
    r, c = W_shape[2:]
    pad = tuple(pad)
    return r == c and 3 <= r <= 5 and all(0 <= p <= r - 1 for p in pad)


def check_convolution_types(in_types, pad):
    """Chainer type check of ``(x, W[, b])`` for a stride-1 convolution with padding ``pad``."""
    n_in = in_types.size()
    type_check.expect(2 <= n_in, n_in <= 3)
    x_type, w_type = in_types[:2]
    type_check.expect(
        x_type.dtype.kind == 'f', w_type.dtype == x_type.dtype,
        x_type.ndim == 4, w_type.ndim == 4,
        x_type.shape[1] == w_type.shape[1],
        x_type.shape[2] + 2 * pad[0] >= w_type.shape[2],
        x_type.shape[3] + 2 * pad[1] >= w_type.shape[3])
    if type_check.eval(n_in) == 3:
        b_type = in_types[2]
        type_check.expect(b_type.dtype == x_type.dtype, b_type.ndim == 1,
                          b_type.shape[0] == w_type.shape[0])


class WinogradConvolution2D(chainer.FunctionNode):
    """``y = conv(x, W) + b``, stride 1, zero padding ``pad``; NumPy arrays.

    Same values (to float rounding) as
    ``F.convolution_2d(x, W, b, stride=1, pad=pad)`` for the kernels of
    :func:`applicable`. ``m`` is the output tile size of ``F(m x m, r x r)``.
    Differentiable once (the backward is :class:`WinogradConvolution2DGrad`).
    """

    def __init__(self, pad, m=4):
        self.pad = tuple(pad)
        self.m = m

    def check_type_forward(self, in_types):
        check_convolution_types(in_types, self.pad)

    def forward_cpu(self, inputs):
        self.retain_inputs((0, 1))
        x, W = inputs[:2]
        y = winograd_forward(x, W, self.pad, self.m)
        if len(inputs) == 3:
            y += inputs[2][:, None, None]
        return y,

    def backward(self, indexes, grad_outputs):
        x, W = self.get_retained_inputs()
        gy, = grad_outputs
        return WinogradConvolution2DGrad(self.pad, self.m, indexes).apply((x, W, gy))


class WinogradConvolution2DGrad(chainer.FunctionNode):
    """``(x, W, gy) -> (gx, gW, gb)`` of :class:`WinogradConvolution2D`,
    restricted to the gradients in ``indexes`` (0: ``x``, 1: ``W``, 2: ``b``).
    Not differentiable."""

    def __init__(self, pad, m, indexes):
        self.pad = pad
        self.m = m
        self.indexes = tuple(indexes)

    def forward_cpu(self, inputs):
        x, W, gy = inputs
        r = W.shape[2]
        grads = {}
        if 0 in self.indexes:
            # the convolution of gy with the flipped, transposed kernels (C, O, r, r)
            grads[0] = winograd_forward(gy, W, tuple(r - 1 - p for p in self.pad), self.m,
                                        flip=True)
        if 1 in self.indexes:
            grads[1] = winograd_weight_grad(x, gy, r, self.pad, self.m)
        if 2 in self.indexes:
            grads[2] = gy.sum(axis=(0, 2, 3))
        return tuple(grads[i] for i in self.indexes)
