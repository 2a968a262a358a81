"""``gqn eval``: score a trained run against baselines (:mod:`gqn.evaluation.evaluate`)."""
import os

from gqn.evaluation import evaluate


def configure_eval(p):
    p.add_argument('run', help='run directory, its model/ folder, or a snapshot .npz')
    p.add_argument('--dataset', help="dataset root (default: the run's dataset)")
    p.add_argument('--split', default='test', help='split to evaluate (default: %(default)s)')
    p.add_argument('--scenes', type=int, default=evaluate.DEFAULT_SCENES,
                   help='scenes to evaluate (default: %(default)s)')
    p.add_argument('--max-context', type=int,
                   help='largest context size K (default: views - 1)')
    p.add_argument('--batch-size', type=int, default=32)
    p.add_argument('--mean-samples', type=int, default=evaluate.DEFAULT_MEAN_SAMPLES,
                   help='prior samples averaged for the "mean of N samples" column '
                        '(default: %(default)s)')
    p.add_argument('--sigma', type=float, help="pixel sigma for the ELBO (default: the run's final)")
    p.add_argument('--device', default='@numpy', help='Chainer device specifier')
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--out', help='output folder (default: <run>/eval)')


def run_eval(args):
    from gqn import files
    from gqn.evaluation.run import load_run

    run = load_run(args.run, args.dataset)
    out = args.out or os.path.join(run.run_dir or os.path.dirname(os.path.abspath(args.run)),
                                   'eval')
    files.writable_folder(out)  # before the work, not after it
    sigma = args.sigma or (run.config.sigma_end if run.config else 0.7)
    device, dataset = run.open(args.device, args.split)
    baseline_root = evaluate.baseline_dataset(run.config, run.root)
    baseline = evaluate.mean_image(baseline_root) if baseline_root else None
    result = evaluate.evaluate(run.model, dataset, args.max_context, args.scenes,
                               args.batch_size, sigma, args.seed, device, baseline,
                               mean_samples=args.mean_samples,
                               objective=run.config.objective if run.config else 'elbo')
    result.update(run=args.run, dataset=run.root, split=args.split,
                  mean_image_from=baseline_root)
    files.atomic_write_json(os.path.join(out, 'eval.json'), result)
    table = evaluate.markdown_table(result)
    header = '# Evaluation of %s on %s (%s split)\n\n' % (args.run, run.root, args.split)
    files.atomic_write(os.path.join(out, 'eval.md'), lambda f: f.write(header + table),
                       mode='w')
    evaluate.prediction_figure(run.model, dataset, os.path.join(out, 'predictions.png'),
                               seed=args.seed, device=device)
    print(table)
    print('wrote %s, %s and %s' % tuple(os.path.join(out, f) for f in
                                        ('eval.json', 'eval.md', 'predictions.png')))
