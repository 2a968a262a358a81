"""OpenGL set-up: the only module that decides how PyOpenGL and pyrender load.

Headless rendering goes through EGL (Mesa llvmpipe without a GPU). PyOpenGL
reads its platform and error-checking switch when its first module loads
(``OpenGL.error``, which ``OpenGL.EGL`` imports too), so every import of
pyrender in this package goes through :func:`load_pyrender`.

pyrender 0.1.45 pins PyOpenGL 3.1.0, which is what a plain ``pip install``
brings (``scripts/install.sh`` puts PyOpenGL 3.1.10 over the pin). Two bugs of
PyOpenGL's EGL bindings are mended by :func:`load_pyrender` where they are found:

- ``OpenGL.raw.EGL._errors`` sets ``_ErrorChecker = None`` instead of
  ``_error_checker = None`` when error checking is off (every release up to
  3.1.10, the newest), so no EGL function binds (``AttributeError: ... has no
  attribute '_error_checker'``). Set to ``None``: no ``eglGetError`` check per
  call. (Importing ``OpenGL.EGL`` before switching the checks off dodged it, but
  left PyOpenGL's checks on for every GL call too.)
- PyOpenGL 3.1.0 only: ``OpenGL.raw.EGL._types.EGLQuerier`` has ``str``
  prefixes where PyOpenGL compares ``bytes``. The first GL extension function
  that the GL querier does not find (``glShaderSourceARB`` from
  ``OpenGL.GL.shaders`` on Mesa's core profile) is asked of the EGL querier,
  which raises ``TypeError: startswith first arg must be bytes``. Made
  ``bytes``, as in later releases.
"""
import os

from gqn.errors import GQNError

#: The PyOpenGL shims installed in this process so far.
applied = []

#: Debian/Ubuntu packages that provide headless EGL + OpenGL.
SYSTEM_PACKAGES = 'libegl1 libgl1 libgl1-mesa-dri'


def _no_platform(e):
    return GQNError('no usable OpenGL platform (PYOPENGL_PLATFORM=%s): %s: %s; install %s '
                    '(Debian/Ubuntu: apt-get install %s)'
                    % (os.environ.get('PYOPENGL_PLATFORM'), type(e).__name__,
                       str(e).strip().splitlines()[0] if str(e).strip() else '',
                       SYSTEM_PACKAGES, SYSTEM_PACKAGES))


def _mend_egl_bindings():
    """Mend PyOpenGL's EGL bindings where they are broken (the module docstring)."""
    from OpenGL.raw.EGL import _errors, _types
    if not hasattr(_errors, '_error_checker'):
        _errors._error_checker = None
        applied.append('OpenGL.raw.EGL._errors._error_checker')
    querier = type(_types.EGLQuerier)
    for name in ('prefix', 'version_prefix'):
        if isinstance(getattr(querier, name), str):
            setattr(querier, name, getattr(querier, name).encode('ascii'))
            applied.append('OpenGL.raw.EGL._types.EGLQuerier.' + name)


def load_pyrender(error_checking=False):
    """Configure PyOpenGL (EGL unless ``PYOPENGL_PLATFORM`` says otherwise) and import pyrender.

    Args:
        error_checking (bool): PyOpenGL's per-call ``glGetError`` checks; off
            by default (they cost a third of the frame time). Only effective
            in a process that has not loaded a module of PyOpenGL yet.

    Returns:
        module: ``pyrender``.
    """
    os.environ.setdefault('PYOPENGL_PLATFORM', 'egl')
    try:
        import OpenGL
        OpenGL.ERROR_CHECKING = error_checking  # before any other module of PyOpenGL loads
        if os.environ['PYOPENGL_PLATFORM'] == 'egl':
            _mend_egl_bindings()  # loads libEGL: fails early when it is missing
            import OpenGL.EGL  # noqa: F401
        import pyrender
    except Exception as e:  # ImportError, OSError, PyOpenGL's own errors
        raise _no_platform(e) from e
    return pyrender


_LIVE = set()


def offscreen_renderer(width, height, error_checking=False):
    """A ``pyrender.OffscreenRenderer`` (an OpenGL context); release it with :func:`close`."""
    pyrender = load_pyrender(error_checking)
    try:
        renderer = pyrender.OffscreenRenderer(width, height)
    except Exception as e:
        raise _no_platform(e) from e
    _LIVE.add(id(renderer))
    return renderer


def close(renderer):
    """Release an offscreen renderer without breaking the other live ones.

    pyrender's ``delete()`` also calls ``eglTerminate`` on the (shared) EGL
    display, which kills every other context of the process; that part is
    left to the last renderer.
    """
    _LIVE.discard(id(renderer))
    egl = renderer._platform
    if _LIVE and getattr(egl, '_egl_display', None) is not None:
        from OpenGL.EGL import eglDestroyContext
        egl.make_current()
        renderer._renderer.delete()
        eglDestroyContext(egl._egl_display, egl._egl_context)
        egl._egl_context = egl._egl_display = None
        renderer._renderer = renderer._platform = None
    else:
        renderer.delete()


def worker_environment():
    """Settings for a rendering worker process, before it loads OpenGL.

    llvmpipe starts one raster thread per core in every process; with one
    process per core they only compete, so workers use one thread each.
    """
    os.environ['LP_NUM_THREADS'] = '1'
