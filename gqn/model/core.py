"""The ConvLSTM cores of the ConvDRAW generator.

A core's gates are a ``k x k`` convolution of the channel concatenation
``[h, x, invariant]``: its own hidden state ``h``, the inputs ``x`` that change
every step, and the inputs that are the same at every step (``v_q``, ``r``, the
downsampled query image). The weight is kept as its two slices over ``[h, x]``
and over the invariant inputs, so that :func:`gqn.ops.conv_lstm_steps` can do
the work on the invariant inputs once per forward pass.
"""
import chainer
import chainer.functions as F
from chainer import initializers

from gqn import ops


class ConvLSTMCore(chainer.Link):
    """A ConvLSTM cell whose gates see ``[h, x, invariant]``.

    Args:
        in_channels (int): channels of the per-step inputs ``x``.
        invariant_channels (int): channels of the step-invariant inputs.
        h_channels (int): channels of ``h`` and ``c``.
        ksize (int): odd kernel size of the gate convolution.

    Gate pre-activations are ordered ``[i, f, o, g]`` (see
    :func:`gqn.ops.lstm_cell`).
    """

    def __init__(self, in_channels, invariant_channels, h_channels, ksize):
        super().__init__()
        self.h_channels = h_channels
        variant = h_channels + in_channels
        total = variant + invariant_channels
        with self.init_scope():
            # Two slices of one weight over [h, x, invariant]: LeCun-normal
            # with the fan-in of the whole concatenation.
            self.W_variant = chainer.Parameter(
                initializers.LeCunNormal((variant / total) ** 0.5),
                (4 * h_channels, variant, ksize, ksize))
            self.W_invariant = chainer.Parameter(
                initializers.LeCunNormal((invariant_channels / total) ** 0.5),
                (4 * h_channels, invariant_channels, ksize, ksize))
            self.b = chainer.Parameter(initializers.Zero(), (4 * h_channels,))

    @property
    def W(self):
        """The weight over the whole concatenation ``[h, x, invariant]``."""
        return F.concat((self.W_variant, self.W_invariant), axis=1)

    def forward(self, h, c, x, invariant):
        """One step, convolving the full concatenation (the plain formulation).

        Args:
            h, c (~chainer.Variable): states ``(B, h_channels, S, S)``.
            x (~chainer.Variable): per-step inputs ``(B, in_channels, S, S)``.
            invariant (~chainer.Variable): ``(B, invariant_channels, S, S)``.

        Returns:
            tuple: the new ``(h, c)``.
        """
        a = ops.convolution_2d(F.concat((h, x, invariant), axis=1), self.W, self.b)
        c, h = ops.lstm_cell(c, a)
        return h, c
