"""A training run is never stranded: a refused resume writes nothing, one process trains a
folder at a time, SIGTERM and SIGINT leave a snapshot to continue from, and a run killed
before its first snapshot starts over in place."""
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from gqn.cli import main
from gqn.testing.datasets import TINY_MODEL

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(
    __file__)))))
#: the tiny model and short schedules on top of the default preset
TINY = ['--batch-size', '2', '--quiet', '--set', 'model.image_size=16'] + sum(
    (['--set', 'model.%s=%s' % (k, json.dumps(v))] for k, v in TINY_MODEL.items()), []) + sum(
    (['--set', kv] for kv in ('log_interval=2', 'eval_interval=100000', 'eval_scenes=2',
                              'image_interval=100000', 'snapshot_interval=1000',
                              'sigma_steps=30', 'lr_steps=30')), [])


def _digest(root):
    """The names and bytes of the files of ``root``, a stale lock file left out."""
    h = hashlib.sha256()
    for d, dirs, files in sorted(os.walk(root)):
        dirs.sort()
        for f in sorted(set(files) - {'train.lock'}):
            h.update(os.path.join(os.path.relpath(d, root), f).encode())
            with open(os.path.join(d, f), 'rb') as fh:
                h.update(fh.read())
    return h.hexdigest()


def _params(path, prefixes=('updater/model:main/', 'updater/optimizer:main/')):
    with np.load(path, allow_pickle=False) as npz:
        return {k: npz[k] for k in npz.files if k.startswith(prefixes)}


@pytest.fixture
def start():
    """``start(argv, ranks=1)`` runs ``gqn argv`` in a subprocess (its output piped), under
    ``mpiexec -n ranks`` if ``ranks > 1``; whatever still runs when the test ends is killed."""
    started = []

    def run(argv, ranks=1):
        env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get('PYTHONPATH', ''),
                   OMP_NUM_THREADS='1', OPENBLAS_NUM_THREADS='1')
        mpi = ['mpiexec', '--allow-run-as-root', '--oversubscribe', '-n', str(ranks)]
        started.append(subprocess.Popen((mpi if ranks > 1 else []) + [
            sys.executable, '-m', 'gqn.cli'] + argv, env=env, text=True,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE))
        return started[-1]
    yield run
    for proc in started:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()


def _logged(run, after=0, timeout=300):
    """Wait until ``run``'s log holds an iteration past ``after``."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with open(os.path.join(run, 'log')) as f:
                if max(e['iteration'] for e in json.load(f)) > after:
                    return
        except (OSError, ValueError):
            pass
        time.sleep(0.05)
    raise AssertionError('%s logged nothing past iteration %d' % (run, after))


@pytest.mark.slow
def test_a_refused_resume_writes_nothing_and_the_run_still_resumes(
        synthetic_dataset, tmp_path, capsys):
    run = str(tmp_path / 'run')
    base = ['train', '--dataset', synthetic_dataset, '--set', 'objective="prior"'] + TINY
    assert main(base + ['--out', run, '--iterations', '2']) == 0
    before = _digest(run)
    refused = {
        'model.h_channels 8 -> 16': ['--set', 'model.h_channels=16'],
        "model.viewpoint_frame 'query' -> 'world'": ['--set', 'model.viewpoint_frame="world"'],
        "objective 'prior' -> 'elbo'": ['--set', 'objective="elbo"'],
    }
    for change, argv in refused.items():
        capsys.readouterr()
        assert main(['train', '--out', run, '--resume', '--iterations', '4'] + argv) == 2
        err = capsys.readouterr().err
        assert err.count('\n') == 1 and 'cannot resume %s with another model or objective (%s' % (
            run, change) in err, err
        assert _digest(run) == before, change
    # a preset given on resume must be the run's: cpu_small's own model is not this one
    assert main(['train', 'cpu_small', '--out', run, '--resume']) == 2
    err = capsys.readouterr().err
    assert err.count('\n') == 1 and 'not trained with this preset' in err
    assert 'model.h_channels 8 -> 32' in err and _digest(run) == before
    # config.json edited by hand: the snapshots' hyperparameters still decide
    path = os.path.join(run, 'config.json')
    with open(path) as f:
        text = f.read()
    with open(path, 'w') as f:
        f.write(text.replace('"pool"', '"pyramid"'))
    edited = _digest(run)
    assert main(['train', '--out', run, '--resume', '--iterations', '4']) == 2
    err = capsys.readouterr().err
    assert "its snapshots hold another model (model.representation 'pool' -> 'pyramid'" in err
    assert _digest(run) == edited
    with open(path, 'w') as f:
        f.write(text)

    assert main(['train', '--out', run, '--resume', '--iterations', '4']) == 0
    assert 'note: resuming %s with iterations 2 -> 4' % run in capsys.readouterr().out
    assert main(['eval', os.path.join(run, 'snapshots', 'snapshot_iter_2.npz'), '--scenes', '2',
                 '--max-context', '1', '--out', str(tmp_path / 'eval')]) == 0


def test_a_train_into_a_folder_being_trained_names_the_holder(synthetic_dataset, tmp_path,
                                                               capsys):
    from gqn.files import folder_lock
    from gqn.training.trainer import LOCK
    run = str(tmp_path / 'run')
    with folder_lock(run, LOCK, 'trained'):
        assert main(['train', '--dataset', synthetic_dataset, '--out', run] + TINY) == 2
        err = capsys.readouterr().err
        assert err.count('\n') == 1
        assert '%s is being trained by process %d on ' % (run, os.getpid()) in err
    assert os.listdir(run) == []


@pytest.mark.slow
def test_two_trains_then_sigterm_then_sigint_continue_exactly(synthetic_dataset, tmp_path,
                                                               start):
    run, whole = str(tmp_path / 'run'), str(tmp_path / 'whole')
    argv = ['train', '--dataset', synthetic_dataset] + TINY + ['--iterations', '100000']
    # two trains into one folder, started together: one trains, the other names it
    procs = [start(argv + ['--out', run]) for _ in range(2)]
    deadline = time.time() + 120
    while all(p.poll() is None for p in procs):
        assert time.time() < deadline
        time.sleep(0.05)
    loser = next(p for p in procs if p.poll() is not None)
    holder = next(p for p in procs if p is not loser)
    err = loser.stderr.read()
    assert loser.returncode == 2, err
    assert err.count('\n') == 1 and 'is being trained by process %d on ' % holder.pid in err, err

    # SIGTERM: a snapshot where it stopped, one line, exit 143, no final model
    _logged(run)
    holder.send_signal(signal.SIGTERM)
    out, err = holder.communicate(timeout=300)
    assert holder.returncode == 128 + signal.SIGTERM, err
    found = re.fullmatch(r'gqn train: stopped by SIGTERM at iteration (\d+); snapshot (\S+); '
                         r'continue with: gqn train --out (\S+) --resume\n', err)
    assert found, err
    stopped = int(found.group(1))
    assert found.group(2) == os.path.join(run, 'snapshots', 'snapshot_iter_%d.npz' % stopped)
    assert found.group(3) == run and stopped >= 2
    assert os.path.exists(found.group(2)) and sorted(os.listdir(run)).count('model') == 0
    assert 'train.lock' not in os.listdir(run)

    # resumed, and stopped again by SIGINT (Ctrl-C)
    resumed = start(['train', '--out', run, '--resume', '--quiet'])
    _logged(run, after=stopped)
    resumed.send_signal(signal.SIGINT)
    out, err = resumed.communicate(timeout=300)
    assert resumed.returncode == 128 + signal.SIGINT, err
    found = re.fullmatch(r'gqn train: stopped by SIGINT at iteration (\d+); .*\n', err)
    assert found, err
    again = int(found.group(1))
    assert again > stopped

    # exactly where an uninterrupted run is at that iteration
    whole_run = start(argv[:-1] + [str(again), '--out', whole])
    assert whole_run.wait(timeout=600) == 0, whole_run.stderr.read()
    name = 'snapshot_iter_%d.npz' % again
    a = _params(os.path.join(whole, 'snapshots', name))
    b = _params(os.path.join(run, 'snapshots', name))
    assert a.keys() == b.keys() and len(a) > 10
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)


@pytest.mark.slow
def test_a_run_killed_before_its_first_snapshot_starts_over_in_place(
        synthetic_dataset, tmp_path, capsys, start):
    run = str(tmp_path / 'run')
    argv = ['train', '--dataset', synthetic_dataset, '--out', run] + TINY
    proc = start(argv + ['--iterations', '100000'])
    _logged(run)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not os.path.exists(os.path.join(run, 'snapshots', 'snapshot_iter_2.npz'))
    with open(os.path.join(run, 'train.lock')) as f:  # stale: its holder is gone
        assert f.read().startswith('process %d on ' % proc.pid)
    before = _digest(run)
    assert main(['train', '--out', run, '--resume']) == 2
    err = capsys.readouterr().err
    assert err.count('\n') == 1 and 'nothing to resume in %s: the run stopped before its first ' \
        'snapshot; start it over with the same command without --resume' % run in err, err
    assert _digest(run) == before
    assert main(argv + ['--iterations', '2']) == 0
    out = capsys.readouterr().out
    assert 'note: %s holds a run that stopped before its first snapshot: starting it over' % (
        run) in out
    assert os.path.exists(os.path.join(run, 'model', 'model.npz'))


@pytest.mark.mpi
@pytest.mark.slow
@pytest.mark.skipif(shutil.which('mpiexec') is None,
                    reason='no mpiexec (Debian: openmpi-bin libopenmpi-dev)')
def test_sigterm_to_one_rank_stops_every_rank_after_the_same_iteration(
        synthetic_dataset, tmp_path, start):
    pytest.importorskip('mpi4py')
    run = str(tmp_path / 'run')
    argv = ['train', '--dataset', synthetic_dataset, '--out', run, '--multi-node'] + TINY
    proc = start(argv + ['--iterations', '100000'], ranks=2)
    _logged(run)
    with open(os.path.join(run, 'train.lock')) as f:
        lead = int(f.read().split()[1])  # rank 0 holds the lock
    # SLURM signals every task; rank 0's signal alone must stop both ranks (the other
    # would otherwise wait in the next all-reduce forever)
    os.kill(lead, signal.SIGTERM)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 128 + signal.SIGTERM, err
    found = re.search(r'^gqn train: stopped by SIGTERM at iteration (\d+); snapshot (\S+); ', err,
                      re.MULTILINE)
    assert found, err
    stopped = int(found.group(1))
    assert os.path.exists(found.group(2))
    resumed = start(argv + ['--resume', '--iterations', str(stopped + 2)], ranks=2)
    out, err = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, err
    with open(os.path.join(run, 'log')) as f:
        assert json.load(f)[-1]['iteration'] == stopped + 2 - (stopped % 2)
    assert os.path.exists(os.path.join(run, 'model', 'model.npz'))


def test_the_first_signal_asks_to_stop_and_a_second_acts_as_before():
    from gqn.training.config import TrainConfig
    from gqn.training.trainer import StopTrigger, stop_on_signals
    trigger = StopTrigger(TrainConfig())
    before = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    with pytest.raises(KeyboardInterrupt), stop_on_signals(trigger):
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(0.01)  # Python runs the handler between bytecodes
        assert trigger.signal == signal.SIGTERM
        # a second one while stopping does what it did before: Ctrl-C interrupts (a second
        # SIGTERM kills, which the run in a subprocess would show)
        os.kill(os.getpid(), signal.SIGINT)
        for _ in range(100):
            time.sleep(0.01)
    assert trigger.signal == signal.SIGTERM
    assert (signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)) == before
