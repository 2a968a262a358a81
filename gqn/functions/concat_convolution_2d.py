"""The Winograd convolution of a channel concatenation, without concatenating.

A ConvLSTM core's gates are the convolution of ``[h, x, invariant]``, the
concatenation of its state, its per-step inputs and inputs that are the same
at all ``L`` steps. :class:`ConcatConvolution2D` takes the parts and the
kernel's matching blocks of input channels apart and sums their products in
the Winograd domain, before the one output transform: no concatenated copy of
the inputs (nor split of their gradients), and the transform of a part marked
invariant is computed once and shared by every step through a
:class:`TransformCache`. In the backward pass the output gradient is
transformed once for the gradients of all parts and kernels. With the
invariant transform shared, the ``L`` steps do the FLOPs of the hoisted
formulation (:func:`gqn.core.invariant_gates`) without its stacked
``L x 4 h``-channel convolution: a core's gradient is transformed once instead
of twice, and no stacked output is split or concatenated.
"""
import chainer
import numpy

from gqn.functions import winograd_convolution_2d as _w
from gqn.functions.workspace import scratch as _scratch


class TransformCache:
    """Input transforms of step-invariant parts, shared by the convolutions of one
    forward pass (and kept for their backward pass). Drop it with the graph."""

    def __init__(self):
        self._transforms = {}

    def get(self, x, m, r, pad, size_out, batch):
        """``_input_transform(x[batch], ...)``, computed on the first request."""
        key = (id(x), m, r, pad, batch.start, batch.stop)
        entry = self._transforms.get(key)
        if entry is None or entry[0] is not x:
            V = _w._input_transform(x[batch], m, r, pad, size_out).copy()
            entry = self._transforms[key] = (x, V)  # (x kept: its id stays unique)
        return entry[1]


def _offsets(sizes):
    return numpy.concatenate(([0], numpy.cumsum(sizes))).tolist()


class ConcatConvolution2D(chainer.FunctionNode):
    """``(x_1, ..., x_p, W_1, ..., W_q[, b]) -> conv(concat(x_i), concat(W_j)) + b``.

    The ``x_i`` ``(B, C_i, H, W)`` are concatenated along channels, the ``W_j``
    ``(O, D_j, r, r)`` along input channels; each ``W_j`` spans whole parts
    (``D_j`` is a sum of consecutive ``C_i``). Stride 1, zero padding ``pad``,
    Winograd's ``F(m x m, r x r)``; NumPy arrays. The transforms of the parts
    listed in ``invariant`` come from ``cache``.
    """

    def __init__(self, n_parts, pad, m, cache=None, invariant=()):
        self.n_parts = n_parts
        self.pad = tuple(pad)
        self.m = m
        self.cache = cache
        self.invariant = frozenset(invariant)

    def _layout(self, inputs):
        """For each part: ``(x_i, W_j, channel slice of W_j)``."""
        xs = inputs[:self.n_parts]
        Ws = [a for a in inputs[self.n_parts:] if a.ndim == 4]
        x_ends = _offsets([x.shape[1] for x in xs])
        w_ends = _offsets([W.shape[1] for W in Ws])
        if not set(w_ends) <= set(x_ends) or x_ends[-1] != w_ends[-1]:
            raise ValueError('each kernel block must span whole input parts: parts %s, '
                             'kernel blocks %s' % (x_ends, w_ends))
        layout = []
        for i, x in enumerate(xs):
            j = numpy.searchsorted(w_ends, x_ends[i], side='right') - 1
            start = x_ends[i] - w_ends[j]
            layout.append((x, Ws[j], slice(start, start + x.shape[1])))
        return layout, Ws

    def _transform(self, i, x, r, size_out, batch, name):
        if i in self.invariant and self.cache is not None:
            return self.cache.get(x, self.m, r, self.pad, size_out, batch)
        return _w._input_transform(x[batch], self.m, r, self.pad, size_out, name=name)

    def forward_cpu(self, inputs):
        self.retain_inputs(tuple(range(len(inputs) - (inputs[-1].ndim == 1))))
        layout, Ws = self._layout(inputs)
        m, pad = self.m, self.pad
        B, _, H, W_in = inputs[0].shape
        O, r = Ws[0].shape[0], Ws[0].shape[2]
        size_out = (H + 2 * pad[0] - r + 1, W_in + 2 * pad[1] - r + 1)
        a2 = (m + r - 1) ** 2
        y = numpy.empty((B, O) + size_out, inputs[0].dtype)
        per_image = a2 * numpy.prod(_w._tiles(size_out, m)) * y.itemsize
        for batch in _w._chunks(B, O, per_image):
            n = len(range(B)[batch]) * numpy.prod(_w._tiles(size_out, m))
            M = _scratch('w_products', (a2, n, O), y.dtype)
            for i, (x, W, c) in enumerate(layout):
                V = self._transform(i, x, r, size_out, batch, 'w_input')
                K = _w._filter_transform(W, m, False, slice(None), c)
                if i:
                    _w.matmul_accumulate(V, K, M)
                else:
                    numpy.matmul(V, K, out=M)
            _w._output_transform(M, m, r, len(range(B)[batch]), size_out, y[batch])
        if len(inputs) > self.n_parts + len(Ws):
            y += inputs[-1][:, None, None]
        return y,

    def backward(self, indexes, grad_outputs):
        grad = ConcatConvolution2DGrad(self, indexes)
        return grad.apply(self.get_retained_inputs() + tuple(grad_outputs))


class ConcatConvolution2DGrad(chainer.FunctionNode):
    """The gradients ``indexes`` of a :class:`ConcatConvolution2D` given its retained
    inputs and ``gy``. Not differentiable."""

    def __init__(self, conv, indexes):
        self.conv = conv
        self.indexes = tuple(indexes)

    def forward_cpu(self, inputs):
        conv = self.conv
        gy = inputs[-1]
        layout, Ws = conv._layout(inputs[:-1])
        n_in = conv.n_parts + len(Ws)
        m, pad = conv.m, conv.pad
        B, O = gy.shape[:2]
        r = Ws[0].shape[2]
        size_out = gy.shape[2:]
        a2 = (m + r - 1) ** 2
        flipped = tuple(r - 1 - p for p in pad)
        gxs = {i: numpy.empty_like(x) for i, (x, _, _) in enumerate(layout) if i in self.indexes}
        gWs = {j: numpy.empty_like(W) for j, W in enumerate(Ws)
               if conv.n_parts + j in self.indexes}
        filt = _w._transforms_2d(m, r, gy.dtype.type)[1]
        per_image = a2 * numpy.prod(_w._tiles(size_out, m)) * gy.itemsize
        for k, batch in enumerate(_w._chunks(B, O, per_image)):
            B_c = len(range(B)[batch])
            if gxs:  # the input gradient: gy convolved with the flipped kernels
                Vg = _w._input_transform(gy[batch], m, r, flipped, inputs[0].shape[2:],
                                         name='w_grad_input')
                for i, (x, W, c) in enumerate(layout):
                    if i in gxs:
                        K = _w._filter_transform(W, m, True, c, slice(None))
                        M = _scratch('w_products', (a2, Vg.shape[1], K.shape[2]), gy.dtype)
                        numpy.matmul(Vg, K, out=M)
                        _w._output_transform(M, m, r, B_c, x.shape[2:], gxs[i][batch])
            if gWs:
                dM = _w._output_adjoint(gy[batch], m, r)  # (a^2, N, O)
                for i, (x, W, c) in enumerate(layout):
                    j = next(j for j, W_j in enumerate(Ws) if W_j is W)
                    if j not in gWs:
                        continue
                    V = conv._transform(i, x, r, size_out, batch, 'w_input')
                    dU = _scratch('w_grad_filters', (a2, O, V.shape[2]), gy.dtype)
                    numpy.matmul(dM.transpose(0, 2, 1), V, out=dU)
                    g = numpy.matmul(dU.reshape(a2, -1).T, filt).reshape(O, -1, r, r)
                    if k:
                        gWs[j][:, c] += g
                    else:
                        gWs[j][:, c] = g
        grads = dict(gxs)
        grads.update((conv.n_parts + j, g) for j, g in gWs.items())
        if n_in in self.indexes:
            grads[n_in] = gy.sum(axis=(0, 2, 3))
        return tuple(grads[i] for i in self.indexes)
