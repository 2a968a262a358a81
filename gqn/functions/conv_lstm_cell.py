"""The ConvLSTM cell update: gate nonlinearities and cell/state update, fused."""
import functools

import chainer
import numpy


def _sigmoid(x):
    return numpy.tanh(x * 0.5) * 0.5 + 0.5


# CUDA: the four gate activations of element i, shared by both kernels.
_GATES = '''
        const ptrdiff_t block = hc * hw;
        const ptrdiff_t base = (i / block) * 4 * block + i % block;
        const T gi = tanh(a[base] * (T)0.5) * (T)0.5 + (T)0.5;
        const T gf = tanh(a[base + block] * (T)0.5) * (T)0.5 + (T)0.5;
        const T go = tanh(a[base + 2 * block] * (T)0.5) * (T)0.5 + (T)0.5;
        const T gg = tanh(a[base + 3 * block]);
'''


@functools.lru_cache(maxsize=None)
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


@functools.lru_cache(maxsize=None)
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

    def _split(self, a, hc):
        return a[:, :hc], a[:, hc:2 * hc], a[:, 2 * hc:3 * hc], a[:, 3 * hc:]

    def forward_cpu(self, inputs):
        c_prev, a = inputs
        self.retain_inputs((0, 1))
        ai, af, ao, ag = self._split(a, c_prev.shape[1])
        c = _sigmoid(af) * c_prev + _sigmoid(ai) * numpy.tanh(ag)
        h = _sigmoid(ao) * numpy.tanh(c)
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
    if xp is numpy:
        hc = c_prev.shape[1]
        i, f, o = (_sigmoid(a[:, k * hc:(k + 1) * hc]) for k in range(3))
        g = numpy.tanh(a[:, 3 * hc:])
        tc = numpy.tanh(c)
        gct = gc + gh * o * (1 - tc * tc)
        ga = numpy.concatenate([gct * g * i * (1 - i), gct * c_prev * f * (1 - f),
                                gh * tc * o * (1 - o), gct * i * (1 - g * g)], axis=1)
        return ga, gct * f
    ga = xp.empty_like(a)
    gc_prev = xp.empty_like(c_prev)
    _backward_kernel()(a, c_prev, c, gc, gh, c_prev.shape[1], c_prev[0, 0].size, ga, gc_prev)
    return ga, gc_prev


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
