"""ReLU whose NumPy passes run in batch pieces over threads.

The representation tower applies ReLU to activations of up to 190 MB (180
images of 256 x 32 x 32 at batch 36); Chainer's CPU ReLU makes each pass on one
core. Same values and gradients as ``F.relu``, for NumPy arrays
(:func:`gqn.ops.relu` sends CuPy arrays to ``F.relu``).
"""
import chainer
import numpy

from gqn.kernels.parallel import parallel_for


class ReLU(chainer.FunctionNode):
    """``y = max(x, 0)`` on NumPy arrays. Differentiable once (:class:`ReLUGrad`)."""

    def forward_cpu(self, inputs):
        x, = inputs
        y = numpy.empty_like(x)
        parallel_for(lambda start, stop: numpy.maximum(x[start:stop], 0, out=y[start:stop]),
                     len(x))
        self.retain_outputs((0,))
        return y,

    def backward(self, indexes, grad_outputs):
        y, = self.get_retained_outputs()
        return ReLUGrad(y.array).apply(grad_outputs)


class ReLUGrad(chainer.FunctionNode):
    """``gx = gy * (y > 0)`` of :class:`ReLU` given its output ``y``. Not differentiable."""

    def __init__(self, y):
        self.y = y

    def forward_cpu(self, inputs):
        gy, = inputs
        gx = numpy.empty_like(gy)
        parallel_for(lambda start, stop: numpy.multiply(
            gy[start:stop], self.y[start:stop] > 0, out=gx[start:stop]), len(gy))
        return gx,
