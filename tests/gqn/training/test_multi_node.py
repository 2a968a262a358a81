import os
import shutil
import subprocess
import sys

import chainer
import numpy as np
import pytest

from gqn.model.gqn import GQN
from gqn.model.hyperparams import HyperParameters
from gqn.model.loss import GQNLoss
from gqn.ops.random_state import fixed_seed
from gqn.testing.datasets import TINY_MODEL, fixed_batch

HERE = os.path.dirname(__file__)
pytestmark = [pytest.mark.mpi, pytest.mark.slow,
              pytest.mark.skipif(shutil.which('mpiexec') is None,
                                 reason='no mpiexec (Debian: openmpi-bin libopenmpi-dev)')]


def test_two_ranks_all_reduce_gradients(synthetic_dataset, tmp_path):
    pytest.importorskip('mpi4py')
    out = str(tmp_path)
    env = dict(os.environ, PYTHONPATH=HERE + os.pathsep + os.environ.get('PYTHONPATH', ''),
               OMP_NUM_THREADS='1', OPENBLAS_NUM_THREADS='1')
    subprocess.run(['mpiexec', '--allow-run-as-root', '--oversubscribe', '-n', '2',
                    sys.executable, os.path.join(HERE, 'mpi_train_step.py'), synthetic_dataset,
                    out], check=True, env=env, timeout=600)

    # the trainer's ranks saw different shards, yet hold identical parameters
    with np.load(out + '/trainer_rank0.npz') as a, np.load(out + '/trainer_rank1.npz') as b:
        assert a.files == b.files and len(a.files) > 10
        for k in a.files:
            np.testing.assert_array_equal(a[k], b[k], err_msg=k)

    # batch_size is the global batch: 4 over 2 ranks is 2 scenes per rank
    for rank in range(2):
        with open('%s/batch_rank%d' % (out, rank)) as f:
            assert f.read() == '2'

    # rank 0 alone logged (with the multi-node evaluation) and snapshotted
    import json
    with open(out + '/run/log') as f:
        log = json.load(f)
    assert [e['iteration'] for e in log] == [1, 2, 3]
    assert np.isfinite(log[1]['validation/main/prediction_mse'])
    assert os.listdir(out + '/run/snapshots') == ['snapshot_iter_2.npz']

    # a multi-node --resume continues from the snapshot on both ranks, in step, and
    # records the number of processes beside the global batch
    with open(out + '/resumed/config.json') as f:
        config = json.load(f)
    assert (config['batch_size'], config['processes']) == (4, 2)
    with open(out + '/resumed/log') as f:
        assert [e['iteration'] for e in json.load(f)] == [1, 2, 3, 4]
    with np.load(out + '/resumed_rank0.npz') as a, np.load(out + '/resumed_rank1.npz') as b, \
            np.load(out + '/trainer_rank0.npz') as before:
        for k in a.files:
            np.testing.assert_array_equal(a[k], b[k], err_msg=k)
        assert any(not np.array_equal(a[k], before[k]) for k in a.files)

    # one 2-rank SGD step == one single-process step over the combined batch
    # (gradient = mean of the halves' gradients, same latent noise per half)
    batch = fixed_batch(synthetic_dataset)
    np.random.seed(0)
    loss_fun = GQNLoss(GQN(HyperParameters(image_size=16, **TINY_MODEL)))
    grads = []
    for rank in range(2):
        half = {k: v[4 * rank:4 * rank + 4] for k, v in batch.items()}
        with fixed_seed(100 + rank):
            loss = loss_fun(sigma=1.0, **half)
        loss_fun.cleargrads()
        loss.backward()
        grads.append({k: p.grad.copy() for k, p in loss_fun.namedparams()})
    optimizer = chainer.optimizers.SGD(lr=0.1)
    optimizer.setup(loss_fun)
    for k, p in loss_fun.namedparams():
        p.grad = (grads[0][k] + grads[1][k]) / 2
    optimizer.update()
    moved = 0
    with np.load(out + '/step.npz') as step:
        for k, p in loss_fun.namedparams():
            np.testing.assert_allclose(step[k], p.array, rtol=1e-5, atol=1e-6, err_msg=k)
            moved += np.abs(grads[0][k] - grads[1][k]).sum() > 0
    assert moved > 10  # the halves really had different gradients


def test_a_batch_that_does_not_split_over_the_ranks_is_refused_in_one_line(
        synthetic_dataset, tmp_path):
    pytest.importorskip('mpi4py')
    out = str(tmp_path / 'run')
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, (
        os.path.dirname(os.path.dirname(os.path.dirname(HERE))), os.environ.get('PYTHONPATH')))))
    done = subprocess.run(['mpiexec', '--allow-run-as-root', '--oversubscribe', '-n', '2',
                           sys.executable, '-m', 'gqn.cli', 'train', '--dataset', synthetic_dataset,
                           '--out', out, '--batch-size', '3', '--multi-node', '--quiet'],
                          capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 2, done.stderr
    errors = [line for line in (done.stdout + done.stderr).splitlines() if 'error' in line]
    assert errors == ['gqn train: error: batch_size 3 (the global batch) does not split evenly '
                      'over 2 processes: use a multiple of 2'], done.stderr
    assert 'Traceback' not in done.stderr and not os.path.exists(out)
