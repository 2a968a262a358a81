"""Worker processes that end with the command that started them.

``gqn render`` and ``gqn import-deepmind`` work in pools of spawned processes. Each
pool's initializer calls :func:`init_worker` first, so that a worker

* dies with its parent: on Linux the kernel sends it SIGKILL when the parent exits
  (``prctl(PR_SET_PDEATHSIG)``), whatever killed the parent (SIGKILL included);
  elsewhere a thread watches the parent's pid (:func:`watch_parent`). A killed
  command leaves no worker writing into its output folder;
* ignores SIGINT: Ctrl-C reaches the whole process group, and the parent alone
  stops its workers (they print no ``KeyboardInterrupt`` tracebacks).

In the parent, :func:`sigterm_raises` turns SIGTERM into :class:`Terminated` (a
``KeyboardInterrupt``), so a terminated command stops its pool on the way out and ends
with one line and exit status 143 (``gqn.cli.main``).
"""
import contextlib
import ctypes
import os
import signal
import threading
import time

#: ``prctl`` option: the signal this process gets when its parent exits (linux/prctl.h).
PR_SET_PDEATHSIG = 1


class Terminated(KeyboardInterrupt):
    """SIGTERM arrived inside :func:`sigterm_raises`."""


def _raise_terminated(signum, frame):
    raise Terminated()


@contextlib.contextmanager
def sigterm_raises():
    """Raise :class:`Terminated` in the main thread on SIGTERM while inside (main thread only)."""
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def watch_parent(parent, interval=0.5):
    """Exit this process (status 1, nothing run on the way out) once its parent is no longer
    ``parent`` (a pid); returns never. Runs in a daemon thread where ``prctl`` is missing."""
    while os.getppid() == parent:
        time.sleep(interval)
    os._exit(1)


def init_worker(parent):
    """Make this worker process die with its parent ``parent`` (a pid) and ignore SIGINT."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    prctl = getattr(ctypes.CDLL(None, use_errno=True), 'prctl', None)
    if prctl is None or prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
        threading.Thread(target=watch_parent, args=(parent,), daemon=True).start()
    elif os.getppid() != parent:  # the parent exited before prctl: no signal will come
        os._exit(1)
