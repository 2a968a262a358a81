"""``gqn train``: train a GQN on a shard dataset (:func:`gqn.training.trainer.train`).

What a run directory holds: :mod:`gqn.training.trainer`.
"""
import os

DEFAULT_PRESET = 'cpu_small'


def configure_train(p):
    p.add_argument('preset', nargs='?', default=DEFAULT_PRESET,
                   help='a TOML preset: path, or name in train/ (default: %(default)s)')
    p.add_argument('--dataset', help='dataset root (overrides the preset)')
    p.add_argument('--out', help='run directory (default: runs/<preset>)')
    p.add_argument('--resume', action='store_true',
                   help='continue the run in --out from its latest snapshot')
    p.add_argument('--iterations', type=int, help='stop at this iteration')
    p.add_argument('--minutes', type=float, help='stop after this much wall-clock time')
    p.add_argument('--batch-size', type=int)
    p.add_argument('--device', help="Chainer device specifier: '@numpy' (default), '@cupy:0'")
    p.add_argument('--seed', type=int)
    p.add_argument('--set', action='append', default=[], metavar='KEY=VALUE',
                   help='override any config key (model.<field>=... for hyperparameters)')
    p.add_argument('--multi-node', action='store_true',
                   help='data-parallel over MPI ranks with ChainerMN (run under mpiexec)')
    p.add_argument('--quiet', action='store_true', help='no progress bar or printed log')


def run_train(args):
    from gqn.errors import GQNError
    from gqn.training.config import TrainConfig, apply_overrides, find_preset
    from gqn.training.trainer import train
    out = args.out or os.path.join('runs', os.path.splitext(os.path.basename(args.preset))[0])
    saved = os.path.join(out, 'config.json')
    if args.resume:
        if not os.path.exists(saved):
            raise GQNError('nothing to resume in %s (no config.json)' % out)
        config = TrainConfig.from_json(saved)
    else:
        if os.path.exists(saved):
            raise GQNError('%s already holds a run: pass --resume to continue it, '
                           'or choose another --out' % out)
        config = TrainConfig.from_toml(find_preset(args.preset))
    flags = {'dataset': args.dataset, 'iterations': args.iterations, 'minutes': args.minutes,
             'batch_size': args.batch_size, 'device': args.device, 'seed': args.seed}
    config = config.replace(**{k: v for k, v in flags.items() if v is not None})
    config = apply_overrides(config, args.set)
    if not config.dataset:
        raise GQNError('no dataset: pass --dataset ROOT (render one with `gqn render`)')
    train(config, out, resume=args.resume, multi_node=args.multi_node, quiet=args.quiet)
