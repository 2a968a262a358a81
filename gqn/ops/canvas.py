"""The ConvDRAW canvas ``u``: written at every step, read at every step, an image once."""
import chainer.functions as F

from gqn.ops.stock_ops import stock_ops_enabled


def canvas(write, read, B, S, xp, dtype):
    """The empty canvas ``u`` and its operations ``write(u, h_g)``, ``read(u)`` and
    ``image(u)`` (``(B, u_channels, k S, k S)``).

    Args:
        write (~chainer.links.Deconvolution2D): the ``k x k`` stride-``k`` transposed
            convolution from ``h_g`` ``(B, h_channels, S, S)`` to the canvas.
        read (~chainer.links.Convolution2D): the ``k x k`` stride-``k`` convolution
            from the canvas back to ``(B, h_channels, S, S)``.
        B, S (int): batch size and the cores' spatial size.
        xp (module): NumPy or CuPy; ``dtype``: the parameters' dtype.

    Inside :func:`gqn.ops.stock_ops` ``u`` is the canvas image and the operations
    are the links. Otherwise ``u`` is ``(sum of the h_g written, number of
    writes)``: the write is linear and the same at every step, so the canvas after
    ``n`` writes is ``write(h_1 + ... + h_n)`` with ``n`` times the bias, and its
    read is the sum through the ``(h_channels, h_channels)`` composition of the
    write and the read. The ``L`` steps then touch no ``k S x k S`` canvas (no
    canvas-sized product, sum or saved input per step); the canvas becomes an image
    once, for the observation. Same parameters and values as the links (to float
    rounding: the sums are reassociated).
    """
    h_channels, C, k = write.W.shape[:3]
    if stock_ops_enabled():
        return (xp.zeros((B, C, k * S, k * S), dtype=dtype),
                lambda u, h: u + write(h), read, lambda u: u)
    # Both kernels as (h_channels, u_channels k k) matrices with columns (channel, row,
    # column); no transposed view of a parameter: its gradient would be a
    # non-contiguous array, which ChainerMN's all-reduce silently leaves unreduced.
    W_write = F.reshape(write.W, (-1, C * k * k))
    b_write = F.repeat(write.b, k * k)
    W_read = F.reshape(read.W, (-1, C * k * k))
    W_through = F.linear(W_write, W_read)  # (h, h): a write, then the read
    b_through = F.linear(F.expand_dims(b_write, 0), W_read)[0]  # one write bias, read

    def rows(h):  # (B, c, S, S) -> (B S S, c)
        return F.reshape(F.transpose(h, (0, 2, 3, 1)), (B * S * S, h.shape[1]))

    def write_step(u, h):
        total, n = u
        return total + h, n + 1

    def read_step(u):
        total, n = u
        d = F.bias(F.matmul(rows(total), W_through), read.b + n * b_through)
        return F.transpose(F.reshape(d, (B, S, S, -1)), (0, 3, 1, 2))

    def image(u):
        total, n = u
        patches = F.bias(F.matmul(rows(total), W_write), n * b_write)
        patches = F.transpose(F.reshape(patches, (B, S, S, C, k, k)), (0, 3, 1, 4, 2, 5))
        return F.reshape(patches, (B, C, k * S, k * S))

    return (xp.zeros((B, h_channels, S, S), dtype=dtype), 0), write_step, read_step, image
