"""The type check shared by the stride-1 convolutions (Winograd, tap, shifted GEMM)."""
import functools
import operator

from chainer.utils import type_check


def check_convolution_types(in_types, pad, n_weights=1):
    """Chainer type check of ``(x, W_1, ..., W_k[, b])`` (``k = n_weights``: the
    blocks of output channels of ``W``) for a stride-1 convolution with padding ``pad``."""
    n_in = in_types.size()
    type_check.expect(1 + n_weights <= n_in, n_in <= 2 + n_weights)
    x_type = in_types[0]
    w_types = in_types[1:1 + n_weights]
    type_check.expect(x_type.dtype.kind == 'f', x_type.ndim == 4)
    for w_type in w_types:
        type_check.expect(
            w_type.dtype == x_type.dtype, w_type.ndim == 4,
            x_type.shape[1] == w_type.shape[1],
            w_type.shape[2] == w_types[0].shape[2], w_type.shape[3] == w_types[0].shape[3],
            x_type.shape[2] + 2 * pad[0] >= w_type.shape[2],
            x_type.shape[3] + 2 * pad[1] >= w_type.shape[3])
    if type_check.eval(n_in) == 2 + n_weights:
        b_type = in_types[1 + n_weights]
        type_check.expect(b_type.dtype == x_type.dtype, b_type.ndim == 1,
                          b_type.shape[0] == functools.reduce(
                              operator.add, [w_type.shape[0] for w_type in w_types]))
