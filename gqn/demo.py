"""``gqn demo``: render → train → evaluate → rotation GIF, end to end on the CPU.

Runs the same subcommands a user would, in order, into one folder
(default ``demo/``, ``demo-quick/`` with ``--quick``)::

    <out>/data/          the rendered Shepard-Matzler dataset (+ preview.png)
    <out>/run/           the training run (log, curves, snapshots, model)
    <out>/run/eval/      eval.json, eval.md, predictions.png
    <out>/rotation.gif   context | truth | predictions on a 360-degree orbit

The full demo trains the ``cpu_small`` preset for about 10 minutes on 2
cores; ``--quick`` exercises the same path on a tiny dataset in about a
minute (CI runs it). Re-running resumes: finished renders are skipped and a
finished training run is reused.
"""
import os

FULL = {'recipe': 'shepard_matzler_demo', 'train_scenes': 4000, 'test_scenes': 200,
        'limit': ['--minutes', '10'], 'eval_scenes': 200, 'frames': 36}
QUICK = {'recipe': 'shepard_matzler_demo', 'train_scenes': 64, 'test_scenes': 16,
         'limit': ['--iterations', '30', '--set', 'log_interval=10', '--set', 'eval_interval=15',
                   '--set', 'image_interval=15', '--set', 'snapshot_interval=15',
                   '--set', 'eval_scenes=16'],
         'eval_scenes': 16, 'frames': 8}


def configure_demo(p):
    p.add_argument('--quick', action='store_true', help='tiny end-to-end run (~1 minute)')
    p.add_argument('--out', help='output folder (default: demo/, or demo-quick/ with --quick)')
    p.add_argument('--workers', type=int, default=os.cpu_count() or 1,
                   help='render worker processes (default: all cores)')
    p.add_argument('--minutes', type=float,
                   help='training time (default: 10; --quick trains 30 iterations instead)')


def _step(title, argv):
    from gqn.cli import main
    from gqn.errors import GQNError
    print('\n==> %s\n    gqn %s' % (title, ' '.join(argv)), flush=True)
    status = main(argv)
    if status:
        raise GQNError('demo step failed: gqn %s (exit %d)' % (' '.join(argv), status))


def run_demo(args):
    plan = QUICK if args.quick else FULL
    out = args.out or ('demo-quick' if args.quick else 'demo')
    limit = ['--minutes', str(args.minutes)] if args.minutes else plan['limit']
    data = os.path.join(out, 'data')
    run = os.path.join(out, 'run')
    gif = os.path.join(out, 'rotation.gif')
    _step('render %d + %d Shepard-Matzler scenes' % (plan['train_scenes'], plan['test_scenes']),
          ['render', plan['recipe'], '--out', data, '--workers', str(args.workers),
           '--train-scenes', str(plan['train_scenes']), '--test-scenes', str(plan['test_scenes'])])
    _step('preview', ['preview', data, '--out', os.path.join(data, 'preview.png')])
    if os.path.exists(os.path.join(run, 'model', 'model.npz')):
        print('\n==> training already finished in %s (delete it to train again)' % run)
    else:
        resume = ['--resume'] if os.path.exists(os.path.join(run, 'config.json')) else []
        _step('train the cpu_small preset (%s)' % ' '.join(limit[:2]).lstrip('-'),
              ['train', 'cpu_small', '--dataset', data, '--out', run] + limit + resume)
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
