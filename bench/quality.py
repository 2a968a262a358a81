"""Prediction quality per training budget: render, train a preset for N minutes, score held-out scenes.

Usage: python bench/quality.py [--preset cpu_small] [--recipe shepard_matzler_demo]
       [--minutes 10] [--set KEY=VALUE ...] [--out DIR] [--quick]
       [--validation-seed 777] [--test-seed 4099]

Renders the recipe's train split (and the small test split training validates
on) with ``--train-seed``, and two held-out sets of ``--heldout-scenes``
scenes: a validation set with ``--validation-seed`` and a test set with
``--test-seed`` (all three seeds must differ, so no held-out scene was seen
in training). Trains the preset for ``--minutes`` of wall time (one MPI
rank per core when mpiexec and mpi4py are there, as ``gqn demo`` does);
then scores one prior sample per held-out scene for K = 0..views-1 against
the mean training image, with a 95 % bootstrap interval over scenes, on
both sets. Choose presets and settings on the validation figures only; the
test figures are the ones to publish, and a choice made on them makes them
validation figures too. Prints one JSON object: iterations done, seconds,
and for each set (``validation``, ``test``, each with its ``seed``) per K
the model's MSE, its interval, the ratio to the mean image, PSNR and KL, and
where the held-out set has instance masks the object- and background-pixel
figures and the empty scene's (``gqn eval``'s, :mod:`gqn.evaluation.evaluate`);
``K5`` and ``rows`` at the top level are the validation set's (seed 777 by
default, the one set earlier versions scored). A timed figure is valid only
when nothing else runs on the machine.
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
#: The held-out sets: folder under the output and the argument that seeds it.
HELDOUT = (('heldout', 'validation_seed'), ('heldout_test', 'test_seed'))


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--preset', default='cpu_small')
    p.add_argument('--recipe', default='shepard_matzler_demo')
    p.add_argument('--minutes', type=float, default=10.0, help='training wall time')
    p.add_argument('--iterations', type=int, help='stop after this many iterations instead')
    p.add_argument('--train-scenes', type=int, default=4000)
    p.add_argument('--heldout-scenes', type=int, default=200)
    p.add_argument('--train-seed', type=int, default=0)
    p.add_argument('--validation-seed', '--heldout-seed', type=int, default=777,
                   help='seed of the held-out set settings are chosen on (default: %(default)s)')
    p.add_argument('--test-seed', type=int, default=4099,
                   help='seed of the held-out set whose figures are published, never used to '
                        'choose (default: %(default)s)')
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
    if len({args.train_seed, args.validation_seed, args.test_seed}) < 3:
        p.error('--train-seed, --validation-seed and --test-seed must differ')
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
    for folder, seed in HELDOUT:
        gqn_cli('render', args.recipe, '--out', os.path.join(root, folder), '--no-progress',
                '--seed', str(getattr(args, seed)), '--train-scenes', '0',
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
    """Score the trained run on each held-out set.

    Returns:
        tuple: the iterations trained and, per set of :data:`HELDOUT`, ``(seconds, result
        of evaluate)``.
    """
    from gqn.data.shard_dataset import ShardDataset
    from gqn.evaluation.evaluate import evaluate, mean_image
    from gqn.training.config import TrainConfig
    from gqn.training.snapshot import latest_snapshot, load_trained
    run = os.path.join(root, 'run')
    model, _ = load_trained(run)
    snapshot = latest_snapshot(run)
    iterations = int(os.path.basename(snapshot).split('_')[-1].split('.')[0]) if snapshot else None
    config = TrainConfig.from_json(os.path.join(run, 'config.json'))
    baseline = mean_image(os.path.join(root, 'data'))
    scores = []
    for folder, _ in HELDOUT:
        dataset = ShardDataset(os.path.join(root, folder), 'test')
        start = time.perf_counter()
        result = evaluate(model, dataset, scenes=len(dataset), sigma=config.sigma_end, seed=seed,
                          baseline_image=baseline, progress=False, objective=config.objective)
        scores.append((time.perf_counter() - start, result))
    return iterations, scores


#: The fields of each row of :func:`figures`.
ROW_KEYS = ('K', 'model_mse', 'model_mse_ci', 'ratio_to_mean_image', 'model_psnr',
            'sample_mean_mse', 'mean_image_mse', 'kl')
#: And where the held-out set has instance masks or scene specs (the empty scene), these
#: (:func:`gqn.evaluation.evaluate.pixel_set_figures`).
OBJECT_KEYS = ('object_fraction', 'object_mse', 'object_mse_ci', 'object_ratio_to_mean_image',
               'object_ratio_to_empty_scene', 'mean_image_object_mse', 'empty_scene_object_mse',
               'sample_mean_object_mse', 'background_mse', 'background_mse_ci',
               'background_ratio_to_mean_image', 'mean_image_background_mse',
               'empty_scene_background_mse', 'empty_scene_mse', 'ratio_to_empty_scene')


def figures(seed, seconds, result):
    """One held-out set's figures, labelled with its seed: per K :data:`ROW_KEYS` and those
    of :data:`OBJECT_KEYS` that the evaluation has (none without masks or scene specs)."""
    rows = [{key: row[key] for key in ROW_KEYS + OBJECT_KEYS if key in row}
            for row in result['rows']]
    k5 = next((row for row in rows if row['K'] == 5), rows[-1])
    return {'seed': seed, 'scenes': result['scenes'], 'eval_seconds': round(seconds, 1),
            'masks': result['masks'], 'empty_scene_note': result['empty_scene_note'],
            'K5': k5, 'rows': rows}


def main(argv=None):
    args = parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        root = args.out or tmp
        os.makedirs(root, exist_ok=True)
        render(args, root)
        processes, train_seconds = train(args, root)
        iterations, scores = score(root)
    validation, test = (figures(getattr(args, seed), *scored)
                        for (_, seed), scored in zip(HELDOUT, scores))
    print(json.dumps({
        'benchmark': 'quality', 'preset': args.preset, 'recipe': args.recipe,
        'recipe_overrides': args.set, 'train_overrides': args.train_set,
        'train_scenes': args.train_scenes, 'heldout_scenes': validation['scenes'],
        'train_seed': args.train_seed, 'validation_seed': args.validation_seed,
        'test_seed': args.test_seed,
        'processes': processes, 'minutes': None if args.iterations else args.minutes,
        'iterations': iterations, 'train_seconds': round(train_seconds, 1),
        'eval_seconds': round(sum(seconds for seconds, _ in scores), 1),
        'cpu_count': os.cpu_count(),
        'K5': validation['K5'], 'rows': validation['rows'],
        'validation': validation, 'test': test}, indent=1))


if __name__ == '__main__':
    main()
