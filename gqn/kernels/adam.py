"""Chainer's Adam with an in-place CPU update."""
import chainer
import numpy

from gqn.kernels.parallel import parallel_for
from gqn.kernels.workspace import scratch

#: The fewest elements of a parameter worth a thread of their own.
PARALLEL_GRAIN = 1 << 16


class AdamRule(chainer.optimizers.adam.AdamRule):
    """:class:`chainer.optimizers.adam.AdamRule` whose NumPy update runs in place.

    Chainer's CPU update allocates about ten parameter-sized temporaries per
    parameter and step (170M parameters in the paper's model: gigabytes of fresh
    pages per step). This one does the same operations in the same order, so
    the result is bit-identical, through one reused scratch buffer, and splits a
    large parameter over threads (:func:`gqn.kernels.parallel.parallel_for`). AMSGrad,
    AdaBound and non-float parameters take Chainer's path.
    """

    def update_core_cpu(self, param):
        grad = param.grad
        hp = self.hyperparam
        if (grad is None or hp.amsgrad or hp.adabound
                or param.dtype not in (numpy.float32, numpy.float64)):
            return super().update_core_cpu(param)
        self._check_eps(param.dtype.type)
        arrays = (param.data, grad, self.state['m'], self.state['v'])
        if all(a.flags.c_contiguous for a in arrays):  # pieces of the flat arrays in threads
            flat = [a.reshape(-1) for a in arrays]
            parallel_for(lambda start, stop: self._update_piece(
                *[a[start:stop] for a in flat]), flat[0].size, grain=PARALLEL_GRAIN)
        else:
            self._update_piece(*arrays)

    def _update_piece(self, param, grad, m, v):
        hp = self.hyperparam
        t = scratch('adam', param.shape, param.dtype)
        numpy.subtract(grad, m, out=t)  # m += (1 - beta1) * (grad - m)
        t *= 1.0 - hp.beta1
        m += t
        numpy.multiply(grad, grad, out=t)  # v += (1 - beta2) * (grad * grad - v)
        t -= v
        t *= 1.0 - hp.beta2
        v += t
        numpy.sqrt(v, out=t)  # step = alpha_t / (sqrt(v) + eps)
        t += hp.eps
        numpy.divide(self.alpha_t, t, out=t)
        t *= m  # param = (1 - eta weight_decay_rate) param - eta step m
        t *= -hp.eta
        if hp.weight_decay_rate:
            param *= 1.0 - hp.eta * hp.weight_decay_rate
        param += t


class Adam(chainer.optimizers.Adam):
    """:class:`chainer.optimizers.Adam` (same arguments, state and snapshots) with
    :class:`AdamRule`'s in-place update on the CPU."""

    def create_update_rule(self):
        return AdamRule(self.hyperparam)
