"""Files that appear whole or not at all.

Every file the project writes (shards, manifests, configs, snapshots, weights,
PNGs, GIFs) goes through :func:`atomic_write`: written under
:func:`temp_name` beside its final path, synced, renamed into place, and the
folder synced. An interrupted writer leaves only ``*.tmp<pid>`` files behind,
which :func:`remove_partial_files` deletes. A command that writes a folder holds
its :func:`folder_lock`, so a second one into the same folder is refused.
"""
import contextlib
import errno
import json
import os
import re

import numpy as np

from gqn.errors import GQNError


def _fsync_replace(tmp, path):
    os.replace(tmp, path)
    try:
        fd = os.open(os.path.dirname(path) or '.', os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def temp_name(path):
    """The temporary name ``path`` is written under: ``<path>.tmp<pid>``, the one pattern
    :func:`remove_partial_files` removes."""
    return '%s.tmp%d' % (path, os.getpid())


def atomic_write(path, write, mode='wb', size_hint=None):
    """Write ``path`` so it appears whole or not at all: ``write(f)`` fills a temporary file
    beside it, which is synced and renamed over ``path``.

    Raises:
        GQNError: when the file cannot be written (no space, no permission, a path under a
            file): one line naming ``path``, and ``size_hint`` bytes when space ran out. The
            temporary file is removed and an existing ``path`` is left as it was.
    """
    tmp = temp_name(path)
    try:
        with open(tmp, mode) as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        _fsync_replace(tmp, path)
    except BaseException as e:
        if os.path.exists(tmp):
            os.remove(tmp)
        if not isinstance(e, OSError):
            raise
        need = ' (about %.1f MB needed)' % (size_hint / 1e6) if (
            size_hint and e.errno in (errno.ENOSPC, errno.EFBIG)) else ''
        raise GQNError('cannot write %s: %s%s' % (path, e.strerror or e, need)) from None


def write_npz(f, arrays):
    """``numpy.savez`` into the open file ``f`` (no pickle), closing the archive even when a
    write fails (NumPy 1.26's savez leaves it open, and its finaliser then prints a traceback
    at exit)."""
    import zipfile
    with zipfile.ZipFile(f, mode='w', compression=zipfile.ZIP_STORED, allowZip64=True) as z:
        for key, value in arrays.items():
            with z.open(key + '.npy', 'w', force_zip64=True) as member:
                np.lib.format.write_array(member, np.asanyarray(value), allow_pickle=False)


def writable_folder(path):
    """Create folder ``path`` if needed; raise :class:`GQNError` when files cannot be written
    there (a command checks its output before its work, not after it)."""
    if os.path.exists(path) and not os.path.isdir(path):
        raise GQNError('%s is a file, not a folder' % path)
    try:
        os.makedirs(path, exist_ok=True)
    except OSError as e:
        raise GQNError('cannot create %s: %s' % (path, e.strerror or e)) from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise GQNError('%s: not writable' % path)


def atomic_save_npy(path, array):
    """Write ``array`` to ``path`` (``.npy``) so it appears whole or not at all."""
    array = np.ascontiguousarray(array)
    atomic_write(path, lambda f: np.save(f, array, allow_pickle=False), size_hint=array.nbytes)


def atomic_write_json(path, obj):
    """Write ``obj`` as indented JSON to ``path`` atomically."""
    def write(f):
        json.dump(obj, f, indent=1, sort_keys=True)
        f.write('\n')
    atomic_write(path, write, mode='w')


def _process_ended(pid):
    """Whether no process ``pid`` runs on this machine."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # another user's process
        pass
    return False


def remove_partial_files(root, names=None):
    """Delete leftovers of an interrupted writer (``*.tmp<pid>`` files).

    Args:
        root (str): the folder.
        names (iterable of str or None): ``None``: every temporary file under ``root``
            and its subfolders (for a folder one writer holds, e.g. under a lock).
            Else only the temporary files of these file names directly in ``root``, and
            only those whose process has ended on this machine: a writer that shares the
            folder (two evaluations into one folder) keeps its file.

    Returns:
        list: the names of the files removed.
    """
    removed = []
    if names is not None:
        names = [name for name in names if name]
        if not names or not os.path.isdir(root):
            return removed
        pattern = re.compile(r'(%s)\.tmp(\d+)' % '|'.join(map(re.escape, names)))
        for f in sorted(os.listdir(root)):
            match = pattern.fullmatch(f)
            if match and _process_ended(int(match.group(2))):
                try:
                    os.remove(os.path.join(root, f))
                except FileNotFoundError:  # another rerun removed it first
                    continue
                removed.append(f)
        return removed
    for dirpath, _, files in os.walk(root):
        for f in files:
            if re.search(r'\.tmp\d+$', f):
                os.remove(os.path.join(dirpath, f))
                removed.append(f)
    return removed


@contextlib.contextmanager
def folder_lock(root, name, busy):
    """Hold the lock file ``<root>/<name>`` (``flock``) while working in ``root``, creating
    ``root`` if needed.

    The file names its holder (``process <pid> on <host>``) and is removed on release. A lock
    file left by a killed process does not block: the kernel released its ``flock``.

    Args:
        root (str): the folder.
        name (str): the lock file's name in it.
        busy (callable): ``busy(holder)`` is the message when another process holds the
            lock, ``holder`` naming it.

    Raises:
        GQNError: ``busy(holder)`` when another process holds the lock.
    """
    import fcntl
    import socket
    os.makedirs(root, exist_ok=True)
    path = os.path.join(root, name)
    while True:
        f = open(path, 'a+')
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            f.seek(0)
            holder = f.read().strip() or 'another process'
            f.close()
            raise GQNError(busy(holder)) from None
        try:
            if os.stat(path).st_ino == os.fstat(f.fileno()).st_ino:
                break
        except FileNotFoundError:
            pass
        f.close()  # the holder removed the file between our open and our lock: lock the new one
    with f:
        f.seek(0)
        f.truncate()
        f.write('process %d on %s' % (os.getpid(), socket.gethostname()))
        f.flush()
        try:
            yield
        finally:
            os.remove(path)  # still locked: a process waiting on it finds no stale holder
