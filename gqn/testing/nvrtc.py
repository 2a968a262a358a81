"""Compile every CuPy kernel of the project with NVRTC, on a machine with no GPU or driver.

CuPy compiles an ``ElementwiseKernel`` on its first call, for the arguments of
that call, which needs a device. This check builds the same CUDA source CuPy
would (with CuPy's own code generator) for each variant the model can hit --
float32 and float64; contiguous 1-d and strided 4-d arrays; 32- and 64-bit
indexing -- and compiles it with NVRTC for the requested architectures, the
device queries replaced by the architecture given. Needs CuPy 13 or 14, the
NVRTC library (pip ``nvidia-cuda-nvrtc-cu12``) and the CUDA headers (pip
``nvidia-cuda-runtime-cu12``: ``cuda_fp16.h``).

CuPy's generator is private API (``cupy._core._kernel``): everything that
touches it is in this module, and :func:`unavailable` says why the check cannot
run where it cannot.
"""
import contextlib
import importlib
import itertools

import numpy

from gqn.kernels.cuda_kernels import REGISTRY

#: The modules that define kernels (imported to fill the registry).
KERNEL_MODULES = ('gqn.kernels.conv_lstm_cell', 'gqn.kernels.gaussian_nll',
                  'gqn.kernels.gaussian_kl')
#: ``(ndim, contiguous)`` of the array arguments: what CuPy reduces a contiguous
#: call to, and a strided 4-d (NCHW) call.
LAYOUTS = ((1, True), (4, False))
DTYPES = (numpy.dtype(numpy.float32), numpy.dtype(numpy.float64))

_NDARRAY, _INDEXER, _SCALAR = 1, 2, 3  # cupy._core._kernel's argument kinds


class CompileError(Exception):
    """NVRTC rejected a kernel variant; the message holds NVRTC's log."""


def kernels():
    """The registry of :mod:`gqn.kernels.cuda_kernels` after importing every kernel module:
    a list of ``(name, kernel, scalar input names)``."""
    for module in KERNEL_MODULES:
        importlib.import_module(module)
    return [(name, factory(), scalars) for name, factory, scalars in REGISTRY]


def unavailable():
    """Why the check cannot run here (a sentence), or ``None`` when it can."""
    try:
        import cupy  # noqa: F401
        from cupy._core import _kernel  # noqa: F401
        from cupy.cuda import compiler
    except Exception as e:  # ImportError, or CuPy failing to load its libraries
        return 'CuPy is not importable (%s: %s)' % (type(e).__name__, e)
    if not hasattr(_kernel, '_get_elementwise_kernel_code'):
        return 'this CuPy (%s) has no _get_elementwise_kernel_code' % cupy.__version__
    try:
        compiler._get_nvrtc_version()
    except Exception as e:
        return 'the NVRTC library cannot be loaded (%s: %s); pip install ' \
               'nvidia-cuda-nvrtc-cu12 nvidia-cuda-runtime-cu12' % (type(e).__name__, e)
    return None


def source(kernel, dtype, scalars, ndim, contiguous, idx32):
    """The CUDA source CuPy generates for ``kernel`` called on such arguments."""
    import cupy
    from cupy._core import _carray, _kernel, _scalar
    in_types = tuple(None if p.name in scalars else dtype.type for p in kernel.in_params)
    _, _, type_map = kernel._decide_params_type(in_types, ())
    infos = []
    for p in kernel.params:
        if p.name in scalars:
            scalar_type = p.dtype if p.dtype is not None else dtype.type
            infos.append(_kernel._ArgInfo(_SCALAR, _scalar.CScalar, scalar_type, 0, True, True))
        elif p.name == '_ind':
            infos.append(_kernel._ArgInfo(_INDEXER, _carray.Indexer, None, ndim, True, idx32))
        else:
            nd = 4 if p.raw else ndim
            c = contiguous if (p.raw or ndim > 1) else True
            infos.append(_kernel._ArgInfo(_NDARRAY, cupy.ndarray, dtype.type, nd, c, idx32))
    code = _kernel._get_elementwise_kernel_code(
        tuple(infos), type_map, kernel.params, kernel.operation, kernel.name, kernel.preamble)
    return '#include <cupy/carray.cuh>\n' + code


@contextlib.contextmanager
def _architecture(arch, cubin):
    """CuPy's device queries answered with ``arch`` (``'80'``...)."""
    from cupy.cuda import compiler
    saved = compiler._get_arch, compiler._get_arch_for_options_for_nvrtc
    compiler._get_arch = lambda: arch
    compiler._get_arch_for_options_for_nvrtc = lambda a=None: (
        ('-arch=sm_%s' % (a or arch), 'cubin') if cubin else
        ('-arch=compute_%s' % (a or arch), 'ptx'))
    try:
        yield
    finally:
        compiler._get_arch, compiler._get_arch_for_options_for_nvrtc = saved


def _options():
    from cupy._core import core
    from cupy.cuda import compiler
    options = tuple(core.assemble_cupy_compiler_options(())) + ('-ftz=true',)
    if hasattr(compiler, '_get_extra_include_dir_opts'):  # CuPy 13
        options += tuple(compiler._get_extra_include_dir_opts())
    return options


def compile_source(code, arch, cubin=False, name='kernel.cu'):
    """Compile ``code`` with NVRTC for ``arch`` (``'80'``): PTX, or SASS with ``cubin``.

    Returns:
        bytes: the PTX or cubin.

    Raises:
        CompileError: with NVRTC's log.
    """
    from cupy.cuda import compiler
    with _architecture(arch, cubin):
        try:
            out, _ = compiler.compile_using_nvrtc(code, _options(), arch=arch, filename=name)
        except compiler.CompileException as e:
            raise CompileError('%s: %s' % (name, e)) from None
    return out if isinstance(out, bytes) else out.encode('latin-1')


def variants(archs=('80', '90'), cubin=False):
    """Every ``(tag, kernel name, source, arch)`` to compile."""
    for name, kernel, scalars in kernels():
        for dtype, (ndim, contiguous), idx32, arch in itertools.product(
                DTYPES, LAYOUTS, (True, False), archs):
            tag = '%s_%s_nd%d%s_%s_%s%s' % (kernel.name, dtype.name, ndim,
                                             '' if contiguous else 'nc',
                                             'i32' if idx32 else 'i64',
                                             'sm' if cubin else 'compute', arch)
            yield tag, kernel.name, source(kernel, dtype, scalars, ndim, contiguous, idx32), arch


def compile_all(archs=('80', '90'), cubin=False):
    """Compile every variant; returns ``{tag: PTX or cubin bytes}``.

    Raises:
        CompileError: on the first variant NVRTC rejects.
    """
    return {tag: compile_source(code, arch, cubin, name=tag + '.cu')
            for tag, _, code, arch in variants(archs, cubin)}


def main(argv=None):
    """``python -m gqn.testing.nvrtc [--sass] [ARCH ...]``: compile every variant (default
    architectures 80 and 90, PTX); print a JSON summary; exit 1 if NVRTC rejects one."""
    import json
    import sys
    args = list(sys.argv[1:] if argv is None else argv)
    cubin = '--sass' in args
    archs = tuple(a for a in args if a != '--sass') or ('80', '90')
    reason = unavailable()
    if reason:
        print(json.dumps({'error': reason}))
        return 2
    import cupy
    from cupy.cuda import compiler
    try:
        out = compile_all(archs, cubin)
    except CompileError as e:
        print(json.dumps({'error': str(e)}))
        return 1
    print(json.dumps({'compiled': len(out), 'kind': 'sass' if cubin else 'ptx',
                      'archs': list(archs), 'cupy': cupy.__version__,
                      'nvrtc': list(compiler._get_nvrtc_version()),
                      'bytes': sum(map(len, out.values()))}))
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
