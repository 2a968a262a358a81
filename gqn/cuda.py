"""The CUDA side of the environment: CuPy's libraries, devices, one-line errors.

CuPy 14 finds the CUDA libraries of NVIDIA's pip wheels (``nvidia-*-cu12``,
``cuda-toolkit``) by itself. CuPy 13 looks only on the loader path, which a
pip install does not change; :func:`preload_wheel_libraries` (run by
:mod:`gqn.compat` when ``cupy`` is first imported) loads the wheels' libraries
into the process first, so that CuPy 13 finds them without the user setting
``LD_LIBRARY_PATH``.
"""
import glob
import os
import sys

from gqn.errors import GQNError

#: What to do when CuPy is missing or unusable.
INSTALL_HINT = ('install CuPy and the CUDA libraries into this environment with '
                '`make install-cuda` (or `bash scripts/cuda.sh .venv`)')


def cupy_version():
    """The installed CuPy's version as a tuple of ints, or ``None`` (without importing it)."""
    from importlib import metadata
    for dist in metadata.packages_distributions().get('cupy', ()):
        try:
            return tuple(int(p) for p in metadata.version(dist).split('.')[:2])
        except (metadata.PackageNotFoundError, ValueError):
            continue
    return None


def wheel_library_dirs(site_packages=True):
    """The ``lib`` folders of the NVIDIA CUDA wheels on ``sys.path``; with
    ``site_packages=False`` only those outside the site-packages folders (a
    ``pip install --target`` folder on ``PYTHONPATH``)."""
    import site
    import sysconfig
    sites = {os.path.realpath(p) for p in site.getsitepackages() + [
        sysconfig.get_paths()['purelib'], sysconfig.get_paths()['platlib']]}
    dirs = []
    for entry in sys.path:
        if site_packages or os.path.realpath(entry) not in sites:
            dirs += sorted(glob.glob(os.path.join(entry, 'nvidia', '*', 'lib')))
    return list(dict.fromkeys(dirs))


def preload_wheel_libraries():
    """Load the NVIDIA wheels' shared libraries (globally) where CuPy would not find them.

    Each is opened with ``RTLD_GLOBAL`` until none is left that can be (a library
    whose dependencies are not loaded yet is retried after the others), so CuPy's
    extension modules then resolve ``libcudart.so.12``, ``libcublas.so.12``,
    ``libnvrtc.so.12``, cuDNN 8... against them. CuPy 13 needs this for every
    wheel; CuPy 14 finds the wheels in site-packages itself, and needs it only for
    those in other folders of ``sys.path``. Does nothing without CuPy.

    Returns:
        list: the paths loaded.
    """
    import ctypes
    version = cupy_version()
    if version is None:
        return []
    pending = [path for d in wheel_library_dirs(site_packages=version < (14,))
               for path in sorted(glob.glob(os.path.join(d, 'lib*.so*')))
               if '.alt.' not in path and not path.endswith('.a')]
    loaded = []
    while pending:
        failed = []
        for path in pending:
            try:
                ctypes.CDLL(path, mode=ctypes.RTLD_GLOBAL)
                loaded.append(path)
            except OSError:
                failed.append(path)
        if len(failed) == len(pending):
            break
        pending = failed
    return loaded


def describe_unusable():
    """Why CUDA cannot be used here (a sentence saying what to do), or ``None``."""
    if cupy_version() is None:
        return 'CuPy is not installed: ' + INSTALL_HINT
    try:
        import cupy
    except Exception as e:
        return 'CuPy does not import (%s: %s): reinstall it with `make install-cuda`' % (
            type(e).__name__, str(e).splitlines()[0] if str(e) else '')
    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except Exception as e:  # CUDARuntimeError: no driver, driver too old, no device
        return ('no usable CUDA device (%s): check the NVIDIA driver with nvidia-smi; CuPy %s '
                'for %s needs a driver of that CUDA version or newer'
                % (str(e).split(':')[0] or type(e).__name__, cupy.__version__,
                   _cuda_name(cupy)))
    if count < 1:
        return 'no CUDA device found (nvidia-smi lists the GPUs)'
    return None


def _cuda_name(cupy):
    try:
        v = cupy.cuda.runtime.runtimeGetVersion()
        return 'CUDA %d.%d' % (v // 1000, v % 1000 // 10)
    except Exception:
        return 'CUDA'


def gpu_index(spec, intra_rank=0):
    """The GPU a process uses for the device ``spec``, or ``None`` for a CPU device.

    ``'@cupy'`` means GPU 0; ``'@cupy:N'`` GPU N. Under MPI, the rank with
    node-local rank ``intra_rank`` uses GPU ``N + intra_rank``: one GPU per rank.

    Raises:
        GQNError: on a malformed ``@cupy`` specifier.
    """
    if not spec.startswith('@cupy'):
        return None
    rest = spec[len('@cupy'):]
    if rest == '':
        return intra_rank
    if not (rest.startswith(':') and rest[1:].isdigit()):
        raise GQNError("bad --device %r: use '@cupy' or '@cupy:N' (N a GPU index)" % spec)
    return int(rest[1:]) + intra_rank


def get_device(spec, intra_rank=0):
    """The Chainer device for ``--device spec``, made current.

    Raises:
        GQNError: one line saying what is wrong and what to do: an unknown
            specifier, CuPy missing or broken, no driver or device, a GPU index
            beyond those visible.
    """
    import chainer
    index = gpu_index(spec, intra_rank)
    if index is None:
        try:
            device = chainer.get_device(spec)
        except Exception as e:
            raise GQNError("bad --device %r (%s); use '@numpy' or '@cupy:N'" % (spec, e)) from None
    else:
        reason = describe_unusable()
        if reason:
            raise GQNError('--device %s: %s' % (spec, reason))
        import cupy
        count = cupy.cuda.runtime.getDeviceCount()
        if index >= count:
            raise GQNError('--device %s: %s GPU %d, but %d GPU%s visible (CUDA_VISIBLE_DEVICES '
                           'and nvidia-smi tell which)' % (
                               spec, 'this rank would use' if intra_rank else 'no', index, count,
                               ' is' if count == 1 else 's are'))
        device = chainer.get_device('@cupy:%d' % index)
    device.use()
    return device
