import threading

import numpy
import pytest

from gqn.kernels import parallel


def _pieces(n, grain=1):
    pieces = []
    parallel.parallel_for(lambda start, stop: pieces.append(
        (start, stop, threading.current_thread().name)), n, grain)
    return sorted(pieces)


def test_pieces_cover_the_range_once_side_by_side(threads):
    barrier = threading.Barrier(threads, timeout=10)  # broken unless all pieces run at once
    pieces = []

    def piece(start, stop):
        barrier.wait()
        pieces.append((start, stop, threading.current_thread().name))

    parallel.parallel_for(piece, 10)
    pieces.sort()
    assert [p[:2] for p in pieces] == (
        [(0, 10)] if threads == 1 else [(0, 3), (3, 6), (6, 10)])
    assert len({p[2] for p in pieces}) == threads
    assert pieces[0][2] == threading.current_thread().name  # the caller runs a piece


def test_grain_and_small_ranges_limit_the_pieces(threads):
    assert [p[:2] for p in _pieces(10, grain=5)] == (
        [(0, 10)] if threads == 1 else [(0, 5), (5, 10)])
    assert len(_pieces(1)) == 1
    assert _pieces(0) == []


def test_nested_calls_run_serially():
    parallel.set_num_threads(2)
    try:
        inner = []
        parallel.parallel_for(lambda start, stop: inner.append(_pieces(4)), 2)
    finally:
        parallel.set_num_threads(None)
    assert len(inner) == 2
    assert all(len(pieces) == 1 and pieces[0][:2] == (0, 4) for pieces in inner)


def test_an_exception_in_a_piece_is_raised_after_all_pieces_ran():
    done = []

    def piece(start, stop):
        if start:
            raise ValueError('piece %d' % start)
        done.append(start)

    parallel.set_num_threads(2)
    try:
        with pytest.raises(ValueError, match='piece 1'):
            parallel.parallel_for(piece, 2)
    finally:
        parallel.set_num_threads(None)
    assert done == [0]


def test_numpy_work_split_over_threads_equals_the_whole(threads):
    x = numpy.random.RandomState(0).standard_normal((7, 100000)).astype(numpy.float32)
    y = numpy.empty_like(x)

    def piece(start, stop):
        numpy.tanh(x[start:stop], out=y[start:stop])
        y[start:stop] *= x[start:stop]

    parallel.parallel_for(piece, len(x))
    numpy.testing.assert_array_equal(y, numpy.tanh(x) * x)


def test_the_default_is_the_blas_thread_count():
    from threadpoolctl import threadpool_info
    blas = [i['num_threads'] for i in threadpool_info() if i['user_api'] == 'blas']
    parallel.set_num_threads(None)
    assert parallel.num_threads() == max(blas, default=1)


def test_a_forked_child_makes_its_own_threads():
    import multiprocessing
    parallel.set_num_threads(2)
    try:
        _pieces(4)  # the parent's pool exists
        context = multiprocessing.get_context('fork')
        queue = context.Queue()
        child = context.Process(target=lambda: queue.put([p[:2] for p in _pieces(4)]))
        child.start()
        child.join(timeout=30)
        assert child.exitcode == 0
        assert queue.get(timeout=1) == [(0, 2), (2, 4)]
    finally:
        parallel.set_num_threads(None)
