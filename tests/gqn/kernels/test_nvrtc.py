"""Every CuPy kernel of the project compiles with NVRTC for sm_80 and sm_90, with no GPU.

Runs in this process where CuPy imports here (a CUDA venv), else in a subprocess
with ``<venv>/nvrtc-check`` on its path (``make test`` puts CuPy and the NVRTC wheels
there: ``scripts/cuda.sh --compile-only``), else skips, saying why.
"""
import glob
import json
import os
import re
import subprocess
import sys

import pytest

import gqn
from gqn.testing import nvrtc

GQN = os.path.dirname(os.path.abspath(gqn.__file__))
CHECK_PATH = os.path.join(sys.prefix, 'nvrtc-check')
IN_PROCESS = nvrtc.unavailable() is None
needs_nvrtc = pytest.mark.skipif(
    not IN_PROCESS and not os.path.isdir(CHECK_PATH),
    reason='%s, and no %s (bash scripts/cuda.sh --compile-only %s)' % (
        nvrtc.unavailable(), CHECK_PATH, sys.prefix))


def _in_subprocess(code):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [CHECK_PATH] + [p for p in os.environ.get('PYTHONPATH', '').split(os.pathsep) if p]))
    done = subprocess.run([sys.executable, '-W', 'ignore', '-c', code], env=env,
                          capture_output=True, text=True)
    assert done.returncode in (0, 1), done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1]), done.returncode


def test_registry_holds_every_kernel_of_the_package():
    """A kernel defined without the registry's decorator would escape the compile check."""
    defined = 0
    for path in glob.glob(os.path.join(GQN, '**', '*.py'), recursive=True):
        with open(path) as f:
            defined += len(re.findall(r'cupy\.ElementwiseKernel\(', f.read()))
    for module in nvrtc.KERNEL_MODULES:
        __import__(module)
    assert len(nvrtc.REGISTRY) == defined == 6, [name for name, _, _ in nvrtc.REGISTRY]


@needs_nvrtc
@pytest.mark.slow
@pytest.mark.parametrize('kind', ['ptx', 'sass'])
def test_every_kernel_variant_compiles(kind):
    # 6 kernels x 2 dtypes x 2 layouts x 2 index widths x 2 architectures
    args = ['80', '90'] + (['--sass'] if kind == 'sass' else [])
    if IN_PROCESS:
        assert nvrtc.main(args) == 0
        return
    result, status = _in_subprocess('from gqn.testing import nvrtc; nvrtc.main(%r)' % args)
    assert status == 0 and result['compiled'] == 96 and result['kind'] == kind, result
    assert result['bytes'] > 96 * 4000


@needs_nvrtc
def test_compiled_ptx_holds_each_entry_point_for_its_architecture():
    code = ('import json\nfrom gqn.testing import nvrtc\n'
            'out = nvrtc.compile_all(("80", "90"))\n'
            'print(json.dumps({t: [b.count(b".entry " + t.split("_float")[0].encode()), '
            'b.count(b".target sm_" + t[-2:].encode())] for t, b in out.items()}))\n')
    if IN_PROCESS:
        counts = {t: [b.count(b'.entry ' + t.split('_float')[0].encode()),
                      b.count(b'.target sm_' + t[-2:].encode())]
                  for t, b in nvrtc.compile_all(('80', '90')).items()}
    else:
        counts, _ = _in_subprocess(code)
    assert len(counts) == 96 and all(c == [1, 1] for c in counts.values()), counts


@needs_nvrtc
def test_a_broken_kernel_is_rejected():
    code = '''
import json
from gqn.testing import nvrtc  # first: gqn makes the NVRTC wheels findable
import cupy
def compiles(operation):
    kernel = cupy.ElementwiseKernel('T x', 'T y', operation, 'gqn_probe')
    try:
        nvrtc.compile_source(nvrtc.source(kernel, nvrtc.DTYPES[0], (), 1, True, True), '80')
        return 'ok'
    except nvrtc.CompileError as e:
        return str(e)
print(json.dumps({'good': compiles('y = x * (T)2;'), 'bad': compiles('y = x * undefined_name;')}))
'''
    if IN_PROCESS:
        namespace = {}
        exec(code.replace('print(json.dumps(', 'result = (('), namespace)
        result = namespace['result']
    else:
        result, _ = _in_subprocess(code)
    assert result['good'] == 'ok'
    assert 'undefined_name' in result['bad'] and 'error' in result['bad']
