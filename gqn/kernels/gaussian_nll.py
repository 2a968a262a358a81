"""Elementwise negative log-likelihood of a Gaussian with a fixed sigma, fused."""
import math

import chainer
import numpy

from gqn.kernels.cuda_kernels import elementwise_kernel

_HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)


@elementwise_kernel('log_sigma', 'inv_var')
def _forward_kernel():
    import cupy
    return cupy.ElementwiseKernel(
        'T x, T mean, T log_sigma, T inv_var', 'T y',
        'const T d = x - mean; y = (T)%r + log_sigma + (T)0.5 * d * d * inv_var;'
        % _HALF_LOG_2PI,
        'gqn_gaussian_nll_forward')


@elementwise_kernel('inv_var')
def _backward_kernel():
    import cupy
    return cupy.ElementwiseKernel(
        'T x, T mean, T gy, T inv_var', 'T gmean',
        'gmean = gy * (mean - x) * inv_var;',
        'gqn_gaussian_nll_backward')


class GaussianNLL(chainer.FunctionNode):
    """``-log N(x; mean, sigma^2)`` elementwise; ``sigma`` is a Python float."""

    def __init__(self, sigma):
        if not sigma > 0:
            raise ValueError('sigma must be positive, got %r' % (sigma,))
        self.sigma = float(sigma)

    def check_type_forward(self, in_types):
        chainer.utils.type_check.expect(in_types.size() == 2)
        x_type, mean_type = in_types
        chainer.utils.type_check.expect(
            x_type.dtype.kind == 'f', mean_type.dtype == x_type.dtype,
            x_type.shape == mean_type.shape)

    def forward_cpu(self, inputs):
        self.retain_inputs((0, 1))
        x, mean = inputs
        d = x - mean
        y = d * d * (0.5 / self.sigma ** 2) + (_HALF_LOG_2PI + math.log(self.sigma))
        return numpy.asarray(y, dtype=x.dtype),

    def forward_gpu(self, inputs):
        self.retain_inputs((0, 1))
        x, mean = inputs
        dtype = x.dtype.type
        return _forward_kernel()(x, mean, dtype(math.log(self.sigma)),
                                 dtype(1 / self.sigma ** 2)),

    def backward(self, indexes, grad_outputs):
        x, mean = self.get_retained_inputs()
        gy = grad_outputs[0].array
        xp = chainer.backend.get_array_module(gy)
        if xp is numpy:
            gmean = gy * (mean.array - x.array) * (1 / self.sigma ** 2)
            gmean = numpy.asarray(gmean, dtype=gy.dtype)
        else:
            gmean = _backward_kernel()(x.array, mean.array, gy, gy.dtype.type(1 / self.sigma ** 2))
        return chainer.Variable(-gmean), chainer.Variable(gmean)


def gaussian_nll(x, mean, sigma):
    """Elementwise ``0.5 log(2 pi sigma^2) + (x - mean)^2 / (2 sigma^2)``, in nats.

    Args:
        x (~chainer.Variable or array): observations (any shape, float).
        mean (~chainer.Variable or array): means, same shape and dtype.
        sigma (float): the standard deviation, a positive Python float.

    Returns:
        ~chainer.Variable: the negative log-density of each element.
    """
    return GaussianNLL(sigma).apply((x, mean))[0]
