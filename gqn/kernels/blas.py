"""Which OpenBLAS kernels NumPy uses, chosen before NumPy loads.

NumPy's wheels ship an OpenBLAS that picks its kernels at load time from the
CPU model. A CPU newer than that OpenBLAS (seen here: an Intel Xeon of family 6,
model 207, with AVX-512 and AMX) is not in its table and gets the generic
``Prescott`` (SSE3) kernels: float32 GEMM then runs at about 34 GFLOP/s
instead of about 200 on 2 cores, and a training step takes 2-5x longer. The
choice can only be made before the library loads, through the environment
variable ``OPENBLAS_CORETYPE``.

:func:`configure` (run by ``import gqn``) sets ``OPENBLAS_CORETYPE`` from the
CPU's instruction-set flags when NumPy is not loaded yet and the variable is
unset: ``SkylakeX`` on CPUs with AVX-512 (F, CD, BW, DQ, VL), ``Haswell`` on
CPUs with AVX2 and FMA. Those are the kernels OpenBLAS itself uses for
float32 on every CPU it knows with those flags (Sapphire Rapids and Zen 4 run
the SkylakeX SGEMM kernel, Zen 1-3 the Haswell one), so the choice changes
nothing where detection works and fixes it where it does not. A value the user
set is kept; other BLAS libraries ignore the variable. Child processes
(``mpiexec`` ranks, data workers) inherit it.
"""
import os
import sys

#: The flags each kernel family needs, best first.
CORETYPES = (
    ('SkylakeX', frozenset(('avx512f', 'avx512cd', 'avx512bw', 'avx512dq', 'avx512vl'))),
    ('Haswell', frozenset(('avx2', 'fma'))),
)


def coretype_for(flags):
    """The OpenBLAS core type for a CPU with these instruction-set ``flags``, or ``None``."""
    flags = set(flags)
    return next((name for name, needed in CORETYPES if needed <= flags), None)


def cpu_flags(path='/proc/cpuinfo'):
    """The instruction-set flags of the first CPU in ``path`` (empty where it is unreadable)."""
    try:
        with open(path) as f:
            for line in f:
                if line.startswith('flags'):
                    return frozenset(line.split(':', 1)[1].split())
    except OSError:
        pass
    return frozenset()


def configure(environ=os.environ):
    """Set ``OPENBLAS_CORETYPE`` from :func:`cpu_flags` if it is unset and NumPy is not loaded.

    Returns:
        str or None: the core type set, or ``None`` if nothing was set.
    """
    if 'OPENBLAS_CORETYPE' in environ or 'numpy' in sys.modules:
        return None
    coretype = coretype_for(cpu_flags())
    if coretype is not None:
        environ['OPENBLAS_CORETYPE'] = coretype
    return coretype


def describe():
    """``'openblas SkylakeX, 2 threads'``: the BLAS NumPy loaded (imports NumPy)."""
    import numpy  # noqa: F401  (loads the BLAS that threadpool_info reports)
    from threadpoolctl import threadpool_info
    return '; '.join('%s %s, %d threads' % (i['internal_api'], i.get('architecture', '?'),
                                             i['num_threads'])
                     for i in threadpool_info() if i['user_api'] == 'blas')
