"""Pool workers end with the command: killed (SIGKILL) or terminated (SIGTERM), ``gqn render
--workers 2`` and ``gqn import-deepmind --workers 2`` leave no worker behind, nothing changes
in ``--out`` afterwards, and no traceback is printed. Real subprocesses and signals."""
import os
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


def children(pid):
    """Pids of the live children of ``pid`` (/proc)."""
    found = []
    for task in os.listdir('/proc/%d/task' % pid) if os.path.exists('/proc/%d' % pid) else []:
        try:
            with open('/proc/%d/task/%s/children' % (pid, task)) as f:
                found += [int(p) for p in f.read().split()]
        except OSError:
            pass
    return [p for p in found if alive(p)]


def alive(pid):
    """Whether ``pid`` runs (a zombie waiting for its reaper does not)."""
    try:
        with open('/proc/%d/stat' % pid) as f:
            return f.read().rsplit(')', 1)[1].split()[0] != 'Z'
    except OSError:
        return False


def state(root):
    """Every file under ``root`` with its size and modification time."""
    return {os.path.join(d, f): os.stat(os.path.join(d, f))[6:9:2]
            for d, _, files in os.walk(root) for f in files}


def wait_for(condition, seconds, what):
    end = time.time() + seconds
    while not condition():
        if time.time() > end:
            raise AssertionError('timed out waiting for %s' % what)
        time.sleep(0.05)


def start(argv, tmp_path):
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get('PYTHONPATH', ''))
    return subprocess.Popen([sys.executable, '-m', 'gqn.cli'] + argv, cwd=str(tmp_path), env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def stop_and_check(proc, out, first_shard, sig):
    """Once ``first_shard`` exists (the workers are working), send ``sig`` to the command;
    check its workers are gone within 10 s, ``out`` then stays as it is, and what it said."""
    workers = []
    try:
        wait_for(lambda: os.path.exists(first_shard) or proc.poll() is not None, 120,
                 'the first shard')
        workers += [p for p in children(proc.pid) if b'spawn_main' in open(
            '/proc/%d/cmdline' % p, 'rb').read()]
        assert proc.poll() is None and len(workers) == 2, 'the command ended before the test'
        proc.send_signal(sig)
        status = proc.wait(30)
        wait_for(lambda: not any(map(alive, workers)), 10, 'the workers to exit')
        before = state(out)
        time.sleep(1.5)
        assert state(out) == before
        err = proc.stderr.read()
        assert 'Traceback' not in err and 'Error' not in err, err
        return status, err
    finally:  # whatever the outcome, leave no process of this test running
        for p in set(workers + children(proc.pid)):
            if alive(p):
                os.kill(p, signal.SIGKILL)
        if proc.poll() is None:
            proc.kill()
        proc.communicate()


RENDER = ['render', 'shepard_matzler_demo', '--train-scenes', '2000', '--test-scenes', '0',
          '--set', 'views=2', '--set', 'image_size=8', '--set', 'scenes_per_shard=1',
          '--workers', '2', '--no-progress', '--out', 'ds']


@pytest.mark.slow
@pytest.mark.parametrize('sig', [signal.SIGKILL, signal.SIGTERM])
def test_render_workers_end_with_the_command(tmp_path, sig):
    proc = start(RENDER, tmp_path)
    out = str(tmp_path / 'ds')
    status, err = stop_and_check(proc, out, os.path.join(out, 'train', 'images', '0000.npy'), sig)
    if sig == signal.SIGTERM:
        assert status == 143 and err.splitlines()[-1] == 'gqn render: terminated', err


@pytest.fixture(scope='module')
def records(tmp_path_factory):
    """A DeepMind dataset of 60 files of 8 scenes at 128 px (many seconds to import)."""
    from gqn.testing.records import encode_scene, write_records
    folder = tmp_path_factory.mktemp('dm') / 'rooms_free_camera_with_object_rotations'
    os.makedirs(folder / 'train')
    rng = np.random.RandomState(0)
    scenes = [encode_scene(rng.randint(0, 256, (10, 128, 128, 3)).astype(np.uint8),
                           rng.uniform(-3, 3, (10, 5))) for _ in range(8)]
    first = str(folder / 'train' / '000-of-060.tfrecord')
    write_records(first, scenes)
    for i in range(1, 60):
        shutil.copy(first, str(folder / 'train' / ('%03d-of-060.tfrecord' % i)))
    return str(folder)


@pytest.mark.slow
@pytest.mark.parametrize('sig', [signal.SIGKILL, signal.SIGTERM])
def test_import_workers_end_with_the_command(tmp_path, records, sig):
    proc = start(['import-deepmind', records, '--out', 'dm', '--workers', '2'], tmp_path)
    out = str(tmp_path / 'dm')
    status, err = stop_and_check(proc, out, os.path.join(out, 'train', 'images', '0000.npy'), sig)
    if sig == signal.SIGTERM:
        assert status == 143 and err.splitlines()[-1] == 'gqn import-deepmind: terminated', err


def test_a_watched_worker_exits_when_its_parent_does(tmp_path):
    """Where prctl is missing, a thread watches the parent (run here directly)."""
    code = ('import subprocess, sys, time\n'
            'child = subprocess.Popen([sys.executable, "-c", "import os, time\\n'
            'from gqn.processes import watch_parent\\n'
            'watch_parent(os.getppid(), 0.05)"])\n'
            'print(child.pid, flush=True)\n'
            'time.sleep(60)\n')
    env = dict(os.environ, PYTHONPATH=ROOT)
    parent = subprocess.Popen([sys.executable, '-c', code], stdout=subprocess.PIPE, env=env)
    watcher = int(parent.stdout.readline())
    time.sleep(0.5)
    assert alive(watcher)
    parent.kill()
    parent.wait()
    wait_for(lambda: not alive(watcher), 10, 'the watching process to exit')
