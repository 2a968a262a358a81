"""How PyOpenGL loads (renderer.platform): error checking as asked, EGL bindings mended."""
import json
import os
import subprocess
import sys

import pytest

PROJECT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

#: In a fresh process (PyOpenGL reads its switches once): load pyrender, render one frame.
LOAD_AND_RENDER = '''
import json, sys
import numpy as np
from renderer import platform
pyrender = platform.load_pyrender(error_checking=sys.argv[1] == 'on')
import OpenGL, OpenGL.error
r = platform.offscreen_renderer(8, 8)
scene = pyrender.Scene(bg_color=[0.0, 0.0, 1.0])
scene.add(pyrender.PerspectiveCamera(yfov=1.0))
color, _ = r.render(scene)
platform.close(r)
print(json.dumps({'pyopengl': OpenGL.__version__, 'applied': getattr(platform, 'applied', None),
                  'checking': OpenGL.error._ErrorChecker is not None,
                  'pixel': color[0, 0].tolist()}))
'''


def _load(error_checking):
    r = subprocess.run([sys.executable, '-c', LOAD_AND_RENDER, error_checking], cwd=PROJECT,
                       capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=PROJECT))
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


@pytest.mark.parametrize('error_checking', ['off', 'on'])
def test_error_checking_is_what_was_asked(error_checking):
    # OpenGL.EGL loads OpenGL.error, which reads the switch: it must be set before
    got = _load(error_checking)
    assert got['checking'] == (error_checking == 'on')
    assert got['pixel'] == [0, 0, 255]
    # EGL's error-checker bug is in every PyOpenGL release; the querier's in 3.1.0 (pip's
    # choice under pyrender's pin; tests/packaging/test_wheel.py renders with it)
    mended = []
    if error_checking == 'off':
        mended.append('OpenGL.raw.EGL._errors._error_checker')
    if got['pyopengl'] == '3.1.0':
        mended += ['OpenGL.raw.EGL._types.EGLQuerier.prefix',
                   'OpenGL.raw.EGL._types.EGLQuerier.version_prefix']
    assert got['applied'] == mended
