"""A switch back to Chainer's stock functions, for baselines and equality tests.

By default the model runs its own CPU-friendly functions (a convolution
without im2col, patch GEMMs for stride = kernel convolutions, a fused ConvLSTM
cell). Inside ``with stock_ops():`` every one of them falls back to the
straightforward Chainer formulation (``F.convolution_2d``,
``F.deconvolution_2d``, ``F.lstm``). Both give the same results to float
tolerance (tested); ``bench/model.py`` measures the difference.
"""
import chainer

CONFIG_KEY = 'gqn_stock_ops'


def stock_ops(enabled=True):
    """Context manager: use Chainer's stock functions inside the block."""
    return chainer.using_config(CONFIG_KEY, enabled)


def stock_ops_enabled():
    """Whether the current thread is inside :func:`stock_ops`."""
    return bool(getattr(chainer.config, CONFIG_KEY, False))
