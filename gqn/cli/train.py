"""``gqn train``: train a GQN on a shard dataset (:func:`gqn.training.trainer.train`).

What a run directory holds: :mod:`gqn.training.trainer`.
"""
import os

DEFAULT_PRESET = 'cpu_small'


def configure_train(p):
    p.epilog = 'example: mpiexec -n 2 gqn train cpu_hour --multi-node --out runs/mine --minutes 60'
    p.add_argument('preset', nargs='?',
                   help='a TOML preset: path, or name in train/ (default: %s; with --resume, '
                        'the run\'s own config.json, which the preset, if given, must match '
                        'in its model and objective)' % DEFAULT_PRESET)
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
    p.add_argument('--init', metavar='RUN_OR_MODEL',
                   help='start a new run from these weights (a run, its model/ folder, a '
                        'snapshot, or pretrained:NAME, a model shipped in the package): '
                        'fine-tuning; the optimizer and schedules start fresh')
    p.add_argument('--freeze-representation', action='store_true',
                   help="keep the representation network's weights fixed (with --init)")
    p.add_argument('--multi-node', action='store_true',
                   help='data-parallel over MPI ranks with ChainerMN (run under mpiexec)')
    p.add_argument('--quiet', action='store_true', help='no progress bar or printed log')


def _with_arguments(config, args):
    """``config`` with the flags and ``--set`` overrides of ``args``."""
    from gqn.training.config import apply_overrides
    flags = {'dataset': args.dataset, 'iterations': args.iterations, 'minutes': args.minutes,
             'batch_size': args.batch_size, 'device': args.device, 'seed': args.seed,
             'init': args.init and (args.init if args.init.startswith('pretrained:')
                                    else os.path.abspath(args.init)),
             'freeze_representation': args.freeze_representation or None}
    config = config.replace(**{k: v for k, v in flags.items() if v is not None})
    return apply_overrides(config, args.set)


def _check_preset(preset, config):
    """A preset given with ``--resume`` must describe the run's model and objective
    (``config``: the run's, with the command's flags); its other settings are not used,
    which a note says where they differ."""
    from gqn.errors import GQNError
    from gqn.training.config import describe_changes, resume_changes
    _, changes, fixed = resume_changes(config, preset)
    if fixed:
        raise GQNError('the run was not trained with this preset (run -> preset: %s): drop '
                       'the preset to resume the run with its own config.json'
                       % describe_changes(fixed))
    if changes:
        print("note: resuming with the run's config.json, not the preset's (run -> preset: "
              '%s)' % describe_changes(changes))


def run_train(args):
    from gqn.errors import GQNError
    from gqn.training.config import TrainConfig, find_preset
    from gqn.training.trainer import train
    preset = args.preset or DEFAULT_PRESET
    out = args.out or os.path.join('runs', os.path.splitext(os.path.basename(preset))[0])
    if args.resume and (args.init or args.freeze_representation):
        raise GQNError('--init and --freeze-representation start a new run; a resumed run '
                       'continues from its snapshot with its own config.json')
    if args.resume:
        saved = os.path.join(out, 'config.json')
        if not os.path.exists(saved):
            raise GQNError('nothing to resume in %s (no config.json)' % out)
        config = _with_arguments(TrainConfig.from_json(saved), args)
        if args.preset:
            _check_preset(_with_arguments(TrainConfig.from_toml(find_preset(args.preset)), args),
                          config)
    else:
        config = _with_arguments(TrainConfig.from_toml(find_preset(preset)), args)
    if not config.dataset:
        raise GQNError('no dataset: pass --dataset ROOT (render one with `gqn render`)')
    trainer = train(config, out, resume=args.resume, multi_node=args.multi_node,
                    quiet=args.quiet)
    stopped_by = trainer.stop_trigger.stopped_by
    return 128 + stopped_by if stopped_by else 0
