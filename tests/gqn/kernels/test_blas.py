import os
import subprocess
import sys

from gqn.kernels import blas

AVX512 = {'sse2', 'avx', 'avx2', 'fma', 'avx512f', 'avx512cd', 'avx512bw', 'avx512dq', 'avx512vl'}


def test_coretype_for_flags():
    assert blas.coretype_for(AVX512 | {'amx_tile', 'avx512_bf16'}) == 'SkylakeX'
    assert blas.coretype_for(AVX512 - {'avx512vl'}) == 'Haswell'  # Xeon Phi: no VL
    assert blas.coretype_for({'sse2', 'avx', 'avx2', 'fma'}) == 'Haswell'
    assert blas.coretype_for({'sse2', 'avx', 'avx2'}) is None
    assert blas.coretype_for(set()) is None


def test_cpu_flags_reads_the_first_cpu(tmp_path):
    info = tmp_path / 'cpuinfo'
    info.write_text('processor\t: 0\nflags\t\t: fpu sse2 avx2 fma\n\n'
                    'processor\t: 1\nflags\t\t: fpu\n')
    assert blas.cpu_flags(str(info)) == {'fpu', 'sse2', 'avx2', 'fma'}
    assert blas.cpu_flags(str(tmp_path / 'missing')) == frozenset()


def test_configure_keeps_a_users_choice_and_a_loaded_numpy():
    assert 'numpy' in sys.modules  # the test session has loaded it
    environ = {}
    assert blas.configure(environ) is None and environ == {}
    environ = {'OPENBLAS_CORETYPE': 'Haswell'}
    assert blas.configure(environ) is None and environ == {'OPENBLAS_CORETYPE': 'Haswell'}


def test_import_gqn_selects_the_kernels_for_this_cpu():
    """In a fresh process, ``import gqn`` before NumPy gives OpenBLAS the kernels the
    CPU's flags call for (on a CPU OpenBLAS does not know it would fall back to
    ``Prescott``)."""
    expected = blas.coretype_for(blas.cpu_flags())
    env = {k: v for k, v in os.environ.items() if k != 'OPENBLAS_CORETYPE'}
    out = subprocess.run(
        [sys.executable, '-c', 'import gqn, os; from gqn import blas; '
         'print(os.environ.get("OPENBLAS_CORETYPE")); print(blas.describe())'],
        env=env, capture_output=True, text=True, check=True).stdout.splitlines()
    assert out[0] == str(expected)
    if expected is not None and out[1].startswith('openblas'):
        assert out[1].split(',')[0] == 'openblas ' + expected
