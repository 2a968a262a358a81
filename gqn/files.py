"""Files that appear whole or not at all.

Every file the project writes (shards, manifests, configs, snapshots, weights,
PNGs, GIFs) goes through :func:`atomic_write`: written under
:func:`temp_name` beside its final path, synced, renamed into place, and the
folder synced. An interrupted writer leaves only ``*.tmp<pid>`` files behind,
which :func:`remove_partial_files` deletes.

Every JSON or TOML file the project reads from disk (manifests, scene specs,
configs, hyperparameters, recipes, presets) goes through :func:`read_json` or
:func:`read_toml`: any way such a file can be bad, nested thousands deep
included, is one :class:`~gqn.errors.GQNError` line naming it.

A command that fills a folder (render, import, train) holds its :func:`folder_lock`,
so a second one into the same folder is refused, naming the holder.
"""
import contextlib
import errno
import json
import os
import re
import socket
import time

import numpy as np

from gqn.errors import GQNError

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: the same parser as the tomli package
    import tomli as tomllib

#: How deep the JSON and TOML files the project reads may nest. Its own files nest 6 levels
#: at most (a scene spec's mesh texture); the parsers and the code that walks what they return
#: recurse, and Python's stack gives out near 1,000 levels.
MAX_DEPTH = 100


class NoSpaceError(GQNError):
    """A write failed for want of space (``ENOSPC``, or ``EFBIG`` past a file size limit)."""


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
            file): one line naming ``path``; a :class:`NoSpaceError` giving ``size_hint``
            bytes when space ran out. The temporary file is removed and an existing ``path``
            is left as it was.
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
        message = 'cannot write %s: %s' % (path, e.strerror or e)
        if e.errno in (errno.ENOSPC, errno.EFBIG):
            raise NoSpaceError(message + (' (%s needed)' % format_size(size_hint)
                                          if size_hint else '')) from None
        raise GQNError(message) from None


def format_size(nbytes):
    """``nbytes`` for people: ``'512 B'``, ``'3.4 kB'``, ``'1.2 GB'`` (powers of 1000)."""
    for unit, scale in (('TB', 1e12), ('GB', 1e9), ('MB', 1e6), ('kB', 1e3)):
        if nbytes >= scale:
            return '%.1f %s' % (nbytes / scale, unit)
    return '%d B' % nbytes


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
    text = json.dumps(obj, indent=1, sort_keys=True) + '\n'
    atomic_write(path, lambda f: f.write(text), mode='w', size_hint=len(text.encode()))


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


def check_depth(value, where):
    """Raise :class:`GQNError` (``where: nested more than MAX_DEPTH levels deep``) when the
    lists and dicts of ``value`` nest deeper than :data:`MAX_DEPTH`; walks without recursion."""
    stack = [(value, 1)] if isinstance(value, (dict, list)) else []
    while stack:
        value, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise GQNError('%s: nested more than %d levels deep' % (where, MAX_DEPTH))
        children = value.values() if isinstance(value, dict) else value
        stack.extend((c, depth + 1) for c in children if isinstance(c, (dict, list)))


def _too_deep(path, what):
    return GQNError('%s: unreadable %s: nested more than %d levels deep' % (path, what, MAX_DEPTH))


def read_json(path, what):
    """The value of the JSON file ``path``, a ``what`` (``'manifest'``, ``'scene specs'``).

    Raises:
        GQNError: one line naming ``path`` and ``what`` when the file cannot be read, is not
            UTF-8 JSON, or nests deeper than :data:`MAX_DEPTH`.
    """
    try:
        with open(path, 'rb') as f:
            value = json.load(f)
    except OSError as e:
        raise GQNError('cannot read %s %s (%s)' % (what, path, e.strerror or e)) from None
    except RecursionError:
        raise _too_deep(path, what) from None
    except ValueError as e:  # UnicodeDecodeError included
        raise GQNError('%s: unreadable %s: not valid JSON (%s)' % (path, what, e)) from None
    check_depth(value, '%s: unreadable %s' % (path, what))
    return value


def read_toml(path, what):
    """The table of the TOML file ``path``, a ``what`` (``'recipe'``, ``'preset'``).

    Raises:
        GQNError: as :func:`read_json` does.
    """
    try:
        with open(path, 'rb') as f:
            value = tomllib.load(f)
    except OSError as e:
        raise GQNError('cannot read %s %s (%s)' % (what, path, e.strerror or e)) from None
    except RecursionError:
        raise _too_deep(path, what) from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise GQNError('%s: unreadable %s: not valid TOML (%s)' % (path, what, e)) from None
    check_depth(value, '%s: unreadable %s' % (path, what))
    return value


def _lock_holder(f, wait=1.0):
    """The holder a locked lock file names. The holder writes its name just after taking
    the lock, so an empty file is read again for up to ``wait`` seconds."""
    end = time.monotonic() + wait
    while True:
        f.seek(0)
        holder = f.read().strip()
        if holder or time.monotonic() > end:
            return holder or 'another process'
        time.sleep(0.01)


@contextlib.contextmanager
def folder_lock(root, name, doing):
    """Hold the lock file ``<root>/<name>`` (``flock``) while filling folder ``root``,
    creating ``root`` if needed.

    The file names its holder (``process <pid> on <host>``) and is removed on release. A lock
    file left by a killed process does not block: the kernel released its ``flock``.

    Args:
        root (str): the folder.
        name (str): the lock file's name in it.
        doing (str): what the holder does to ``root``, for the error: ``'rendered'``,
            ``'trained'``.

    Raises:
        GQNError: when another process holds it: ``<root> is being <doing> by process <pid>
            on <host>: ...``.
    """
    import fcntl
    os.makedirs(root, exist_ok=True)
    path = os.path.join(root, name)
    while True:
        f = open(path, 'a+')
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = _lock_holder(f)
            f.close()
            raise GQNError('%s is being %s by %s: wait for it to finish (or stop it), '
                           'or choose another --out' % (root, doing, holder)) from None
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
