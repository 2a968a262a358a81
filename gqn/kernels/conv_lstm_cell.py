"""The ConvLSTM cell update: gate nonlinearities and cell/state update, fused."""
import chainer
import numpy

from gqn.kernels.cuda_kernels import elementwise_kernel
from gqn.kernels.parallel import parallel_for


def _activations(a, hc):
    """NumPy: the gate activations ``sigmoid(i, f, o), tanh(g)`` of ``a``, as four views
    of one new array (``sigmoid(x) = tanh(x / 2) / 2 + 1 / 2``, in place)."""
    act = numpy.multiply(a, 0.5)
    act[:, 3 * hc:] = a[:, 3 * hc:]
    numpy.tanh(act, out=act)
    sig = act[:, :3 * hc]
    sig *= 0.5
    sig += 0.5
    return tuple(act[:, k * hc:(k + 1) * hc] for k in range(4))


# CUDA: the four gate activations of element i, shared by both kernels.
_GATES = '''
        const ptrdiff_t block = hc * hw;
        const ptrdiff_t base = (i / block) * 4 * block + i % block;
        const T gi = tanh(a[base] * (T)0.5) * (T)0.5 + (T)0.5;
        const T gf = tanh(a[base + block] * (T)0.5) * (T)0.5 + (T)0.5;
        const T go = tanh(a[base + 2 * block] * (T)0.5) * (T)0.5 + (T)0.5;
        const T gg = tanh(a[base + 3 * block]);
'''


@elementwise_kernel('hc', 'hw')
def _forward_kernel():
    import cupy
    return cupy.ElementwiseKernel(
        'raw T a, T c_prev, int64 hc, int64 hw',
        'T c, T h',
        _GATES + '''
        c = gf * c_prev + gi * gg;
        h = go * tanh(c);
        ''',
        'gqn_conv_lstm_forward')


@elementwise_kernel('hc', 'hw')
def _backward_kernel():
    import cupy
    return cupy.ElementwiseKernel(
        'raw T a, T c_prev, T c, T gc, T gh, int64 hc, int64 hw',
        'raw T ga, T gc_prev',
        _GATES + '''
        const T tc = tanh(c);
        const T gct = gc + gh * go * ((T)1 - tc * tc);
        ga[base] = gct * gg * gi * ((T)1 - gi);
        ga[base + block] = gct * c_prev * gf * ((T)1 - gf);
        ga[base + 2 * block] = gh * tc * go * ((T)1 - go);
        ga[base + 3 * block] = gct * gi * ((T)1 - gg * gg);
        gc_prev = gct * gf;
        ''',
        'gqn_conv_lstm_backward')


class ConvLSTMCell(chainer.FunctionNode):
    """``(c_prev, a) -> (c, h)`` of a ConvLSTM from its gate pre-activations.

    ``a`` holds the pre-activations of the input, forget and output gates
    and of the candidate as four consecutive channel blocks
    ``[i, f, o, g]``; ``c = sigmoid(f) * c_prev + sigmoid(i) * tanh(g)`` and
    ``h = sigmoid(o) * tanh(c)``. Arrays are NumPy (NumPy twin) or CuPy
    (one ``ElementwiseKernel`` for the forward pass, one for the backward).
    Not differentiable twice.
    """

    def check_type_forward(self, in_types):
        chainer.utils.type_check.expect(in_types.size() == 2)
        c_type, a_type = in_types
        chainer.utils.type_check.expect(
            c_type.dtype.kind == 'f', a_type.dtype == c_type.dtype,
            c_type.ndim >= 2, a_type.ndim == c_type.ndim,
            a_type.shape[0] == c_type.shape[0],
            a_type.shape[1] == 4 * c_type.shape[1])

    def forward_cpu(self, inputs):
        c_prev, a = inputs
        self.retain_inputs((0, 1))
        c, h = numpy.empty_like(c_prev), numpy.empty_like(c_prev)

        def update(start, stop):
            i, f, o, g = _activations(a[start:stop], c_prev.shape[1])
            c_, h_ = c[start:stop], h[start:stop]
            numpy.multiply(f, c_prev[start:stop], out=c_)
            g *= i
            c_ += g
            numpy.tanh(c_, out=h_)
            h_ *= o

        parallel_for(update, len(a))
        self.retain_outputs((0,))
        return c, h

    def forward_gpu(self, inputs):
        c_prev, a = inputs
        self.retain_inputs((0, 1))
        hw = c_prev[0, 0].size
        c, h = _forward_kernel()(a, c_prev, c_prev.shape[1], hw)
        self.retain_outputs((0,))
        return c, h

    def backward(self, indexes, grad_outputs):
        c_prev, a = self.get_retained_inputs()
        c, = self.get_retained_outputs()
        ga, gc_prev = _backward_arrays(c_prev.array, a.array, c.array,
                                       grad_outputs[0], grad_outputs[1])
        return chainer.Variable(gc_prev), chainer.Variable(ga)


def _backward_arrays(c_prev, a, c, gc, gh):
    xp = chainer.backend.get_array_module(a)
    gc = xp.zeros_like(c) if gc is None else gc.array
    gh = xp.zeros_like(c) if gh is None else gh.array
    if xp is numpy:  # in place: two gate-sized and two state-sized arrays, batch pieces in threads
        ga, gc_prev = numpy.empty_like(a), numpy.empty_like(c)
        parallel_for(lambda start, stop: _backward_piece(
            *[x[start:stop] for x in (c_prev, a, c, gc, gh, ga, gc_prev)]), len(a))
        return ga, gc_prev
    ga = xp.empty_like(a)
    gc_prev = xp.empty_like(c_prev)
    _backward_kernel()(a, c_prev, c, gc, gh, c_prev.shape[1], c_prev[0, 0].size, ga, gc_prev)
    return ga, gc_prev


def _backward_piece(c_prev, a, c, gc, gh, ga, gc_prev):
    """NumPy: ``ga`` and ``gc_prev`` of :func:`_backward_arrays` (outputs in place)."""
    hc = c_prev.shape[1]
    i, f, o, g = _activations(a, hc)
    tc = numpy.tanh(c)
    gct = gc_prev  # gct = gc + gh o (1 - tanh(c)^2)
    numpy.multiply(tc, tc, out=gct)
    numpy.subtract(1, gct, out=gct)
    gct *= o
    gct *= gh
    gct += gc
    ga_i, ga_f, ga_o, ga_g = (ga[:, k * hc:(k + 1) * hc] for k in range(4))
    for out, gate, factors in ((ga_i, i, (g, gct)), (ga_f, f, (c_prev, gct)),
                               (ga_o, o, (tc, gh))):  # d sigmoid = s (1 - s)
        numpy.subtract(1, gate, out=out)
        out *= gate
        for factor in factors:
            out *= factor
    numpy.multiply(g, g, out=ga_g)  # d tanh = 1 - t^2
    numpy.subtract(1, ga_g, out=ga_g)
    ga_g *= i
    ga_g *= gct
    gct *= f


def conv_lstm_cell(c_prev, a):
    """One ConvLSTM state update from gate pre-activations.

    Args:
        c_prev (~chainer.Variable or array): cell state ``(B, C, ...)``.
        a (~chainer.Variable or array): gate pre-activations
            ``(B, 4C, ...)``, channel blocks ``[i, f, o, g]``.

    Returns:
        tuple: new cell state ``c`` and hidden state ``h``, both ``(B, C, ...)``.
    """
    return ConvLSTMCell().apply((c_prev, a))
