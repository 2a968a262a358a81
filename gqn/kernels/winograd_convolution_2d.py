"""A stride-1 2-D convolution for the CPU by Winograd's minimal filtering.

Winograd's ``F(m x m, r x r)`` computes an ``m x m`` block of a convolution
with an ``r x r`` kernel from one ``a x a`` input tile (``a = m + r - 1``)
using ``a^2`` multiplications instead of ``m^2 r^2``:
``Y = A^T [(G g G^T) * (B^T d B)] A``. Over the channels the elementwise
product becomes, for each of the ``a^2`` transform points, one matrix product
``(tiles x C_in) @ (C_in x C_out)``. The input transform runs separably, as
two passes of batched ``a x a`` GEMMs that read the overlapping tiles through
strided views of a pixel-major copy of the input (no tile is copied); the
kernel and output transforms are dense 2-D matrices applied as one GEMM each,
the output's with each tile's ``m x m`` block contiguous. For the GQN's 5x5
gate convolution ``F(4 x 4, 5 x 5)`` does ``64 / 16 = 4`` multiplications per
output instead of 25 (``F(2 x 2, 5 x 5)``: 9), in all three passes (output,
input gradient, weight gradient). On the paper's gate convolution (batch 36, 16x16, 401 or 650 -> 512
channels) that is 2-3x faster than the direct shifted-GEMM convolution of
:mod:`gqn.kernels.convolution_2d` (``bench/conv.py``).

The transform matrices come from the Cook-Toom construction on the points
``0, 1, -1, 2, -2, 1/2, -1/2, ...`` and infinity (computed in float64, see
:func:`winograd_matrices`). The transforms add and subtract terms of unequal
size: in float32 the result is within about 1e-5 of the exact one, relative to
its largest value (a direct convolution: about 1e-6), as with cuDNN's Winograd
kernels. The input gradient is the Winograd convolution of the output gradient
with the kernels turned by 180 degrees and transposed; the weight gradient is
the exact adjoint of the forward transforms. The products are laid out
``(point, tile, channel)``. Work on the wide channel dimension goes in blocks
(:data:`BLOCK_BYTES` of transformed data at a time, in every pass), and a large
batch of large images in chunks of images, so the stacked gate convolution of
12 cores (6,144 output channels) never holds a whole transformed output or all
its transformed kernels; the buffers are per-thread scratch
(:mod:`gqn.kernels.workspace`). The layout copies of the transforms run in
batch pieces on the BLAS's threads (:func:`gqn.kernels.parallel.parallel_for`).
"""
import functools

import chainer
import numpy
from numpy.lib.stride_tricks import as_strided

from gqn.kernels.convolution_types import check_convolution_types
from gqn.kernels.parallel import parallel_for
from gqn.kernels.workspace import scratch as _scratch

#: The largest transformed block (points x channels x tiles) held at once.
BLOCK_BYTES = 64 << 20
#: The fewest channels a block holds (unless the convolution has fewer).
MIN_BLOCK_CHANNELS = 256

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
def _transforms_1d(m, r, dtype):
    """:func:`winograd_matrices` in ``dtype``."""
    return tuple(M.astype(dtype) for M in winograd_matrices(m, r))


@functools.lru_cache(maxsize=None)
def _transforms_2d(m, r, dtype):
    """``(out (m^2, a^2), filt (a^2, r^2))``: the 2-D output and kernel transforms as
    Kronecker products, flattened row-major (index ``i * size + j``)."""
    A_T, G, _ = winograd_matrices(m, r)
    return tuple(numpy.kron(M, M).astype(dtype) for M in (A_T, G))


def tile_count(size_out, m):
    return -(-size_out[0] // m), -(-size_out[1] // m)


def offsets(sizes):
    """``[0, s_0, s_0 + s_1, ...]``: where consecutive blocks of ``sizes`` start and end."""
    return numpy.concatenate(([0], numpy.cumsum(sizes))).tolist()


def input_transform(x, m, r, pad, size_out, c_slice=slice(None), name='w_input'):
    """``(a^2, N, C)``: ``B^T d B`` of every input tile of ``x[:, c_slice]``, in the
    scratch buffer ``name``. ``x`` may also be a list of arrays, transformed as their
    concatenation along channels (then ``c_slice`` must be the whole).

    ``N = th * tw * B`` tiles in ``(ti, tj, b)`` order; tile ``(ti, tj)``
    starts at row ``ti * m - pad[0]`` and column ``tj * m - pad[1]`` of
    ``x`` (zeros outside the image). The transform is separable and goes in
    two passes of batched ``(a, a)`` GEMMs over a pixel-major copy of ``x``
    (rows, columns, batch, channels): the tiles overlap, so each pass reads
    them through strided views instead of gathering copies of them.
    """
    parts = [p[:, c_slice] for p in x] if isinstance(x, (list, tuple)) else [x[:, c_slice]]
    x = parts[0]
    B, _, H, W = x.shape
    C = sum(p.shape[1] for p in parts)
    a = m + r - 1
    th, tw = tile_count(size_out, m)
    BC = B * C
    B_T = _transforms_1d(m, r, x.dtype.type)[2]
    # (th m + r - 1 >= H + 2 pad[0], likewise for the columns)
    padded = _scratch('w_padded', (th * m + r - 1, tw * m + r - 1, B, C), x.dtype)
    padded[:pad[0]] = 0
    padded[pad[0] + H:] = 0
    padded[:, :pad[1]] = 0
    padded[:, pad[1] + W:] = 0
    inside = padded[pad[0]:pad[0] + H, pad[1]:pad[1] + W]
    ends = offsets([p.shape[1] for p in parts])

    def copy(start, stop):  # (one (C, H W) transpose per image beats one 4-D transpose)
        for part, c, c_end in zip(parts, ends, ends[1:]):
            for b in range(start, stop):
                inside[:, :, b, c:c_end] = part[b].transpose(1, 2, 0)

    parallel_for(copy, B)
    row, item = padded.strides[0], x.itemsize
    rows = _scratch('w_rows', (th, a, padded.shape[1] * BC), x.dtype)
    numpy.matmul(B_T, as_strided(padded, (th, a, rows.shape[2]), (m * row, row, item),
                                 writeable=False), out=rows)
    row = rows.strides[1]
    V = _scratch(name, (a, a, th, tw, BC), x.dtype)
    numpy.matmul(B_T, as_strided(rows, (th, a, tw, a, BC),
                                 (a * row, row, m * BC * item, BC * item, item),
                                 writeable=False),
                 out=V.transpose(2, 0, 3, 1, 4))
    return V.reshape(a * a, th * tw * B, C)


def _runs(a, m):
    """``a``'s last axis (contiguous, a multiple of ``m`` long) as items of ``m``
    elements each (a view). NumPy moves such an item as one ``m * itemsize``-byte
    block: the layout changes of the output tiles, which move rows of ``m``
    pixels, copy 2-3x faster than element by element."""
    return a.view(numpy.dtype((numpy.void, m * a.itemsize)))


def _tile_runs(images, m):
    """``(B, O, th, m, tw)``: ``images (B, O, th m, tw m)`` as rows of tiles (items:
    :func:`_runs` of ``m`` pixels), indexed ``[b, o, ti, i, tj]``."""
    B, O, h, w = images.shape
    return _runs(images, m).reshape(B, O, h // m, m, w // m)


def output_transform(M, m, r, B, size_out, y):
    """``y (B, O, H_out, W_out) = `` the output tiles ``A^T M A`` of ``M (a^2, N, O)``."""
    th, tw = tile_count(size_out, m)
    O = M.shape[2]
    out = _transforms_2d(m, r, M.dtype.type)[0]
    # (N O, m^2): the m x m block of each output tile in one contiguous run
    Y = _scratch('w_output', (M[0].size, m * m), M.dtype)
    numpy.matmul(M.reshape(len(M), -1).T, out.T, out=Y)
    Y = _runs(Y, m).reshape(th, tw, B, O, m).transpose(2, 3, 0, 4, 1)  # [b, o, ti, i, tj]
    exact = (th * m, tw * m) == tuple(size_out)
    full = y if exact else _scratch('w_output_image', (B, O, th * m, tw * m), M.dtype)

    def scatter(start, stop):
        _tile_runs(full[start:stop], m)[...] = Y[start:stop]
        if not exact:
            y[start:stop] = full[start:stop, :, :size_out[0], :size_out[1]]

    parallel_for(scatter, B)


def output_adjoint(gy, m, r):
    """``(a^2, N, O)``: the adjoint of :func:`output_transform` applied to ``gy``."""
    B, O, h, w = gy.shape
    th, tw = tile_count((h, w), m)
    if (th * m, tw * m) != (h, w):
        full = _scratch('w_grad_image', (B, O, th * m, tw * m), gy.dtype)
        full[...] = 0
        full[:, :, :h, :w] = gy
        gy = full
    gy = numpy.ascontiguousarray(gy)
    tiles = _scratch('w_grad_tiles', (th, tw, B, O, m, m), gy.dtype)
    tile_runs = _runs(tiles, m).reshape(th, tw, B, O, m)  # [ti, tj, b, o, i]

    def gather(start, stop):
        tile_runs[:, :, start:stop] = _tile_runs(gy[start:stop], m).transpose(2, 4, 0, 1, 3)

    parallel_for(gather, B)
    out = _transforms_2d(m, r, gy.dtype.type)[0]
    dM = _scratch('w_grad_products', (len(out.T), B * th * tw * O), gy.dtype)
    numpy.matmul(tiles.reshape(-1, m * m), out, out=dM.T)
    return dM.reshape(-1, B * th * tw, O)


def filter_transform(W, m, flip, o, c):
    """``(a^2, C, O)``: ``G g G^T`` of the kernels ``g`` from input channels ``c`` to
    output channels ``o`` of the convolution with ``W (O, C, r, r)``, or with
    ``flip`` of the convolution with ``W``'s kernels turned by 180 degrees and
    transposed (``(C, O, r, r)``: the input gradient's, so ``o`` selects channels of
    ``W``'s second axis and ``c`` of its first). The right-hand factors of the
    products ``V[p] @ U[p]``; a scratch buffer, valid until the next call."""
    r = W.shape[2]
    filt = _transforms_2d(m, r, W.dtype.type)[1]
    if flip:  # reversing the r^2 taps of a row-major kernel turns it by 180 degrees
        filt = numpy.ascontiguousarray(filt[:, ::-1])  # (BLAS takes no negative strides)
        g = W[c, o]  # (C, O, r, r)
    else:
        g = W[o, c]  # (O, C, r, r)
    U = _scratch('w_filters', (len(filt), g.shape[0] * g.shape[1]), W.dtype)
    numpy.matmul(filt, g.reshape(-1, r * r).T, out=U)  # (a copy of g unless c, o span W)
    U = U.reshape((-1,) + g.shape[:2])
    return U if flip else U.transpose(0, 2, 1)


def matmul_accumulate(V, K, M):
    """``M[p] += V[p] @ K[p]`` for every point ``p``, one point at a time so that each
    product is added while it is still in cache. (SciPy's BLAS GEMM with ``beta = 1``
    would add in place, but its OpenBLAS thread pool then competes with NumPy's for
    the cores: measured slower over a training step.)

    Args:
        V: ``(a^2, N, C)``; K: ``(a^2, C, O)``; M: ``(a^2, N, O)``.
    """
    P = _scratch('w_point_product', M.shape[1:], M.dtype)
    for p in range(len(M)):
        M[p] += numpy.matmul(V[p], K[p], out=P)


def _block(channels, per_channel_bytes):
    """Channels per block so that a block stays within :data:`BLOCK_BYTES`."""
    return max(1, min(channels, BLOCK_BYTES // max(1, per_channel_bytes)))


def chunks(B, channels, per_image_channel_bytes):
    """Slices of the batch so that :data:`MIN_BLOCK_CHANNELS` (or ``channels``, if
    fewer) channels of a chunk fit a block: a large batch of large images goes
    through in chunks of images rather than in blocks of few channels, which would
    transform the other operand again for every block."""
    size = max(1, BLOCK_BYTES // (per_image_channel_bytes * min(channels, MIN_BLOCK_CHANNELS)))
    return [slice(b, b + size) for b in range(0, B, size)]


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
    y = numpy.empty((B, O) + size_out, x.dtype)
    per_image = (m + r - 1) ** 2 * numpy.prod(tile_count(size_out, m)) * x.itemsize
    for b in chunks(B, max(C, O), per_image):
        _forward_chunk(x[b], W, pad, m, flip, y[b])
    return y


def _forward_chunk(x, W, pad, m, flip, y):
    B, C = x.shape[:2]
    O = y.shape[1]
    r = W.shape[2]
    size_out = y.shape[2:]
    a2 = (m + r - 1) ** 2
    th, tw = tile_count(size_out, m)
    n = B * th * tw
    step_c = _block(C, a2 * n * x.itemsize)
    step_o = _block(O, a2 * n * x.itemsize)
    V = input_transform(x, m, r, pad, size_out) if step_c == C else None
    for o in range(0, O, step_o):
        o_end = min(O, o + step_o)
        M = _scratch('w_products', (a2, n, o_end - o), x.dtype)
        if V is not None:
            numpy.matmul(V, filter_transform(W, m, flip, slice(o, o_end), slice(None)),
                         out=M)
        else:  # C too wide for one block: accumulate over blocks of input channels
            for c in range(0, C, step_c):
                c_slice = slice(c, c + step_c)
                V_c = input_transform(x, m, r, pad, size_out, c_slice)
                K = filter_transform(W, m, flip, slice(o, o_end), c_slice)
                if c:
                    matmul_accumulate(V_c, K, M)
                else:
                    numpy.matmul(V_c, K, out=M)
        output_transform(M, m, r, B, size_out, y[:, o:o_end])


def winograd_weight_grad(x, gy, r, pad, m):
    """``dL/dW (O, C, r, r)`` of the convolution of ``x`` given ``gy``."""
    B, C = x.shape[:2]
    O = gy.shape[1]
    gW = numpy.empty((O, C, r, r), x.dtype)
    per_image = (m + r - 1) ** 2 * numpy.prod(tile_count(gy.shape[2:], m)) * x.itemsize
    for i, b in enumerate(chunks(B, max(C, O), per_image)):
        _weight_grad_chunk(x[b], gy[b], r, pad, m, gW, accumulate=i > 0)
    return gW


def kernel_gradient(dM, V, m, r):
    """``(O, C, r, r)``: the kernel gradient from the output adjoint ``dM (a^2, N, O)``
    and the input transform ``V (a^2, N, C)`` of the same tiles (a scratch buffer)."""
    dU = _scratch('w_grad_filters', (len(dM), dM.shape[2], V.shape[2]), V.dtype)
    numpy.matmul(dM.transpose(0, 2, 1), V, out=dU)
    g = numpy.matmul(dU.reshape(len(dU), -1).T, _transforms_2d(m, r, V.dtype.type)[1],
                     out=_scratch('w_grad_kernels', (dU[0].size, r * r), V.dtype))
    return g.reshape(dU.shape[1:] + (r, r))


def _weight_grad_chunk(x, gy, r, pad, m, gW, accumulate):
    B, C = x.shape[:2]
    O = gy.shape[1]
    a2 = (m + r - 1) ** 2
    th, tw = tile_count(gy.shape[2:], m)
    step_c = _block(C, a2 * B * th * tw * x.itemsize)
    step_o = _block(O, a2 * B * th * tw * x.itemsize)
    dM = output_adjoint(gy, m, r) if step_o == O else None  # (a^2, N, O)
    for c in range(0, C, step_c):
        c_end = min(C, c + step_c)
        V = input_transform(x, m, r, pad, gy.shape[2:], slice(c, c_end))  # (a^2, N, C_block)
        for o in range(0, O, step_o):
            o_end = min(O, o + step_o)
            if step_o < O:
                dM = output_adjoint(gy[:, o:o_end], m, r)  # (a^2, N, O_block)
            g = kernel_gradient(dM, V, m, r)
            if accumulate:
                gW[o:o_end, c:c_end] += g
            else:
                gW[o:o_end, c:c_end] = g


def applicable(W_shape, pad):
    """Whether :class:`WinogradConvolution2D` handles a kernel of this shape and padding
    (square, 3x3 to 5x5, padding below the kernel size)."""
    r, c = W_shape[2:]
    pad = tuple(pad)
    return r == c and 3 <= r <= 5 and all(0 <= p <= r - 1 for p in pad)


def _concat(Ws):
    return Ws[0] if len(Ws) == 1 else numpy.concatenate(Ws)


class WinogradConvolution2D(chainer.FunctionNode):
    """``y = conv(x, W) + b``, stride 1, zero padding ``pad``; NumPy arrays.

    Same values (to float rounding) as
    ``F.convolution_2d(x, W, b, stride=1, pad=pad)`` for the kernels of
    :func:`applicable`. ``m`` is the output tile size of ``F(m x m, r x r)``.
    The inputs are ``(x, W_1, ..., W_k[, b])`` with ``k = n_weights``: ``W`` may
    come as the blocks of its output channels, concatenated only while a pass
    runs, so a stack of convolutions of one input (the hoisted gates of the
    ``L`` ConvLSTM cores) keeps no concatenated copy of its weights.
    Differentiable once (the backward is :class:`WinogradConvolution2DGrad`).
    """

    def __init__(self, pad, m=4, n_weights=1):
        self.pad = tuple(pad)
        self.m = m
        self.n_weights = n_weights

    def check_type_forward(self, in_types):
        check_convolution_types(in_types, self.pad, self.n_weights)

    def forward_cpu(self, inputs):
        k = self.n_weights
        self.retain_inputs(tuple(range(1 + k)))
        y = winograd_forward(inputs[0], _concat(inputs[1:1 + k]), self.pad, self.m)
        if len(inputs) == 2 + k:
            y += inputs[-1][:, None, None]
        return y,

    def backward(self, indexes, grad_outputs):
        return WinogradConvolution2DGrad(self.pad, self.m, indexes, self.n_weights).apply(
            self.get_retained_inputs() + tuple(grad_outputs))


class WinogradConvolution2DGrad(chainer.FunctionNode):
    """``(x, W_1, ..., W_k, gy) -> (gx, gW_1, ..., gW_k, gb)`` of
    :class:`WinogradConvolution2D`, restricted to the gradients in ``indexes``
    (0: ``x``, 1 to ``k``: the ``W_i``, ``k + 1``: ``b``). Not differentiable."""

    def __init__(self, pad, m, indexes, n_weights=1):
        self.pad = pad
        self.m = m
        self.indexes = tuple(indexes)
        self.n_weights = n_weights

    def forward_cpu(self, inputs):
        k = self.n_weights
        x, Ws, gy = inputs[0], inputs[1:1 + k], inputs[-1]
        W = _concat(Ws)
        r = W.shape[2]
        grads = {}
        if 0 in self.indexes:
            # the convolution of gy with the flipped, transposed kernels (C, O, r, r)
            grads[0] = winograd_forward(gy, W, tuple(r - 1 - p for p in self.pad), self.m,
                                        flip=True)
        if any(1 <= i <= k for i in self.indexes):
            gW = winograd_weight_grad(x, gy, r, self.pad, self.m)
            ends = numpy.cumsum([len(W_i) for W_i in Ws])[:-1]
            grads.update(enumerate(numpy.split(gW, ends), 1))
        if k + 1 in self.indexes:
            grads[k + 1] = gy.sum(axis=(0, 2, 3))
        return tuple(grads[i] for i in self.indexes)
