"""ConvLSTM cores of the ConvDRAW generator and the one place their gate convolutions run.

A core's gates are a ``k x k`` convolution of the channel concatenation
``[h, x, invariant]``: its own hidden state ``h``, the inputs ``x`` that change
every step, and the inputs that are the same at every step (``v_q``, ``r``,
the downsampled query image). A convolution of a concatenation is the sum of
the convolutions of its parts, so the contribution of the invariant inputs can
be computed once per forward pass (:func:`invariant_gates`) and added at each
step (:meth:`ConvLSTMCore.step`), instead of convolving the concatenation
``L`` times (:meth:`ConvLSTMCore.forward`). With unshared cores the ``L``
weight slices are stacked into one convolution with ``L`` times the output
channels; with a shared core the one result serves every step.
"""
import chainer
import chainer.functions as F
from chainer import initializers

from gqn.functions import conv_lstm_cell


def gate_convolution(x, W, b=None):
    """The gate convolution of every ConvLSTM core ('same' padding, stride 1).

    Args:
        x (~chainer.Variable): ``(B, C_in, H, W)``.
        W (~chainer.Variable): ``(C_out, C_in, k, k)`` with ``k`` odd.
        b (~chainer.Variable or None): ``(C_out,)``.

    Returns:
        ~chainer.Variable: ``(B, C_out, H, W)``.
    """
    return F.convolution_2d(x, W, b, pad=W.shape[2] // 2)


class ConvLSTMCore(chainer.Link):
    """A ConvLSTM cell whose gates see ``[h, x, invariant]``.

    Args:
        in_channels (int): channels of the per-step inputs ``x``.
        invariant_channels (int): channels of the step-invariant inputs.
        h_channels (int): channels of ``h`` and ``c``.
        ksize (int): odd kernel size of the gate convolution.

    Gate pre-activations are ordered ``[i, f, o, g]`` (see
    :func:`gqn.functions.conv_lstm_cell`).
    """

    def __init__(self, in_channels, invariant_channels, h_channels, ksize):
        super().__init__()
        self.h_channels = h_channels
        self.variant_channels = h_channels + in_channels
        total = self.variant_channels + invariant_channels
        with self.init_scope():
            self.W = chainer.Parameter(initializers.LeCunNormal(),
                                       (4 * h_channels, total, ksize, ksize))
            self.b = chainer.Parameter(initializers.Zero(), (4 * h_channels,))

    @property
    def W_variant(self):
        """The weight slice applied to ``[h, x]``."""
        return self.W[:, :self.variant_channels]

    @property
    def W_invariant(self):
        """The weight slice applied to the step-invariant inputs."""
        return self.W[:, self.variant_channels:]

    def forward(self, h, c, x, invariant):
        """One step, convolving the full concatenation (the plain formulation).

        Args:
            h, c (~chainer.Variable): states ``(B, h_channels, S, S)``.
            x (~chainer.Variable): per-step inputs ``(B, in_channels, S, S)``.
            invariant (~chainer.Variable): ``(B, invariant_channels, S, S)``.

        Returns:
            tuple: the new ``(h, c)``.
        """
        a = gate_convolution(F.concat((h, x, invariant), axis=1), self.W, self.b)
        c, h = conv_lstm_cell(c, a)
        return h, c

    def step(self, h, c, x, invariant_gates):
        """One step given the hoisted invariant contribution (with the bias).

        Args:
            invariant_gates (~chainer.Variable): ``(B, 4 h_channels, S, S)``
                from :func:`invariant_gates`.

        Returns:
            tuple: the new ``(h, c)``, equal to :meth:`forward`'s.
        """
        a = gate_convolution(F.concat((h, x), axis=1), self.W_variant) + invariant_gates
        c, h = conv_lstm_cell(c, a)
        return h, c


def invariant_gates(cores, invariant):
    """The gate contribution of the step-invariant inputs for each core, in one convolution.

    Args:
        cores (sequence of ConvLSTMCore): the cores (one, or one per step).
        invariant (~chainer.Variable): ``(B, invariant_channels, S, S)``.

    Returns:
        list: one ``(B, 4 h_channels, S, S)`` Variable per core (bias included).
    """
    cores = list(cores)
    if len(cores) == 1:
        return [gate_convolution(invariant, cores[0].W_invariant, cores[0].b)]
    W = F.concat([core.W_invariant for core in cores], axis=0)
    b = F.concat([core.b for core in cores], axis=0)
    return list(F.split_axis(gate_convolution(invariant, W, b), len(cores), axis=1))
