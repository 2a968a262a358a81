"""Convolutions whose stride equals their kernel size (1x1 ones too), as matrix products.

With ``stride == ksize`` and no padding the kernel windows tile the image
without overlap: a convolution is a reshape of each ``k x k`` patch into a
vector followed by one GEMM, and the transposed convolution is the GEMM
followed by the inverse reshape. Built from Chainer's own differentiable
functions, so both backward passes and both devices come for free; on the
CPU this avoids Chainer's im2col/col2im and ``numpy.add.at`` (the 4x4/4
canvas write of the generator was the slowest function of a training step).

On NumPy arrays the convolution is :class:`PatchConvolution2D` instead: one
GEMM per image from the kernels to the patches laid out ``(C k k, h w)``, so
the output comes out channel-major (no transposed copy of it, nor of its
gradient) and the patches are rebuilt for the weight gradient rather than kept.
"""
import chainer
import chainer.functions as F
import numpy

from gqn.kernels.convolution_2d import runs_natively
from gqn.kernels.workspace import scratch as _scratch


def patch_convolution(x, W, b=None):
    """``F.convolution_2d(x, W, b, stride=k)`` for a ``k x k`` kernel, no padding.

    Args:
        x: ``(B, C_in, H, W)`` with H and W multiples of ``k``.
        W: ``(C_out, C_in, k, k)``.
        b: ``(C_out,)`` or ``None``.

    Returns:
        ~chainer.Variable: ``(B, C_out, H / k, W / k)``.
    """
    if runs_natively(*(chainer.as_array(a) for a in (x, W, b) if a is not None)):
        y, = PatchConvolution2D().apply((x, W) if b is None else (x, W, b))
        return y
    B, C, H, W_ = x.shape
    c_out, _, k, _ = W.shape
    h, w = H // k, W_ // k
    patches = F.reshape(F.transpose(F.reshape(x, (B, C, h, k, w, k)), (0, 2, 4, 1, 3, 5)),
                        (B * h * w, C * k * k))
    y = F.linear(patches, F.reshape(W, (c_out, C * k * k)), b)
    return F.transpose(F.reshape(y, (B, h, w, c_out)), (0, 3, 1, 2))


def patch_deconvolution(x, W, b=None):
    """``F.deconvolution_2d(x, W, b, stride=k)`` for a ``k x k`` kernel, no padding.

    Args:
        x: ``(B, C_in, H, W)``.
        W: ``(C_in, C_out, k, k)`` (Chainer's deconvolution layout).
        b: ``(C_out,)`` or ``None``.

    Returns:
        ~chainer.Variable: ``(B, C_out, k H, k W)``.
    """
    B, C, H, W_ = x.shape
    _, c_out, k, _ = W.shape
    rows = F.reshape(F.transpose(x, (0, 2, 3, 1)), (B * H * W_, C))
    y = F.matmul(rows, F.reshape(W, (C, c_out * k * k)))
    y = F.transpose(F.reshape(y, (B, H, W_, c_out, k, k)), (0, 3, 1, 4, 2, 5))
    y = F.reshape(y, (B, c_out, H * k, W_ * k))
    if b is not None:
        y = F.bias(y, b, axis=1)
    return y


def _patches(x, k):
    """``(B, C k k, h w)``: the ``k x k`` patches of ``x (B, C, h k, w k)``, channel-major
    (a scratch buffer)."""
    B, C, H, W = x.shape
    if k == 1:
        return x.reshape(B, C, H * W)
    h, w = H // k, W // k
    P = _scratch('patches', (B, C, k, k, h, w), x.dtype)
    P[...] = x.reshape(B, C, h, k, w, k).transpose(0, 1, 3, 5, 2, 4)
    return P.reshape(B, C * k * k, h * w)


class PatchConvolution2D(chainer.FunctionNode):
    """``(x, W[, b]) -> F.convolution_2d(x, W, b, stride=k)`` for ``k x k`` kernels, no
    padding, on NumPy arrays: ``y[i] = W (O, C k k) @ patches(x[i]) (C k k, h w)``."""

    def forward_cpu(self, inputs):
        self.retain_inputs((0, 1))
        x, W = inputs[:2]
        k = W.shape[2]
        B, _, H, W_ = x.shape
        y = numpy.matmul(W.reshape(len(W), -1), _patches(x, k))
        if len(inputs) == 3:
            y += inputs[2][:, None]
        return y.reshape(B, len(W), H // k, W_ // k),

    def backward(self, indexes, grad_outputs):
        x, W = self.get_retained_inputs()
        return PatchConvolution2DGrad(indexes).apply((x, W, grad_outputs[0]))


class PatchConvolution2DGrad(chainer.FunctionNode):
    """``(x, W, gy) -> (gx, gW, gb)`` of :class:`PatchConvolution2D`, restricted to
    ``indexes``. Not differentiable."""

    def __init__(self, indexes):
        self.indexes = tuple(indexes)

    def forward_cpu(self, inputs):
        x, W, gy = inputs
        B, C, H, W_ = x.shape
        O, _, k, _ = W.shape
        gy = gy.reshape(B, O, -1)
        grads = {}
        if 0 in self.indexes:
            gP = numpy.matmul(W.reshape(O, -1).T, gy)  # (B, C k k, h w)
            if k == 1:
                grads[0] = gP.reshape(x.shape)
            else:
                gP = gP.reshape(B, C, k, k, H // k, W_ // k)
                gx = numpy.empty_like(x)
                for i in range(k):  # (k^2 strided copies beat one 6-D transposing copy)
                    for j in range(k):
                        gx[:, :, i::k, j::k] = gP[:, :, i, j]
                grads[0] = gx
        if 1 in self.indexes:
            P = _patches(x, k)
            gW = numpy.zeros((O, P.shape[1]), x.dtype)
            product = _scratch('patch_weight_grad', gW.shape, x.dtype)
            for i in range(B):
                gW += numpy.matmul(gy[i], P[i].T, out=product)
            grads[1] = gW.reshape(W.shape)
        if 2 in self.indexes:
            grads[2] = gy.sum(axis=(0, 2))
        return tuple(grads[i] for i in self.indexes)
