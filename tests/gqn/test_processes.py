"""``gqn.processes.signals_deferred``: SIGINT and SIGTERM wait for the caller's safe point."""
import os
import signal
import threading

import pytest

from gqn import processes


def deliver(signum):
    """Send ``signum`` to this process; its Python handler has run when this returns."""
    os.kill(os.getpid(), signum)
    signal.sigtimedwait([], 0)  # a pause for the interpreter to run pending handlers


@pytest.mark.parametrize('signum, raised', [(signal.SIGTERM, processes.Terminated),
                                            (signal.SIGINT, KeyboardInterrupt)])
def test_a_signal_is_raised_where_the_caller_asks(signum, raised):
    before = signal.getsignal(signum)
    with processes.signals_deferred() as raise_signal:
        raise_signal()  # nothing recorded yet
        deliver(signum)  # recorded, not raised here
        with pytest.raises(raised) as e:
            raise_signal()
        assert type(e.value) is raised
    assert signal.getsignal(signum) is before


def test_a_signal_not_raised_inside_is_raised_on_the_way_out():
    with pytest.raises(processes.Terminated):
        with processes.signals_deferred():
            deliver(signal.SIGTERM)  # came as the work ended: not lost
    with pytest.raises(ValueError):  # an exception already leaving goes on
        with processes.signals_deferred():
            deliver(signal.SIGTERM)
            raise ValueError()


def test_the_handlers_come_back_after_an_exception():
    before = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    with pytest.raises(ValueError):
        with processes.signals_deferred():
            raise ValueError()
    assert {s: signal.getsignal(s) for s in before} == before


def test_an_ignored_signal_stays_ignored():
    before = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        with processes.signals_deferred() as raise_signal:
            deliver(signal.SIGINT)
            raise_signal()  # returns: nothing was recorded
            assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, before)


def test_outside_the_main_thread_it_changes_nothing():
    seen = []

    def body():
        with processes.signals_deferred() as raise_signal:
            raise_signal()
            seen.append(signal.getsignal(signal.SIGTERM))

    before = signal.getsignal(signal.SIGTERM)
    thread = threading.Thread(target=body)
    thread.start()
    thread.join()
    assert seen == [before]
