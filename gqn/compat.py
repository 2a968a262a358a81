"""Chainer 7.8.1 (2020) on today's NumPy, setuptools and Python: the shims, in one place.

:func:`apply` runs from ``import gqn``, so every entry point of the project (the
package, the ``gqn`` command, the tests, the benchmarks, the MPI scripts) has it
before Chainer is first imported. It installs an import hook, and the shims are
applied when Chainer, ChainerMN, pyrender or CuPy is first imported (so
``import gqn`` itself stays free of NumPy). Each shim is applied only where the
thing it replaces is missing, so on the pinned stack (Python 3.11, NumPy 1.26,
setuptools < 74) nothing changes. What each one replaces, and why:

- ``numpy.sctypes`` (removed in NumPy 2.0): Chainer's
  ``functions/array/as_strided.py`` reads ``np.sctypes['int']`` at import time
  and ``np.sctypes['float']`` in its backward. Restored as the same dict of
  scalar types by kind.
- ``numpy.infty`` (removed in NumPy 2.0): pyrender 0.1.45's ``Mesh.bounds``
  (reached by every ``Scene.add`` of a mesh). Restored as ``numpy.inf``.
- ``chainer._environment_check`` (imports ``numpy.distutils``, gone in NumPy
  2.0 and in Python 3.12, and ``pkg_resources``, gone in setuptools 81 and
  absent where setuptools is not installed): the module only warns about a
  Mac OS Accelerate BLAS and about optional packages (CuPy, iDeep) outside the
  version ranges Chainer 7.8.1 knew; it changes no computation. Where either
  import fails it is replaced by a module whose ``check()`` does nothing.
- CuPy 13's CUDA libraries: CuPy 13 does not look inside NVIDIA's pip wheels
  (``nvidia-*-cu12``); :func:`gqn.cuda.preload_wheel_libraries` loads them
  before CuPy is imported, so nobody has to set ``LD_LIBRARY_PATH``. CuPy 14
  finds them itself.
- Chainer's import-time warning that cuDNN is not enabled is silenced (CuPy 14
  has no cuDNN at all; the convolutions run on cuBLAS instead), and so is
  CuPy's that NCCL is missing (only multi-GPU training needs it, and says so).

Results on NumPy 2 follow NEP 50's promotion rules; the project's code keeps
float32 arrays float32 by passing Python floats or same-dtype arrays, and the
test suite runs on both stacks (see ``tests/gqn/test_compat.py``).
"""
import importlib.abc
import importlib.machinery
import importlib.util
import sys
import warnings

#: The names of the shims installed in this process so far.
applied = []

#: Top-level modules whose import first applies the NumPy shims.
_NUMPY_USERS = ('chainer', 'chainermn', 'pyrender')
_ENVIRONMENT_CHECK = 'chainer._environment_check'


def _sctypes(np):
    kinds = {'int': ('int8', 'int16', 'int32', 'int64'),
             'uint': ('uint8', 'uint16', 'uint32', 'uint64'),
             'float': ('float16', 'float32', 'float64', 'longdouble'),
             'complex': ('complex64', 'complex128', 'clongdouble')}
    table = {kind: [getattr(np, name) for name in names] for kind, names in kinds.items()}
    table['others'] = [bool, object, bytes, str, np.void]
    return table


def apply_numpy_shims():
    """Restore ``numpy.sctypes`` and ``numpy.infty`` where NumPy removed them."""
    import numpy as np
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')  # NumPy 2's __getattr__ warns on some removed names
        missing = [name for name in ('sctypes', 'infty') if name not in np.__dict__]
    if 'sctypes' in missing:
        np.sctypes = _sctypes(np)
    if 'infty' in missing:
        np.infty = np.inf
    applied.extend('numpy.' + name for name in missing if 'numpy.' + name not in applied)


def environment_check_works():
    """Whether Chainer's own ``_environment_check`` can import ``pkg_resources`` and
    ``numpy.distutils.system_info`` here."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')  # "pkg_resources / numpy.distutils is deprecated"
            import numpy.distutils.system_info  # noqa: F401
            import pkg_resources  # noqa: F401
    except Exception:  # ImportError, or distutils failing inside NumPy 1.x on new setuptools
        return False
    return True


class _StubLoader(importlib.abc.Loader):
    def create_module(self, spec):
        return None

    def exec_module(self, module):
        module.__doc__ = ("gqn.compat's stand-in: Chainer's environment check needs "
                          'numpy.distutils and pkg_resources, which this environment lacks; '
                          'its warnings are skipped.')
        module.check = lambda: None


class _Finder(importlib.abc.MetaPathFinder):
    """Applies the shims when their module is first imported, not at ``import gqn``
    (which stays free of NumPy), and stands in for Chainer's environment check."""

    cupy_seen = False

    def find_spec(self, name, path=None, target=None):
        if name in _NUMPY_USERS:
            apply_numpy_shims()
        elif name == 'cupy' and not self.cupy_seen:
            self.cupy_seen = True
            from gqn.cuda import preload_wheel_libraries
            if preload_wheel_libraries():
                applied.append('CUDA wheel libraries preloaded')
        elif name == _ENVIRONMENT_CHECK and not environment_check_works():
            applied.append(_ENVIRONMENT_CHECK)
            return importlib.machinery.ModuleSpec(name, _StubLoader())
        return None  # the normal import goes on


def apply():
    """Install the shims (idempotent): at once if Chainer, ChainerMN or pyrender is
    already imported, else when the first of them is."""
    if not any(isinstance(f, _Finder) for f in sys.meta_path):
        sys.meta_path.insert(0, _Finder())
        # CuPy 14 has no cuDNN at all (and 13 may lack it): the convolutions then run
        # on cuBLAS, which `gqn train` reports; Chainer's import-time warning is noise.
        warnings.filterwarnings('ignore', message='cuDNN is not enabled', category=UserWarning)
        # CuPy's import-time note that NCCL is missing: only multi-GPU training needs it,
        # and `gqn train --multi-node` says so where it does.
        warnings.filterwarnings('ignore', message=r'\s*nccl library could not be loaded',
                                category=UserWarning)
    if any(name in sys.modules for name in _NUMPY_USERS):
        apply_numpy_shims()
