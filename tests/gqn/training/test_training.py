import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from gqn.errors import GQNError
from gqn.testing.datasets import TINY_MODEL, read_npz, tiny_train_config
from gqn.training.trainer import train


def test_run_directory_holds_everything(synthetic_dataset, tmp_path):
    run = str(tmp_path / 'run')
    train(tiny_train_config(synthetic_dataset), run, quiet=True)
    names = set(os.listdir(run))
    assert {'config.json', 'hyperparams.json', 'log', 'snapshots', 'images', 'model'} <= names
    assert {'loss.png', 'nll.png', 'kl.png', 'mse.png', 'bpp.png', 'sigma.png', 'lr.png'} <= names
    # the position scale comes from the data (cameras at distance 3: 1/3) and is recorded
    with open(os.path.join(run, 'hyperparams.json')) as f:
        assert json.load(f)['position_scale'] == 0.3333
    with open(os.path.join(run, 'config.json')) as f:
        assert json.load(f)['model']['position_scale'] == 0.3333
    assert sorted(os.listdir(os.path.join(run, 'snapshots'))) == [
        'hyperparams.json', 'snapshot_iter_4.npz', 'snapshot_iter_6.npz']
    assert sorted(os.listdir(os.path.join(run, 'images'))) == [
        'predictions_iter_3.png', 'predictions_iter_6.png']
    with open(os.path.join(run, 'log')) as f:
        log = json.load(f)
    assert [e['iteration'] for e in log] == [2, 4, 6]
    for key in ('main/loss', 'main/nll', 'main/kl', 'main/mse', 'main/bpp', 'sigma', 'lr'):
        assert all(np.isfinite(e[key]) for e in log), key
    evals = [e for e in log if 'validation/main/prediction_mse' in e]
    assert len(evals) == 2 and all('validation/main/kl' in e for e in evals)
    # linear schedules: sigma 2.0 -> 0.7 over 10 steps, lr 5e-4 -> 5e-5
    sigmas = [e['sigma'] for e in log]
    assert sigmas[0] > sigmas[1] > sigmas[2] > 0.7
    np.testing.assert_allclose(log[0]['sigma'], np.mean([2.0, 2.0 - 1.3 / 10]), rtol=1e-6)
    with np.load(os.path.join(run, 'model', 'model.npz'), allow_pickle=False) as npz:
        assert len(npz.files) > 10


def test_evaluation_does_not_change_the_training_trajectory(synthetic_dataset, tmp_path):
    a = train(tiny_train_config(synthetic_dataset, eval_interval=1, image_interval=1),
              str(tmp_path / 'a'), quiet=True)
    b = train(tiny_train_config(synthetic_dataset, eval_interval=100, image_interval=100),
              str(tmp_path / 'b'), quiet=True)
    pa = dict(a.updater.get_optimizer('main').target.namedparams())
    pb = dict(b.updater.get_optimizer('main').target.namedparams())
    for name in pa:
        np.testing.assert_array_equal(pa[name].array, pb[name].array, err_msg=name)


def test_prefetch_trains_exactly_as_without_and_resumes_exactly(synthetic_dataset, tmp_path):
    # 24 scenes in batches of 4: 16 iterations cross two epoch ends (a reshuffle from
    # NumPy's global generator), and snapshots are taken with a batch prefetched
    changes = dict(iterations=16, snapshot_interval=5, eval_interval=7, image_interval=100)
    plain = train(tiny_train_config(synthetic_dataset, prefetch='off', **changes),
                  str(tmp_path / 'plain'), quiet=True)
    ahead = train(tiny_train_config(synthetic_dataset, prefetch='on', **changes),
                  str(tmp_path / 'ahead'), quiet=True)
    resumed = str(tmp_path / 'resumed')
    train(tiny_train_config(synthetic_dataset, prefetch='on', **dict(changes, iterations=10)),
          resumed, quiet=True)
    assert os.path.exists(os.path.join(resumed, 'snapshots', 'snapshot_iter_10.npz'))
    train(tiny_train_config(synthetic_dataset, prefetch='on', **changes), resumed, resume=True,
          quiet=True)
    runs = [str(tmp_path / name) for name in ('plain', 'ahead', 'resumed')]
    models = [read_npz(os.path.join(run, 'model', 'model.npz')) for run in runs]
    for k in models[0]:
        for other in models[1:]:
            np.testing.assert_array_equal(models[0][k], other[k], err_msg=k)
    snapshots = [read_npz(os.path.join(run, 'snapshots', 'snapshot_iter_16.npz'))
                 for run in runs]
    for k in snapshots[0]:
        if k.startswith(('updater/iterator', 'updater/converter', 'rng/')):
            for other in snapshots[1:]:
                np.testing.assert_array_equal(snapshots[0][k], other[k], err_msg=k)
    # the log's epoch is that of the batch trained on, not of the one prefetched
    logs = []
    for run in runs[:2]:
        with open(os.path.join(run, 'log')) as f:
            logs.append([(e['epoch'], e['iteration'], e['main/loss']) for e in json.load(f)])
    assert logs[0] == logs[1]
    assert plain.updater.epoch == ahead.updater.epoch == 2


def test_several_queries_per_scene_train_and_resume_exactly(synthetic_dataset, tmp_path):
    changes = dict(queries=2, iterations=8, snapshot_interval=4, eval_interval=100,
                   image_interval=100)
    whole = train(tiny_train_config(synthetic_dataset, **changes), str(tmp_path / 'whole'), quiet=True)
    assert whole.updater.converter.queries == 2
    resumed = str(tmp_path / 'resumed')
    train(tiny_train_config(synthetic_dataset, **dict(changes, iterations=4)), resumed, quiet=True)
    train(tiny_train_config(synthetic_dataset, **changes), resumed, resume=True, quiet=True)
    a, b = (read_npz(os.path.join(run, 'model', 'model.npz'))
            for run in (str(tmp_path / 'whole'), resumed))
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)
    with open(os.path.join(str(tmp_path / 'whole'), 'log')) as f:
        assert all(np.isfinite(e['main/mse']) for e in json.load(f))
    with pytest.raises(GQNError, match='queries must be at least 1'):
        tiny_train_config(synthetic_dataset, queries=0)


@pytest.mark.slow
def test_sigkill_and_resume_reaches_the_same_parameters(synthetic_dataset, tmp_path):
    cmd = [sys.executable, '-m', 'gqn.cli', 'train', '--quiet', '--dataset', synthetic_dataset,
           '--iterations', '40', '--batch-size', '4',
           '--set', 'snapshot_interval=5', '--set', 'log_interval=5', '--set', 'eval_interval=7',
           '--set', 'image_interval=100', '--set', 'eval_scenes=8', '--set', 'sigma_steps=30',
           '--set', 'lr_steps=30'] + sum((['--set', 'model.%s=%s' % kv] for kv in
                                         [(k, str(v).lower() if isinstance(v, bool) else
                                           ('"%s"' % v if isinstance(v, str) else v))
                                          for k, v in TINY_MODEL.items()]), [])
    cmd += ['--set', 'model.image_size=16']
    full = str(tmp_path / 'full')
    subprocess.run(cmd + ['--out', full], check=True)

    killed = str(tmp_path / 'killed')
    proc = subprocess.Popen(cmd + ['--out', killed])
    deadline = time.time() + 300
    while not os.path.exists(os.path.join(killed, 'snapshots', 'snapshot_iter_15.npz')):
        assert proc.poll() is None and time.time() < deadline
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not os.path.exists(os.path.join(killed, 'model'))
    subprocess.run(cmd + ['--out', killed, '--resume'], check=True)

    a = read_npz(os.path.join(full, 'model', 'model.npz'))
    b = read_npz(os.path.join(killed, 'model', 'model.npz'))
    assert a.keys() == b.keys()
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)
    sa = read_npz(os.path.join(full, 'snapshots', 'snapshot_iter_40.npz'))
    sb = read_npz(os.path.join(killed, 'snapshots', 'snapshot_iter_40.npz'))
    adam = [k for k in sa if k.startswith('updater/optimizer:main/') and k.endswith('/m')]
    assert adam
    for k in adam:
        np.testing.assert_array_equal(sa[k], sb[k], err_msg=k)


def test_nan_stops_with_message_and_keeps_last_good_snapshot(synthetic_dataset, tmp_path):
    run = str(tmp_path / 'run')
    train(tiny_train_config(synthetic_dataset, iterations=4), run, quiet=True)
    good = read_npz(os.path.join(run, 'snapshots', 'snapshot_iter_4.npz'))
    blowup = tiny_train_config(synthetic_dataset, iterations=40, lr_start=1e30, lr_end=1e30,
                         snapshot_interval=1)
    with pytest.raises(GQNError, match='became (nan|inf)|not finite'):
        train(blowup, run, resume=True, quiet=True)
    snapshots = sorted(os.listdir(os.path.join(run, 'snapshots')))
    last = snapshots[-1] if snapshots[-1] != 'hyperparams.json' else snapshots[-2]
    for k, v in read_npz(os.path.join(run, 'snapshots', last)).items():
        if v.dtype.kind == 'f':
            assert np.all(np.isfinite(v)), k
    assert 'snapshot_iter_4.npz' in snapshots and good


def test_existing_run_needs_resume(synthetic_dataset, tmp_path):
    from gqn.cli import main
    run = str(tmp_path / 'run')
    train(tiny_train_config(synthetic_dataset, iterations=2), run, quiet=True)
    assert main(['train', '--dataset', synthetic_dataset, '--out', run]) == 2


def test_resume_skips_a_damaged_newest_snapshot_and_removes_temporary_files(
        synthetic_dataset, tmp_path, capsys):
    whole, run = str(tmp_path / 'whole'), str(tmp_path / 'run')
    train(tiny_train_config(synthetic_dataset, iterations=8), whole, quiet=True)
    train(tiny_train_config(synthetic_dataset, iterations=6), run, quiet=True)
    snapshots = os.path.join(run, 'snapshots')
    newest = os.path.join(snapshots, 'snapshot_iter_6.npz')
    with open(newest, 'r+b') as f:  # a snapshot cut short (a full disk, a killed copy)
        f.truncate(os.path.getsize(newest) // 2)
    with open(os.path.join(snapshots, 'snapshot_iter_8.npz.tmp4242'), 'wb') as f:
        f.write(b'\0' * 1000)  # what a run killed while writing leaves
    capsys.readouterr()
    train(tiny_train_config(synthetic_dataset, iterations=8), run, resume=True, quiet=True)
    out = capsys.readouterr().out
    assert 'skipping damaged snapshot %s' % newest in out
    assert 'removed snapshot_iter_8.npz.tmp4242' in out
    assert not any('.tmp' in f for f in os.listdir(snapshots))
    # resumed from iteration 4: exactly where the uninterrupted run is at 8
    a = read_npz(os.path.join(whole, 'model', 'model.npz'))
    b = read_npz(os.path.join(run, 'model', 'model.npz'))
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)


def test_resume_with_another_number_of_processes_restarts_the_data_order(
        synthetic_dataset, tmp_path, capsys):
    run = str(tmp_path / 'run')
    train(tiny_train_config(synthetic_dataset, iterations=4), run, quiet=True)
    path = os.path.join(run, 'snapshots', 'snapshot_iter_4.npz')
    # what rank 0 of a 2-process run writes: the order of its half of the scenes
    state = read_npz(path)
    state['updater/iterator:main/order'] = state['updater/iterator:main/order'][:12] % 12
    np.savez(path, **state)
    capsys.readouterr()
    train(tiny_train_config(synthetic_dataset, iterations=6), run, resume=True, quiet=True)
    assert 'another number of processes' in capsys.readouterr().out
    with open(os.path.join(run, 'log')) as f:
        assert [e['iteration'] for e in json.load(f)] == [2, 4, 6]
    resumed = read_npz(os.path.join(run, 'snapshots', 'snapshot_iter_6.npz'))
    assert resumed['updater/iterator:main/order'].shape == (24,)


def test_a_failed_snapshot_write_is_one_line_and_leaves_no_partial_file(
        synthetic_dataset, tmp_path):
    """A file size limit (RLIMIT_FSIZE, SIGXFSZ ignored) makes the write fail as a full disk
    does, with the real OS error."""
    run = str(tmp_path / 'run')
    train(tiny_train_config(synthetic_dataset, iterations=2), run, quiet=True)
    limit = os.path.getsize(os.path.join(run, 'snapshots', 'snapshot_iter_2.npz')) // 2
    code = ('import resource, signal, sys; signal.signal(signal.SIGXFSZ, signal.SIG_IGN); '
            'resource.setrlimit(resource.RLIMIT_FSIZE, (%d, %d)); from gqn.cli import main; '
            'sys.exit(main(sys.argv[1:]))' % (limit, limit))
    r = subprocess.run([sys.executable, '-c', code, 'train', '--out', run, '--resume',
                        '--iterations', '4', '--quiet'], capture_output=True, text=True)
    assert r.returncode == 2, r.stderr
    assert 'Traceback' not in r.stderr
    assert 'cannot write ' in r.stderr and 'snapshot_iter_4.npz' in r.stderr
    assert 'MB needed' in r.stderr and 'previous snapshot is kept' in r.stderr
    assert sorted(os.listdir(os.path.join(run, 'snapshots'))) == [
        'hyperparams.json', 'snapshot_iter_2.npz']


def test_eval_of_a_damaged_snapshot_is_one_line(synthetic_dataset, tmp_path, capsys):
    from gqn.cli import main
    run = str(tmp_path / 'run')
    train(tiny_train_config(synthetic_dataset, iterations=2), run, quiet=True)
    path = os.path.join(run, 'snapshots', 'snapshot_iter_2.npz')
    with open(path, 'r+b') as f:
        f.truncate(100)
    assert main(['eval', path, '--scenes', '2']) == 2
    assert 'not a readable training snapshot' in capsys.readouterr().err


@pytest.fixture
def small_tmpfs(tmp_path):
    """A 3 MB tmpfs (root can mount one); skips where mounting is not allowed."""
    path = tmp_path / 'tmpfs'
    path.mkdir()
    r = subprocess.run(['mount', '-t', 'tmpfs', '-o', 'size=3m', 'tmpfs', str(path)],
                       capture_output=True, text=True)
    if r.returncode:
        pytest.skip('cannot mount a tmpfs here (%s): the RLIMIT_FSIZE test covers the failed '
                    'write' % r.stderr.strip())
    yield str(path)
    subprocess.run(['umount', str(path)])


def test_a_full_disk_during_training_is_one_line_and_keeps_the_last_snapshot(
        synthetic_dataset, small_tmpfs):
    from gqn.training.snapshot import check_snapshot, latest_snapshot
    run = os.path.join(small_tmpfs, 'run')
    r = subprocess.run([sys.executable, '-m', 'gqn.cli', 'train', '--dataset', synthetic_dataset,
                        '--out', run, '--iterations', '40', '--batch-size', '2', '--quiet',
                        '--set', 'snapshot_interval=1', '--set', 'keep_snapshots=2',
                        '--set', 'image_interval=1000', '--set', 'eval_interval=1000']
                       + sum((['--set', 'model.%s=%s' % kv] for kv in TINY_MODEL.items()), [])
                       + ['--set', 'model.image_size=16'],
                       capture_output=True, text=True)
    assert r.returncode == 2, r.stderr[-2000:]
    assert r.stderr.count('\n') == 1 and 'No space left on device' in r.stderr, r.stderr
    assert 'MB needed' in r.stderr
    snapshots = os.listdir(os.path.join(run, 'snapshots'))
    assert not any('.tmp' in f for f in snapshots)
    assert check_snapshot(latest_snapshot(run)) is None


def test_a_render_that_does_not_fit_the_disk_is_refused_before_it_starts(small_tmpfs, capsys):
    from gqn.cli import main
    out = os.path.join(small_tmpfs, 'data')
    assert main(['render', 'shepard_matzler_demo', '--out', out, '--train-scenes', '200',
                 '--test-scenes', '10', '--no-progress']) == 2
    assert 'of disk' in capsys.readouterr().err
    assert os.listdir(small_tmpfs) == []
