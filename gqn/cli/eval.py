"""``gqn eval``: score a trained run against baselines (:mod:`gqn.evaluation.evaluate`)."""
import os

from gqn.evaluation import evaluate

#: What ``gqn eval`` writes into its folder; ``eval.json``, the record of the other two, goes last.
OUTPUTS = ('eval.json', 'eval.md', 'predictions.png')


def configure_eval(p):
    p.epilog = 'example: gqn eval runs/mine --dataset HELD_OUT --scenes 200'
    p.add_argument('run', help='run directory, its model/ folder, a snapshot .npz, or '
                   'pretrained:NAME (a model shipped in the package; then pass --dataset)')
    p.add_argument('--dataset', help="dataset root (default: the run's dataset)")
    p.add_argument('--split', default='test', help='split to evaluate (default: %(default)s)')
    p.add_argument('--scenes', type=int, default=evaluate.DEFAULT_SCENES,
                   help='scenes to evaluate (default: %(default)s)')
    p.add_argument('--max-context', type=int,
                   help='largest context size K (default: views - 1); K = 0, no context, '
                        'is always scored')
    p.add_argument('--batch-size', type=int, default=32)
    p.add_argument('--mean-samples', type=int, default=evaluate.DEFAULT_MEAN_SAMPLES,
                   help='prior samples averaged for the "mean of N samples" column '
                        '(default: %(default)s)')
    p.add_argument('--sigma', type=float, help="pixel sigma for the ELBO (default: the run's final)")
    p.add_argument('--device', default='@numpy', help='Chainer device specifier')
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--no-empty-scene', action='store_true',
                   help="skip the empty-scene baseline (each query view re-rendered without "
                        "its objects, from the dataset's scene specs; needs OpenGL)")
    p.add_argument('--out', help='output folder (default: <run>/eval)')


def _sha256(path):
    import hashlib
    with open(path, 'rb') as f:
        return hashlib.sha256(f.read()).hexdigest()


def run_eval(args):
    """Score the run and write ``eval.json``, ``eval.md`` and ``predictions.png``.

    ``eval.json`` is removed before the first write and written last, with the SHA-256
    of the other two under ``files``: a kill between the writes leaves no ``eval.json``
    beside figures of another evaluation, and a reader can check the figures it names.
    """
    from gqn import files
    from gqn.errors import GQNError
    from gqn.evaluation.run import load_run

    run = load_run(args.run, args.dataset)
    if args.run.startswith('pretrained:'):
        default_out = 'eval-' + args.run.split(':', 1)[1]
    else:
        default_out = os.path.join(run.run_dir or os.path.dirname(os.path.abspath(args.run)),
                                   'eval')
    out = args.out or default_out
    files.writable_folder(out)  # before the work, not after it
    paths = {name: os.path.join(out, name) for name in OUTPUTS}
    files.remove_partial_files(out, names=OUTPUTS)  # left by killed evaluations
    sigma = args.sigma or (run.config.sigma_end if run.config else 0.7)
    device, dataset = run.open(args.device, args.split)
    baseline_root = evaluate.baseline_dataset(run.config, run.root)
    baseline = evaluate.mean_image(baseline_root) if baseline_root else None
    result = evaluate.evaluate(run.model, dataset, args.max_context, args.scenes,
                               args.batch_size, sigma, args.seed, device, baseline,
                               mean_samples=args.mean_samples,
                               objective=run.config.objective if run.config else 'elbo',
                               empty_scene=not args.no_empty_scene)
    result.update(run=args.run, dataset=run.root, split=args.split,
                  mean_image_from=baseline_root)
    try:
        os.remove(paths['eval.json'])
    except FileNotFoundError:
        pass
    except OSError as e:
        raise GQNError('cannot replace %s: %s' % (paths['eval.json'], e.strerror or e)) from None
    evaluate.prediction_figure(run.model, dataset, paths['predictions.png'], seed=args.seed,
                               device=device)
    table = evaluate.markdown_table(result)
    header = '# Evaluation of %s on %s (%s split)\n\n' % (args.run, run.root, args.split)
    files.atomic_write(paths['eval.md'], lambda f: f.write(header + table), mode='w')
    result['files'] = {name: _sha256(paths[name]) for name in OUTPUTS[1:]}
    files.atomic_write_json(paths['eval.json'], result)
    print(table)
    print('wrote %s, %s and %s' % tuple(paths.values()))
