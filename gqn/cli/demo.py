"""``gqn demo``: render → train → evaluate → rotation GIF, end to end on the CPU.

Runs the same subcommands a user would, in order, into one folder
(default ``demo/``, ``demo-quick/`` with ``--quick``)::

    <out>/data/          the rendered Shepard-Matzler dataset (+ preview.png)
    <out>/run/           the training run (log, curves, snapshots, model)
    <out>/run/eval/      eval.json, eval.md, predictions.png
    <out>/rotation.gif   context | truth | predictions on a 360-degree orbit

The full demo trains the ``cpu_small`` preset for 13 minutes on 2 cores
(14 minutes end to end, measured 2026-12-07); ``--quick`` exercises the same path on a
tiny dataset in about a minute (CI runs it). Re-running resumes: finished
renders are skipped and a finished training run is reused.

Training is data-parallel over one MPI rank per core (``mpiexec -n 2 gqn
train --multi-node``, one BLAS thread per rank) when ``mpiexec`` and mpi4py
are installed: the small model keeps one core busy but not two (2.1
iterations/s with 2 BLAS threads, 1.9 with one), so two ranks of half the
batch each do nearly twice the work. Without MPI, or with ``--processes 1``,
it trains in this process. The batch is the preset's either way (``batch_size``
is the global batch, split over the ranks by ``gqn train``).
"""
import os
import shutil
import subprocess
import sys

from gqn.errors import GQNError

FULL = {'recipe': 'shepard_matzler_demo', 'train_scenes': 4000, 'test_scenes': 200,
        'shard': 100, 'limit': ['--minutes', '13'], 'eval_scenes': 200, 'frames': 36}
QUICK = {'recipe': 'shepard_matzler_demo', 'train_scenes': 64, 'test_scenes': 16, 'shard': 8,
         'limit': ['--iterations', '30', '--set', 'log_interval=10', '--set', 'eval_interval=15',
                   '--set', 'image_interval=15', '--set', 'snapshot_interval=15',
                   '--set', 'eval_scenes=16'],
         'eval_scenes': 16, 'frames': 8}


def configure_demo(p):
    p.epilog = 'example: gqn demo --out demo   (about 14 minutes on 2 cores; --quick: about a minute)'
    p.add_argument('--quick', action='store_true', help='tiny end-to-end run (~1 minute)')
    p.add_argument('--out', help='output folder (default: demo/, or demo-quick/ with --quick)')
    p.add_argument('--workers', type=int, default=os.cpu_count() or 1,
                   help='render worker processes (default: all cores)')
    p.add_argument('--minutes', type=float,
                   help='training time (default: 13; --quick trains 30 iterations instead)')
    p.add_argument('--processes', type=int,
                   help='training processes (MPI ranks; default: one per core if mpiexec and '
                        'mpi4py are installed, else 1)')


def mpi_available():
    """Whether ``mpiexec`` is on the PATH and mpi4py imports."""
    if shutil.which('mpiexec') is None:
        return False
    try:
        import mpi4py  # noqa: F401
    except ImportError:
        return False
    return True


def train_processes(requested):
    """The number of training processes: ``requested``, else one per core when MPI is there."""
    if requested is not None:
        if requested < 1:
            raise GQNError('--processes must be at least 1, got %d' % requested)
        if requested > 1 and not mpi_available():
            raise GQNError('--processes %d needs mpiexec and mpi4py (Debian: openmpi-bin '
                           'libopenmpi-dev; pip install mpi4py)' % requested)
        return requested
    cores = os.cpu_count() or 1
    if cores > 1 and not mpi_available():
        print('note: mpiexec or mpi4py not found: training in one process (about half the '
              'speed of one process per core)')
        return 1
    return cores


def _step(title, argv):
    from gqn.cli import main
    print('\n==> %s\n    gqn %s' % (title, ' '.join(argv)), flush=True)
    status = main(argv)
    if status:
        raise GQNError('demo step failed: gqn %s (exit %d)' % (' '.join(argv), status))


def train_command(argv, processes):
    """The command line of ``gqn train argv`` in ``processes`` MPI ranks, and its environment."""
    if processes == 1:
        return [sys.executable, '-m', 'gqn.cli'] + argv, dict(os.environ)
    command = ['mpiexec', '-n', str(processes), sys.executable, '-m', 'gqn.cli'] + argv + [
        '--multi-node']
    env = dict(os.environ, OPENBLAS_NUM_THREADS='1', OMP_NUM_THREADS='1')
    if hasattr(os, 'geteuid') and os.geteuid() == 0:  # Open MPI refuses root without these
        env.update(OMPI_ALLOW_RUN_AS_ROOT='1', OMPI_ALLOW_RUN_AS_ROOT_CONFIRM='1')
    return command, env


def _train_step(title, argv, processes):
    """``gqn train`` in this process, or under ``mpiexec -n processes`` with ``--multi-node``."""
    if processes == 1:
        _step(title, argv)
        return
    command, env = train_command(argv, processes)
    print('\n==> %s\n    %s' % (title, ' '.join(command)), flush=True)
    status = subprocess.call(command, env=env)
    if status:
        raise GQNError('demo step failed: %s (exit %d)' % (' '.join(command), status))


def run_demo(args):
    from gqn.training.snapshot import latest_snapshot
    plan = QUICK if args.quick else FULL
    out = args.out or ('demo-quick' if args.quick else 'demo')
    limit = ['--minutes', str(args.minutes)] if args.minutes else plan['limit']
    data = os.path.join(out, 'data')
    run = os.path.join(out, 'run')
    gif = os.path.join(out, 'rotation.gif')
    _step('render %d + %d Shepard-Matzler scenes' % (plan['train_scenes'], plan['test_scenes']),
          ['render', plan['recipe'], '--out', data, '--workers', str(args.workers),
           '--train-scenes', str(plan['train_scenes']), '--test-scenes', str(plan['test_scenes']),
           '--set', 'scenes_per_shard=%d' % plan['shard']])
    _step('preview', ['preview', data, '--out', os.path.join(data, 'preview.png')])
    if os.path.exists(os.path.join(run, 'model', 'model.npz')):
        print('\n==> training already finished in %s (delete it to train again)' % run)
    else:
        processes = train_processes(args.processes)
        argv = ['train', 'cpu_small', '--dataset', data, '--out', run] + limit
        if latest_snapshot(run):
            argv.append('--resume')  # an interrupted run (one stopped before its first
            # snapshot is started over by gqn train)
        _train_step('train the cpu_small preset (%s, %d process%s)'
                    % (' '.join(limit[:2]).lstrip('-'), processes, 'es' * (processes > 1)),
                    argv, processes)
    _step('evaluate against the baselines',
          ['eval', run, '--scenes', str(plan['eval_scenes'])])
    _step('rotation GIF', ['gif', run, '--scene', '0', '--scene', '1',
                           '--frames', str(plan['frames']), '--out', gif])
    print('\n==> demo finished. Outputs:')
    for what, path in [('dataset', data), ('dataset preview', os.path.join(data, 'preview.png')),
                       ('training run', run), ('loss curves', os.path.join(run, 'loss.png')),
                       ('evaluation', os.path.join(run, 'eval', 'eval.md')),
                       ('predictions', os.path.join(run, 'eval', 'predictions.png')),
                       ('rotation GIF', gif)]:
        print('  %-16s %s' % (what, path))
