"""Memory-bound NumPy work split over the cores that BLAS uses.

NumPy runs a copy or an elementwise operation on one core, and a training
step on the CPU spends seconds in them (the layout changes of the Winograd
transforms, the LSTM cell, Adam) while the other core waits for the next
GEMM. NumPy releases the GIL inside those loops, so threads that each take a
contiguous piece of the work run them side by side: on the 2-core machines
of this project a transposing copy or an Adam update takes about half the
time. :func:`parallel_for` does that with as many threads as the BLAS
(NumPy's OpenBLAS) runs, so a process that limits its BLAS to one thread
(the ranks of ``gqn demo``, through ``OPENBLAS_NUM_THREADS=1``) stays on one
core here too. Results do not depend on the split: each piece is computed
exactly as the whole would be.
"""
import concurrent.futures
import os
import threading

_state = threading.local()
_pool = []  # [the ThreadPoolExecutor, its number of workers], made on first use
_pool_lock = threading.Lock()
_threads = []  # [the number of threads], from the BLAS on first use

# A forked child has none of the parent's worker threads: it makes its own pool.
os.register_at_fork(after_in_child=_pool.clear)


def num_threads():
    """The threads :func:`parallel_for` uses: the most BLAS threads NumPy's BLAS
    libraries run (read once, through ``threadpoolctl``), or what
    :func:`set_num_threads` set."""
    if not _threads:
        import numpy  # noqa: F401  (loads the BLAS that threadpool_info reports)
        from threadpoolctl import threadpool_info
        counts = [info['num_threads'] for info in threadpool_info()
                  if info['user_api'] == 'blas']
        _threads.append(max(counts, default=1))
    return _threads[0]


def set_num_threads(n):
    """Use ``n`` threads from now on (``None``: go back to the BLAS's count)."""
    _threads[:] = [] if n is None else [max(1, int(n))]


def _executor(workers):
    with _pool_lock:
        if not _pool or _pool[1] < workers:
            if _pool:
                _pool[0].shutdown()
            _pool[:] = [concurrent.futures.ThreadPoolExecutor(
                workers, thread_name_prefix='gqn-parallel', initializer=_mark_worker), workers]
        return _pool[0]


def _mark_worker():
    _state.worker = True


def parallel_for(fn, n, grain=1):
    """``fn(start, stop)`` over contiguous pieces of ``range(n)``, one per thread.

    The calling thread runs the first piece; the call returns when all are done
    and re-raises the first exception of a piece. Called from inside a piece, it
    runs serially (no nested threads). ``fn`` must release the GIL to gain (NumPy
    loops on numeric arrays do) and may use :func:`gqn.kernels.workspace.scratch`
    (its buffers are per thread).

    Args:
        fn (callable): ``fn(start, stop)``, writing no element another piece writes.
        n (int): the extent to split.
        grain (int): the fewest items worth a thread of their own.
    """
    k = min(num_threads(), n // max(1, grain))
    if k <= 1 or getattr(_state, 'worker', False):
        if n:
            fn(0, n)
        return
    bounds = [n * i // k for i in range(k + 1)]
    pool = _executor(k - 1)
    futures = [pool.submit(fn, bounds[i], bounds[i + 1]) for i in range(1, k)]
    _state.worker = True
    try:
        fn(bounds[0], bounds[1])
    finally:
        _state.worker = False
        concurrent.futures.wait(futures)  # (the pieces write into the caller's arrays)
    for future in futures:
        future.result()
