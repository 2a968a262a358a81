"""The Winograd convolution of a channel concatenation, without concatenating.

A ConvLSTM core's gates are the convolution of ``[h, x, invariant]``, the
concatenation of its state, its per-step inputs and inputs that are the same
at all ``L`` steps. :class:`ConcatConvolution2D` takes the parts and the
kernel's matching blocks of input channels apart and sums their products in
the Winograd domain, before the one output transform. The per-step parts are
copied straight into the transform's buffer (no concatenated copy of them;
their gradients are channel slices of one array), and the transform of a part
marked invariant is computed once and shared by every step through a
:class:`TransformCache`. In the backward pass the output gradient is
transformed once for the gradients of all parts and kernels. With the
invariant transform shared, the ``L`` steps do the FLOPs of the hoisted
formulation (:func:`gqn.model.core.invariant_gates`) without its stacked
``L x 4 h``-channel convolution: a core's gradient is transformed once instead
of twice, and no stacked output is split or concatenated.
"""
import collections

import chainer
import numpy

from gqn.kernels import winograd_convolution_2d as _w
from gqn.kernels.workspace import scratch as _scratch


class TransformCache:
    """Input transforms of step-invariant parts, shared by the convolutions of one
    forward pass (and kept for their backward pass). Drop it with the graph; the
    arrays must not change while it lives (entries are found by identity)."""

    def __init__(self):
        self._transforms = {}

    def get(self, x, m, r, pad, size_out, batch):
        """``input_transform(x[batch], ...)``, computed on the first request."""
        key = (id(x), m, r, pad, batch.start, batch.stop)
        entry = self._transforms.get(key)
        if entry is None or entry[0] is not x:
            V = _w.input_transform(x[batch], m, r, pad, size_out).copy()
            entry = self._transforms[key] = (x, V)  # (x kept: its id stays unique)
        return entry[1]


#: Parts of the input convolved together: ``parts`` (arrays), the index of the first
#: part, the index ``w`` of their kernel block and their ``channels`` (a slice) in it.
_Group = collections.namedtuple('_Group', 'parts first w channels')


class ConcatConvolution2D(chainer.FunctionNode):
    """``(x_1, ..., x_p, W_1, ..., W_q[, b]) -> conv(concat(x_i), concat(W_j)) + b``.

    The ``x_i`` ``(B, C_i, H, W)`` are concatenated along channels, the ``W_j``
    ``(O, D_j, r, r)`` along input channels; each ``W_j`` spans whole parts
    (``D_j`` is a sum of consecutive ``C_i``). Stride 1, zero padding ``pad``,
    Winograd's ``F(m x m, r x r)``; NumPy arrays. The transforms of the parts
    listed in ``invariant`` come from ``cache``; the other parts are transformed
    together, one group per kernel block, so each group is one GEMM.
    """

    def __init__(self, n_parts, pad, m, cache=None, invariant=()):
        self.n_parts = n_parts
        self.pad = tuple(pad)
        self.m = m
        self.cache = cache if invariant else None
        self.invariant = frozenset(invariant)

    def _groups(self, inputs):
        """The kernel blocks and the :class:`_Group` s of parts: an invariant part, or
        the other consecutive parts of one kernel block."""
        xs = inputs[:self.n_parts]
        Ws = [a for a in inputs[self.n_parts:] if a.ndim == 4]
        x_ends = _w.offsets([x.shape[1] for x in xs])
        w_ends = _w.offsets([W.shape[1] for W in Ws])
        if not set(w_ends) <= set(x_ends) or x_ends[-1] != w_ends[-1]:
            raise ValueError('each kernel block must span whole input parts: parts %s, '
                             'kernel blocks %s' % (x_ends, w_ends))
        groups = []
        for i, x in enumerate(xs):
            j = int(numpy.searchsorted(w_ends, x_ends[i], side='right')) - 1
            start = x_ends[i] - w_ends[j]
            g = groups[-1] if groups else None
            if i in self.invariant or g is None or g.first in self.invariant or g.w != j:
                groups.append(_Group([x], i, j, slice(start, start + x.shape[1])))
            else:
                g.parts.append(x)
                groups[-1] = g._replace(channels=slice(g.channels.start, start + x.shape[1]))
        return Ws, groups

    def _transform(self, group, r, size_out, batch):
        if group.first in self.invariant and self.cache is not None:
            return self.cache.get(group.parts[0], self.m, r, self.pad, size_out, batch)
        return _w.input_transform([x[batch] for x in group.parts], self.m, r, self.pad,
                                   size_out)

    def forward_cpu(self, inputs):
        self.retain_inputs(tuple(range(len(inputs) - (inputs[-1].ndim == 1))))
        Ws, groups = self._groups(inputs)
        m, pad = self.m, self.pad
        B, _, H, W_in = inputs[0].shape
        O, r = Ws[0].shape[0], Ws[0].shape[2]
        size_out = (H + 2 * pad[0] - r + 1, W_in + 2 * pad[1] - r + 1)
        a2 = (m + r - 1) ** 2
        tiles = int(numpy.prod(_w.tile_count(size_out, m)))
        y = numpy.empty((B, O) + size_out, inputs[0].dtype)
        for batch in _w.chunks(B, O, a2 * tiles * y.itemsize):
            B_c = len(range(B)[batch])
            M = _scratch('w_products', (a2, B_c * tiles, O), y.dtype)
            for k, group in enumerate(groups):
                V = self._transform(group, r, size_out, batch)
                K = _w.filter_transform(Ws[group.w], m, False, slice(None), group.channels)
                if k:
                    _w.matmul_accumulate(V, K, M)
                else:
                    numpy.matmul(V, K, out=M)
            _w.output_transform(M, m, r, B_c, size_out, y[batch])
        if len(inputs) > self.n_parts + len(Ws):
            y += inputs[-1][:, None, None]
        return y,

    def backward(self, indexes, grad_outputs):
        grad = ConcatConvolution2DGrad(self, indexes)
        return grad.apply(self.get_retained_inputs() + tuple(grad_outputs))


class ConcatConvolution2DGrad(chainer.FunctionNode):
    """The gradients ``indexes`` of a :class:`ConcatConvolution2D` given its retained
    inputs and ``gy``. Not differentiable. The input gradients of a group's parts
    are channel slices of one array."""

    def __init__(self, conv, indexes):
        self.conv = conv
        self.indexes = tuple(indexes)

    def forward_cpu(self, inputs):
        conv = self.conv
        gy = inputs[-1]
        Ws, groups = conv._groups(inputs[:-1])
        n_in = conv.n_parts + len(Ws)
        m, pad = conv.m, conv.pad
        B, O = gy.shape[:2]
        r = Ws[0].shape[2]
        size_in, size_out = inputs[0].shape[2:], gy.shape[2:]
        a2 = (m + r - 1) ** 2
        flipped = tuple(r - 1 - p for p in pad)
        grads = {}
        gx_groups = [(g, numpy.empty((B, g.channels.stop - g.channels.start) + size_in,
                                     gy.dtype))
                     for g in groups
                     if any(g.first + n in self.indexes for n in range(len(g.parts)))]
        gWs = {j: numpy.empty_like(W) for j, W in enumerate(Ws)
               if conv.n_parts + j in self.indexes}
        per_image = a2 * int(numpy.prod(_w.tile_count(size_out, m))) * gy.itemsize
        for k, batch in enumerate(_w.chunks(B, O, per_image)):
            B_c = len(range(B)[batch])
            if gx_groups:  # the input gradient: gy convolved with the flipped kernels
                Vg = _w.input_transform(gy[batch], m, r, flipped, size_in,
                                         name='w_grad_input')
                for group, gx in gx_groups:
                    K = _w.filter_transform(Ws[group.w], m, True, group.channels, slice(None))
                    M = _scratch('w_products', (a2, Vg.shape[1], K.shape[2]), gy.dtype)
                    numpy.matmul(Vg, K, out=M)
                    _w.output_transform(M, m, r, B_c, size_in, gx[batch])
            if gWs:
                dM = _w.output_adjoint(gy[batch], m, r)  # (a^2, N, O)
                for group in groups:
                    if group.w not in gWs:
                        continue
                    g = _w.kernel_gradient(dM, conv._transform(group, r, size_out, batch),
                                           m, r)
                    if k:
                        gWs[group.w][:, group.channels] += g
                    else:
                        gWs[group.w][:, group.channels] = g
        for group, gx in gx_groups:
            c = 0
            for n, x in enumerate(group.parts):
                grads[group.first + n] = gx[:, c:c + x.shape[1]]
                c += x.shape[1]
        grads.update((conv.n_parts + j, g) for j, g in gWs.items())
        if n_in in self.indexes:
            grads[n_in] = gy.sum(axis=(0, 2, 3))
        return tuple(grads[i] for i in self.indexes)
