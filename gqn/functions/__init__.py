"""Fused elementwise functions of the GQN, each a ``chainer.FunctionNode``
with a NumPy implementation and a CuPy ``ElementwiseKernel`` twin."""
from gqn.functions.conv_lstm_cell import conv_lstm_cell  # NOQA
from gqn.functions.conv_lstm_cell import ConvLSTMCell  # NOQA
from gqn.functions.convolution_2d import convolution_2d  # NOQA
from gqn.functions.gaussian_kl import gaussian_kl  # NOQA
from gqn.functions.gaussian_kl import GaussianKL  # NOQA
from gqn.functions.gaussian_nll import gaussian_nll  # NOQA
from gqn.functions.gaussian_nll import GaussianNLL  # NOQA
