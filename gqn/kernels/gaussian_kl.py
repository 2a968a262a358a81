"""Elementwise KL divergence between diagonal Gaussians given by log-variances, fused."""
import chainer
import numpy

from gqn.kernels.cuda_kernels import elementwise_kernel


@elementwise_kernel()
def _forward_kernel():
    import cupy
    return cupy.ElementwiseKernel(
        'T mu_q, T lv_q, T mu_p, T lv_p', 'T kl',
        '''
        const T d = mu_q - mu_p;
        kl = (T)0.5 * ((lv_p - lv_q) + exp(lv_q - lv_p) + d * d * exp(-lv_p) - (T)1);
        ''',
        'gqn_gaussian_kl_forward')


@elementwise_kernel()
def _backward_kernel():
    import cupy
    return cupy.ElementwiseKernel(
        'T mu_q, T lv_q, T mu_p, T lv_p, T gy', 'T gmu_q, T glv_q, T gmu_p, T glv_p',
        '''
        const T d = mu_q - mu_p;
        const T ip = exp(-lv_p);
        const T ratio = exp(lv_q - lv_p);
        gmu_q = gy * d * ip;
        gmu_p = -gmu_q;
        glv_q = gy * (T)0.5 * (ratio - (T)1);
        glv_p = gy * (T)0.5 * ((T)1 - ratio - d * d * ip);
        ''',
        'gqn_gaussian_kl_backward')


class GaussianKL(chainer.FunctionNode):
    """``KL(N(mu_q, exp(lv_q)) || N(mu_p, exp(lv_p)))`` elementwise, in nats.

    Both Gaussians are parameterised by mean and log-variance, the same
    parameterisation the model samples with. When the two agree exactly the
    result is exactly zero.
    """

    def check_type_forward(self, in_types):
        chainer.utils.type_check.expect(in_types.size() == 4)
        t0 = in_types[0]
        chainer.utils.type_check.expect(t0.dtype.kind == 'f')
        for t in in_types[1:]:
            chainer.utils.type_check.expect(t.dtype == t0.dtype, t.shape == t0.shape)

    def forward_cpu(self, inputs):
        self.retain_inputs((0, 1, 2, 3))
        mu_q, lv_q, mu_p, lv_p = inputs
        d = mu_q - mu_p
        kl = 0.5 * ((lv_p - lv_q) + numpy.exp(lv_q - lv_p) + d * d * numpy.exp(-lv_p) - 1)
        return numpy.asarray(kl, dtype=mu_q.dtype),

    def forward_gpu(self, inputs):
        self.retain_inputs((0, 1, 2, 3))
        return _forward_kernel()(*inputs),

    def backward(self, indexes, grad_outputs):
        mu_q, lv_q, mu_p, lv_p = (v.array for v in self.get_retained_inputs())
        gy = grad_outputs[0].array
        xp = chainer.backend.get_array_module(gy)
        if xp is numpy:
            d = mu_q - mu_p
            ip = numpy.exp(-lv_p)
            ratio = numpy.exp(lv_q - lv_p)
            gmu_q = gy * d * ip
            grads = (gmu_q, gy * 0.5 * (ratio - 1), -gmu_q, gy * 0.5 * (1 - ratio - d * d * ip))
            grads = tuple(numpy.asarray(g, dtype=gy.dtype) for g in grads)
        else:
            grads = _backward_kernel()(mu_q, lv_q, mu_p, lv_p, gy)
        return tuple(chainer.Variable(grads[i]) for i in indexes)


def gaussian_kl(mu_q, lv_q, mu_p, lv_p):
    """Elementwise ``KL(q || p)`` of diagonal Gaussians from means and log-variances.

    ``0.5 * (lv_p - lv_q + (exp(lv_q) + (mu_q - mu_p)^2) / exp(lv_p) - 1)``.

    Args:
        mu_q, lv_q (~chainer.Variable or array): mean and log-variance of q.
        mu_p, lv_p (~chainer.Variable or array): mean and log-variance of p,
            same shape and dtype.

    Returns:
        ~chainer.Variable: the divergence of each element, in nats.
    """
    return GaussianKL().apply((mu_q, lv_q, mu_p, lv_p))[0]
