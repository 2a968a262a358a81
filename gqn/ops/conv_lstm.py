"""The steps of ConvLSTM cores: the fused cell and three formulations of the gates.

A core's gates are a ``k x k`` convolution of the channel concatenation
``[h, x, invariant]``: its own hidden state ``h``, the inputs ``x`` that change
every step, and the inputs that are the same at every step (``v_q``, ``r``,
the downsampled query image). A convolution of a concatenation is the sum of
the convolutions of its parts, so the contribution of the invariant inputs can
be computed once per forward pass (:func:`invariant_gates`) and added at each
step, instead of convolving the concatenation ``L`` times (the core's own
``forward``). With unshared cores the ``L`` weight slices are stacked into one
convolution with ``L`` times the output channels; with a shared core the one
result serves every step. With unshared cores on NumPy the gates are instead
convolved part by part and summed in the Winograd domain, with the invariant
inputs' transform computed once and shared by the steps
(:mod:`gqn.kernels.concat_convolution_2d`): the same FLOPs, less transform
work and no stacked output to split. :func:`conv_lstm_steps` picks one; all
give the same result.

A core is any object with the parameters ``W_variant`` ``(4 h, C_h + C_x, k,
k)``, ``W_invariant`` ``(4 h, C_inv, k, k)`` and ``b`` ``(4 h,)``, callable
as ``core(h, c, x, invariant) -> (h, c)`` (:class:`gqn.model.core.ConvLSTMCore`).
"""
import chainer
import chainer.functions as F

from gqn.kernels.concat_convolution_2d import ConcatConvolution2D, TransformCache
from gqn.kernels.conv_lstm_cell import conv_lstm_cell
from gqn.kernels.convolution_2d import WINOGRAD_TILE, runs_natively
from gqn.kernels.winograd_convolution_2d import applicable
from gqn.ops.convolution import convolution_2d
from gqn.ops.stock_ops import stock_ops_enabled


def lstm_cell(c, a):
    """``(c, h)`` of the ConvLSTM update from gate pre-activations ``a`` ([i, f, o, g]).

    The fused :func:`gqn.kernels.conv_lstm_cell.conv_lstm_cell`; inside
    :func:`gqn.ops.stock_ops`, Chainer's ``F.lstm`` on the same gates
    (reordered to its per-channel interleaved [g, i, f, o] layout).

    Args:
        c (~chainer.Variable): the cell state ``(B, h, S, S)``.
        a (~chainer.Variable): gate pre-activations ``(B, 4 h, S, S)``.
    """
    if not stock_ops_enabled():
        return conv_lstm_cell(c, a)
    B, C4 = a.shape[:2]
    i, f, o, g = F.split_axis(a, 4, axis=1)
    interleaved = F.reshape(F.stack((g, i, f, o), axis=2), (B, C4) + a.shape[2:])
    c, h = F.lstm(c, interleaved)
    return c, h


def invariant_gates(cores, invariant):
    """The gate contribution of the step-invariant inputs for each core, in one convolution.

    Args:
        cores (sequence): the cores (one, or one per step).
        invariant (~chainer.Variable): ``(B, invariant_channels, S, S)``.

    Returns:
        list: one ``(B, 4 h_channels, S, S)`` Variable per core (bias included).
    """
    cores = list(cores)
    if len(cores) == 1:
        return [convolution_2d(invariant, cores[0].W_invariant, cores[0].b)]
    W = [core.W_invariant for core in cores]
    b = F.concat([core.b for core in cores], axis=0)
    return list(F.split_axis(convolution_2d(invariant, W, b), len(cores), axis=1))


def _hoisted_step(core, h, c, xs, gates):
    """One step given the hoisted invariant contribution ``gates`` (with the bias)."""
    a = convolution_2d(F.concat((h,) + tuple(xs), axis=1), core.W_variant) + gates
    c, h = lstm_cell(c, a)
    return h, c


def _shares_transforms(core, invariant):
    """Whether :func:`_shared_step` runs for these arrays: NumPy float arrays, a kernel for
    Winograd's algorithm, outside :func:`gqn.ops.stock_ops`."""
    k = core.W_invariant.shape[2]
    return (not stock_ops_enabled() and k in WINOGRAD_TILE
            and applicable(core.W_invariant.shape, (k // 2, k // 2))
            and runs_natively(chainer.as_array(invariant), core.W_invariant.array))


def _shared_step(core, h, c, xs, invariant, cache):
    """One step whose gate convolution of ``[h, *xs, invariant]`` is a
    :class:`~gqn.kernels.concat_convolution_2d.ConcatConvolution2D`: no
    concatenation, and the Winograd transform of ``invariant`` comes from ``cache``
    (computed by the first step that needs it). NumPy only."""
    k = core.W_variant.shape[2]
    parts = (h,) + tuple(xs) + (invariant,)
    a, = ConcatConvolution2D(len(parts), (k // 2, k // 2), WINOGRAD_TILE[k], cache,
                             invariant=(len(parts) - 1,)).apply(
        parts + (core.W_variant, core.W_invariant, core.b))
    c, h = lstm_cell(c, a)
    return h, c


def conv_lstm_steps(cores, invariant, steps, hoist=True):
    """One function ``(h, c, xs) -> (h, c)`` per step, ``xs`` the step's inputs (a tuple).

    Args:
        cores (sequence): one core per step, or one shared by all steps.
        invariant (~chainer.Variable): the step-invariant inputs
            ``(B, invariant_channels, S, S)``.
        steps (int): the number of steps ``L``.
        hoist (bool): do the work on ``invariant`` once per forward pass (the
            shared Winograd transform with unshared cores on NumPy, the stacked
            invariant gates otherwise) instead of convolving the concatenation at
            every step.

    Returns:
        list: ``steps`` functions; step ``l`` runs core ``l`` (or the shared one).
    """
    cores = list(cores)
    per_step = [cores[0 if len(cores) == 1 else l] for l in range(steps)]
    if not hoist:
        return [lambda h, c, xs, core=core: core(h, c, F.concat(xs, axis=1), invariant)
                for core in per_step]
    if len(cores) > 1 and _shares_transforms(cores[0], invariant):
        cache = TransformCache()
        return [lambda h, c, xs, core=core: _shared_step(core, h, c, xs, invariant, cache)
                for core in per_step]
    gates = invariant_gates(cores, invariant)
    return [lambda h, c, xs, core=core, g=gates[0 if len(gates) == 1 else l]:
            _hoisted_step(core, h, c, xs, g) for l, core in enumerate(per_step)]
