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
with one line and exit status 143 (``gqn.cli.main``). While the parent drives its pool,
:func:`signals_deferred` holds SIGINT and SIGTERM back until a point where raising is
safe: an exception raised by a signal handler inside the standard library's pool code
(between two lock acquisitions in ``concurrent.futures.wait``, say) can leave a lock held
that the pool's own threads then wait on for ever, and the command would never end.
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


@contextlib.contextmanager
def signals_deferred():
    """Record SIGINT and SIGTERM instead of raising them while inside (main thread only).

    Yields a function to call between library calls: it raises :class:`KeyboardInterrupt`
    for a recorded SIGINT, :class:`Terminated` for a recorded SIGTERM, and returns
    otherwise. A signal that was ignored (``SIG_IGN``) when entering stays ignored. On
    the way out the previous handlers come back, and a signal recorded but not raised
    yet is raised then, unless an exception is already leaving. Outside the main thread,
    where Python delivers no signal, it changes nothing.
    """
    recorded = []
    if threading.current_thread() is not threading.main_thread():
        yield lambda: None
        return

    def record(signum, frame):
        recorded.append(signum)

    def raise_recorded():
        if recorded:
            first = recorded[0]
            recorded.clear()  # raised once
            raise Terminated() if first == signal.SIGTERM else KeyboardInterrupt()

    previous = {}
    try:
        for signum in (signal.SIGINT, signal.SIGTERM):
            if signal.getsignal(signum) is not signal.SIG_IGN:
                previous[signum] = signal.signal(signum, record)
        yield raise_recorded
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    raise_recorded()


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
