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
channels; with a shared core the one result serves every step. With unshared
cores on NumPy, :meth:`ConvLSTMCore.shared_step` instead convolves the parts
of each step's concatenation apart and sums them in the Winograd domain, with
the invariant inputs' transform computed once and shared by the steps
(:mod:`gqn.functions.concat_convolution_2d`): the same FLOPs, less transform
work and no stacked output to split.
"""
import chainer
import chainer.functions as F
from chainer import initializers

from gqn.functions import conv_lstm_cell, convolution_2d
from gqn.functions.concat_convolution_2d import ConcatConvolution2D
from gqn.functions.convolution_2d import WINOGRAD_TILE, runs_natively
from gqn.functions.stock_ops import stock_ops_enabled
from gqn.functions.winograd_convolution_2d import applicable


def gate_convolution(x, W, b=None):
    """The gate convolution of every ConvLSTM core ('same' padding, stride 1).

    :func:`gqn.functions.convolution_2d` (no im2col on the CPU, cuDNN on
    CUDA); ``F.convolution_2d`` inside :func:`gqn.functions.stock_ops`.

    Args:
        x (~chainer.Variable): ``(B, C_in, H, W)``.
        W (~chainer.Variable or list): ``(C_out, C_in, k, k)`` with ``k`` odd, or
            its blocks of output channels (see :func:`gqn.functions.convolution_2d`).
        b (~chainer.Variable or None): ``(C_out,)``.

    Returns:
        ~chainer.Variable: ``(B, C_out, H, W)``.
    """
    if stock_ops_enabled():
        if isinstance(W, list):
            W = F.concat(W, axis=0)
        return F.convolution_2d(x, W, b, pad=W.shape[2] // 2)
    return convolution_2d(x, W, b)


def lstm_cell(c, a):
    """``(c, h)`` of the ConvLSTM update from gate pre-activations ``a`` ([i, f, o, g]).

    The fused :func:`gqn.functions.conv_lstm_cell`; inside
    :func:`gqn.functions.stock_ops`, Chainer's ``F.lstm`` on the same gates
    (reordered to its per-channel interleaved [g, i, f, o] layout).
    """
    if not stock_ops_enabled():
        return conv_lstm_cell(c, a)
    B, C4 = a.shape[:2]
    i, f, o, g = F.split_axis(a, 4, axis=1)
    interleaved = F.reshape(F.stack((g, i, f, o), axis=2), (B, C4) + a.shape[2:])
    c, h = F.lstm(c, interleaved)
    return c, h


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
        a = gate_convolution(F.concat((h, x, invariant), axis=1), self.W, self.b)
        c, h = lstm_cell(c, a)
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
        c, h = lstm_cell(c, a)
        return h, c

    def shared_step(self, h, c, xs, invariant, cache):
        """One step whose gate convolution shares the invariant inputs' transform.

        The convolution of ``[h, *xs, invariant]`` by
        :class:`gqn.functions.concat_convolution_2d.ConcatConvolution2D`: no
        concatenation, and the Winograd transform of ``invariant`` comes from
        ``cache`` (computed by the first step that needs it). Same result as
        :meth:`forward`; NumPy only (see :func:`shares_transforms`).

        Args:
            xs (tuple of ~chainer.Variable): per-step inputs, ``in_channels`` in all.
            invariant (~chainer.Variable): ``(B, invariant_channels, S, S)``, the
                same array at every step.
            cache (~gqn.functions.concat_convolution_2d.TransformCache): one per
                forward pass.
        """
        k = self.W_variant.shape[2]
        parts = (h,) + tuple(xs) + (invariant,)
        a, = ConcatConvolution2D(len(parts), (k // 2, k // 2), WINOGRAD_TILE[k], cache,
                                 invariant=(len(parts) - 1,)).apply(
            parts + (self.W_variant, self.W_invariant, self.b))
        c, h = lstm_cell(c, a)
        return h, c


def shares_transforms(core, invariant):
    """Whether :meth:`ConvLSTMCore.shared_step` runs for these arrays: NumPy float
    arrays, a kernel for Winograd's algorithm, outside :func:`gqn.functions.stock_ops`."""
    k = core.W_invariant.shape[2]
    return (not stock_ops_enabled() and k in WINOGRAD_TILE
            and applicable(core.W_invariant.shape, (k // 2, k // 2))
            and runs_natively(chainer.as_array(invariant), core.W_invariant.array))


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
    W = [core.W_invariant for core in cores]
    b = F.concat([core.b for core in cores], axis=0)
    return list(F.split_axis(gate_convolution(invariant, W, b), len(cores), axis=1))
