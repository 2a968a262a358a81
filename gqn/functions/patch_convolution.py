"""Convolutions whose stride equals their kernel size, as one matrix product.

With ``stride == ksize`` and no padding the kernel windows tile the image
without overlap: a convolution is a reshape of each ``k x k`` patch into a
vector followed by one GEMM, and the transposed convolution is the GEMM
followed by the inverse reshape. Built from Chainer's own differentiable
functions, so both backward passes and both devices come for free; on the
CPU this avoids Chainer's im2col/col2im and ``numpy.add.at`` (the 4x4/4
canvas write of the generator was the slowest function of a training step).
"""
import chainer.functions as F


def patch_convolution(x, W, b=None):
    """``F.convolution_2d(x, W, b, stride=k)`` for a ``k x k`` kernel, no padding.

    Args:
        x: ``(B, C_in, H, W)`` with H and W multiples of ``k``.
        W: ``(C_out, C_in, k, k)``.
        b: ``(C_out,)`` or ``None``.

    Returns:
        ~chainer.Variable: ``(B, C_out, H / k, W / k)``.
    """
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
