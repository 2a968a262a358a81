"""Held-out quality over training time: every snapshot of a run scored on a held-out dataset.

Usage: python bench/curves.py RUN HELDOUT [--scenes 200] [--out curves.png]

For each ``RUN/snapshots/snapshot_iter_N.npz`` (keep them with ``--set
keep_snapshots=100``), the MSE of one prior sample per held-out scene for
K = 1..views-1 against the mean image of the run's training data, and the KL.
Prints one JSON object (per snapshot: iteration, wall-clock seconds into the
run from its log, and per K the MSE, its 95 % interval, the ratio to the mean
image, KL) and draws ``--out``: the ratio at K = 1, 5 and 14 and the KL over
iterations, and MSE against K for the first and last snapshots.
"""
import argparse
import json
import os

import gqn  # noqa: F401  (first: the compatibility shims and NumPy's BLAS kernels)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('run')
    p.add_argument('heldout', help='dataset root whose test split was rendered with another seed')
    p.add_argument('--scenes', type=int, default=200)
    p.add_argument('--out', help='PNG of the curves (default: RUN/heldout_curves.png)')
    args = p.parse_args(argv)
    from gqn.data.shard_dataset import ShardDataset
    from gqn.evaluation.evaluate import evaluate, mean_image
    from gqn.training.config import TrainConfig
    from gqn.training.snapshot import load_trained, snapshots
    config = TrainConfig.from_json(os.path.join(args.run, 'config.json'))
    with open(os.path.join(args.run, 'log')) as f:
        elapsed = {e['iteration']: e['elapsed_time'] for e in json.load(f)}
    baseline = mean_image(config.dataset)
    dataset = ShardDataset(args.heldout, 'test')
    points = []
    for path in reversed(snapshots(args.run)):
        model, _ = load_trained(path)
        iteration = int(os.path.basename(path)[len('snapshot_iter_'):-len('.npz')])
        result = evaluate(model, dataset, scenes=args.scenes, sigma=config.sigma_end,
                          baseline_image=baseline, progress=False, mean_samples=1,
                          objective=config.objective, empty_scene=False)
        points.append({'iteration': iteration, 'elapsed_s': elapsed.get(iteration),
                       'rows': [{k: row[k] for k in ('K', 'model_mse', 'model_mse_ci',
                                                      'ratio_to_mean_image', 'kl')}
                                for row in result['rows']]})
        print('iteration %d: ratio %s' % (iteration, ' '.join(
            '%.3f' % r['ratio_to_mean_image'] for r in points[-1]['rows'])), flush=True)
    out = args.out or os.path.join(args.run, 'heldout_curves.png')
    draw(points, out)
    print(json.dumps({'benchmark': 'curves', 'run': args.run, 'heldout': args.heldout,
                      'scenes': result['scenes'], 'mean_image_mse': result['rows'][0][
                          'mean_image_mse'], 'points': points, 'figure': out}, indent=1))


def draw(points, path):
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, (a, b, c) = plt.subplots(1, 3, figsize=(13, 3.6))
    its = [pt['iteration'] for pt in points]
    for k in (1, 5, 14):
        rows = [r for pt in points for r in pt['rows'] if r['K'] == k]
        if len(rows) == len(points):
            a.plot(its, [r['ratio_to_mean_image'] for r in rows], marker='o', label='K = %d' % k)
    a.axhline(1.0, color='grey', lw=0.8)
    a.set(xlabel='iteration', ylabel='MSE / mean-image MSE', title='held-out error')
    a.legend()
    for k in (1, 5):
        b.plot(its, [float('nan') if r['kl'] is None else r['kl']  # None: objective 'prior'
                     for pt in points for r in pt['rows'] if r['K'] == k], marker='o',
               label='K = %d' % k)
    b.set(xlabel='iteration', ylabel='nats per image', title='KL')
    b.legend()
    for pt in (points[0], points[-1]):
        c.plot([r['K'] for r in pt['rows']], [r['model_mse'] for r in pt['rows']], marker='o',
               label='iteration %d' % pt['iteration'])
    c.axhline(points[0]['rows'][0]['model_mse'] / points[0]['rows'][0]['ratio_to_mean_image'],
              color='grey', lw=0.8, label='mean image')
    c.set(xlabel='K context views', ylabel='MSE', title='MSE against K')
    c.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


if __name__ == '__main__':
    main()
