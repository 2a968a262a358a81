"""The operations the model calls: the seam between :mod:`gqn.model` and :mod:`gqn.kernels`.

The model says *what* it computes with these names; how each runs fast (Winograd
or tap convolutions, shared transforms, fused cells, threads) is decided behind
them, and inside ``with stock_ops():`` each falls back to Chainer's own
functions of the same operation (for baselines and equality tests).

=======================  =======================================================
:func:`convolution_2d`   stride-1 convolution, ``'same'`` padding by default
:func:`relu`             ``F.relu``
:class:`Convolution2D`,  drop-in ``chainer.links`` convolutions (patch GEMMs for
:class:`Deconvolution2D` stride = kernel); :func:`stacked_convolutions`
:func:`lstm_cell`        the ConvLSTM update from gate pre-activations
:func:`conv_lstm_steps`  the ``L`` steps of ConvLSTM cores (hoisted invariant gates)
:func:`canvas`           the ConvDRAW canvas: write, read, image
:func:`gaussian_kl`,     elementwise KL of two diagonal Gaussians, Gaussian NLL
:func:`gaussian_nll`
:data:`latent_noise`     where ``eps`` of the latents comes from (:mod:`gqn.ops.random_state`)
:func:`stock_ops`        the switch to Chainer's stock functions
=======================  =======================================================
"""
from gqn.kernels.gaussian_kl import gaussian_kl  # noqa: F401
from gqn.kernels.gaussian_nll import gaussian_nll  # noqa: F401
from gqn.ops.canvas import canvas  # noqa: F401
from gqn.ops.conv_lstm import conv_lstm_steps, invariant_gates, lstm_cell  # noqa: F401
from gqn.ops.convolution import convolution_2d, relu  # noqa: F401
from gqn.ops.links import Convolution2D, Deconvolution2D, stacked_convolutions  # noqa: F401
from gqn.ops.random_state import fixed_seed, latent_noise  # noqa: F401
from gqn.ops.stock_ops import stock_ops, stock_ops_enabled  # noqa: F401
