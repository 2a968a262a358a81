"""Prediction quality per training budget: render, train a preset for N minutes, score held-out scenes.

Usage: python bench/quality.py [--preset cpu_small] [--recipe shepard_matzler_demo]
       [--minutes 10] [--set KEY=VALUE ...] [--out DIR] [--quick]

Renders the recipe's train split (and the small test split training validates
on) with ``--train-seed``, and a held-out test split of ``--heldout-scenes``
scenes with ``--heldout-seed`` (they must differ, so no held-out scene was
seen in training); trains the preset for ``--minutes`` of wall time (one MPI
rank per core when mpiexec and mpi4py are there, as ``gqn demo`` does);
then scores one prior sample per held-out scene for K = 1..views-1 against
the mean training image, with a 95 % bootstrap interval over scenes. Prints
one JSON object: iterations done, seconds, and per K the model's MSE, its
interval, the ratio to the mean image, PSNR and KL. A timed figure is valid
only when nothing else runs on the machine.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import gqn  # noqa: F401  (first: the compatibility shims and NumPy's BLAS kernels)

HERE = os.path.dirname(os.path.abspath(__file__))


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--preset', default='cpu_small')
    p.add_argument('--recipe', default='shepard_matzler_demo')
    p.add_argument('--minutes', type=float, default=10.0, help='training wall time')
    p.add_argument('--iterations', type=int, help='stop after this many iterations instead')
    p.add_argument('--train-scenes', type=int, default=4000)
    p.add_argument('--heldout-scenes', type=int, default=200)
    p.add_argument('--train-seed', type=int, default=0)
    p.add_argument('--heldout-seed', type=int, default=777)
    p.add_argument('--set', action='append', default=[], metavar='KEY=VALUE',
                   help='recipe override for both renders, e.g. scene.cubes=3')
    p.add_argument('--train-set', action='append', default=[], metavar='KEY=VALUE',
                   help='training config override (gqn train --set)')
    p.add_argument('--processes', type=int, help='training processes (default: one per core '
                                                  'with MPI, else 1)')
    p.add_argument('--out', help='keep the data and the run here (default: a temporary folder)')
    p.add_argument('--quick', action='store_true',
                   help='tiny dataset and 20 iterations: checks the script, not the model')
    args = p.parse_args(argv)
    if args.train_seed == args.heldout_seed:
        p.error('--train-seed and --heldout-seed must differ')
    if args.quick:
        args.train_scenes, args.heldout_scenes, args.iterations = 32, 8, 20
        args.set += ['views=6', 'scenes_per_shard=8']
        args.train_set += ['log_interval=10', 'eval_interval=10', 'eval_scenes=4',
                           'image_interval=20', 'snapshot_interval=20']
    return args


def run(command, env=None):
    status = subprocess.call(command, env=env)
    if status:
        raise SystemExit('bench/quality.py: %s failed (exit %d)' % (' '.join(command[:6]), status))


def gqn_cli(*argv):
    run([sys.executable, '-m', 'gqn.cli'] + list(argv))


def render(args, root):
    overrides = sum((['--set', s] for s in args.set), [])
    gqn_cli('render', args.recipe, '--out', os.path.join(root, 'data'), '--no-progress',
            '--seed', str(args.train_seed), '--train-scenes', str(args.train_scenes),
            '--test-scenes', str(min(64, args.heldout_scenes)), *overrides)
    gqn_cli('render', args.recipe, '--out', os.path.join(root, 'heldout'), '--no-progress',
            '--seed', str(args.heldout_seed), '--train-scenes', '0',
            '--test-scenes', str(args.heldout_scenes), *overrides)


def train(args, root):
    from gqn.cli.demo import train_command, train_processes
    processes = train_processes(args.processes)  # the preset's batch_size is split over them
    limit = (['--iterations', str(args.iterations)] if args.iterations
             else ['--minutes', str(args.minutes), '--iterations', str(10 ** 9)])
    argv = (['train', args.preset, '--dataset', os.path.join(root, 'data'),
             '--out', os.path.join(root, 'run'), '--quiet']
            + limit + sum((['--set', s] for s in args.train_set), []))
    command, env = train_command(argv, processes)
    start = time.perf_counter()
    run(command, env)
    return processes, time.perf_counter() - start


def score(root, seed=0):
    from gqn.data.shard_dataset import ShardDataset
    from gqn.evaluation.evaluate import evaluate, mean_image
    from gqn.training.config import TrainConfig
    from gqn.training.snapshot import latest_snapshot, load_trained
    run = os.path.join(root, 'run')
    model, _ = load_trained(run)
    snapshot = latest_snapshot(run)
    iterations = int(os.path.basename(snapshot).split('_')[-1].split('.')[0]) if snapshot else None
    config = TrainConfig.from_json(os.path.join(run, 'config.json'))
    dataset = ShardDataset(os.path.join(root, 'heldout'), 'test')
    start = time.perf_counter()
    result = evaluate(model, dataset, scenes=len(dataset), sigma=config.sigma_end, seed=seed,
                      baseline_image=mean_image(os.path.join(root, 'data')), progress=False,
                      objective=config.objective)
    return iterations, time.perf_counter() - start, result


def main(argv=None):
    args = parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        root = args.out or tmp
        os.makedirs(root, exist_ok=True)
        render(args, root)
        processes, train_seconds = train(args, root)
        iterations, eval_seconds, result = score(root)
    rows = [{key: row[key] for key in ('K', 'model_mse', 'model_mse_ci', 'ratio_to_mean_image',
                                       'model_psnr', 'sample_mean_mse', 'mean_image_mse', 'kl')}
            for row in result['rows']]
    k5 = next((row for row in rows if row['K'] == 5), rows[-1])
    print(json.dumps({
        'benchmark': 'quality', 'preset': args.preset, 'recipe': args.recipe,
        'recipe_overrides': args.set, 'train_overrides': args.train_set,
        'train_scenes': args.train_scenes, 'heldout_scenes': result['scenes'],
        'train_seed': args.train_seed, 'heldout_seed': args.heldout_seed,
        'processes': processes, 'minutes': None if args.iterations else args.minutes,
        'iterations': iterations, 'train_seconds': round(train_seconds, 1),
        'eval_seconds': round(eval_seconds, 1), 'cpu_count': os.cpu_count(),
        'K5': k5, 'rows': rows}, indent=1))


if __name__ == '__main__':
    main()
