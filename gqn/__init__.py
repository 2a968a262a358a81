"""Generative Query Networks in Chainer, trained on datasets you render yourself.

The public names below are imported on first use, so ``import gqn`` stays
cheap (it does not import Chainer). It does pick NumPy's BLAS kernels
(:mod:`gqn.kernels.blas`) and install the shims that let Chainer 7.8.1 run on today's
NumPy and Python (:mod:`gqn.compat`): import ``gqn`` before NumPy and Chainer.
"""
import importlib

from gqn import compat
from gqn.kernels import blas

__version__ = '0.1.0'

blas.configure()  # before anything loads NumPy's OpenBLAS (see gqn.kernels.blas)
compat.apply()  # before anything imports Chainer (see gqn.compat)

_LAZY = {
    'GQNError': 'gqn.errors',
    'HyperParameters': 'gqn.model.hyperparams',
    'GQN': 'gqn.model.gqn',
    'GQNLoss': 'gqn.model.loss',
    'save_model': 'gqn.model.weights',
    'load_model': 'gqn.model.weights',
    'save_hyperparams': 'gqn.model.weights',
    'load_hyperparams': 'gqn.model.weights',
}

__all__ = ['__version__'] + sorted(_LAZY)


def __getattr__(name):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError('module %r has no attribute %r' % (__name__, name))
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
