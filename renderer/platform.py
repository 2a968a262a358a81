"""OpenGL set-up: the only module that decides how PyOpenGL and pyrender load.

Headless rendering goes through EGL (Mesa llvmpipe without a GPU). PyOpenGL
reads its platform and error-checking switch when ``OpenGL.GL`` is first
imported, so every import of pyrender in this package goes through
:func:`load_pyrender`.
"""
import os

from gqn.errors import GQNError

#: Debian/Ubuntu packages that provide headless EGL + OpenGL.
SYSTEM_PACKAGES = 'libegl1 libgl1 libgl1-mesa-dri'


def _no_platform(e):
    return GQNError('no usable OpenGL platform (PYOPENGL_PLATFORM=%s): %s: %s; install %s '
                    '(Debian/Ubuntu: apt-get install %s)'
                    % (os.environ.get('PYOPENGL_PLATFORM'), type(e).__name__,
                       str(e).strip().splitlines()[0] if str(e).strip() else '',
                       SYSTEM_PACKAGES, SYSTEM_PACKAGES))


def load_pyrender(error_checking=False):
    """Configure PyOpenGL (EGL unless ``PYOPENGL_PLATFORM`` says otherwise) and import pyrender.

    Args:
        error_checking (bool): PyOpenGL's per-call ``glGetError`` checks; off
            by default (they cost a third of the frame time). Only effective
            in a process that has not imported ``OpenGL.GL`` yet.

    Returns:
        module: ``pyrender``.
    """
    os.environ.setdefault('PYOPENGL_PLATFORM', 'egl')
    try:
        import OpenGL
        if os.environ['PYOPENGL_PLATFORM'] == 'egl':
            import OpenGL.EGL  # noqa: F401  (fails early when libEGL is missing)
        OpenGL.ERROR_CHECKING = error_checking
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
