"""Training throughput: iterations/s, samples/s and peak RSS per preset, and the loader alone.

Usage: python bench/train.py [--quick] [--presets cpu_small,paper_64] [--iterations N]
                           [--prefetch off,on]

Each preset runs in its own process (so peak RSS is its own) on synthetic
64x64 shards written to a temporary folder (speed does not depend on image
content), with the preset's model and batch size; the first iteration is a
warm-up and not timed. The loader figure is the ShardDataset + context/query
sampler alone, at the same batch size. ``--prefetch off,on`` measures each preset with
the next batch read in the background and without, in the same run. Prints one JSON
object.
"""
import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

import gqn  # noqa: F401  (first: picks NumPy's BLAS kernels, see gqn.kernels.blas)

HERE = os.path.dirname(os.path.abspath(__file__))


def write_data(root, size, scenes=64, views=15, per_shard=32):
    import numpy as np

    from gqn.data import shards
    rng = np.random.RandomState(0)
    for index in range(scenes // per_shard):
        images = rng.randint(0, 256, (per_shard, views, size, size, 3), dtype=np.uint8)
        v = rng.standard_normal((per_shard, views, 7)).astype(np.float32)
        shards.write_shard(root, 'train', index, images, v)


def measure_preset(preset, root, iterations, prefetch):
    from gqn.training.config import TrainConfig, find_preset
    from gqn.training.trainer import build_trainer
    config = TrainConfig.from_toml(find_preset(preset)).replace(
        dataset=root, iterations=10**9, prefetch=prefetch)
    with tempfile.TemporaryDirectory() as out:
        trainer = build_trainer(config, out, quiet=True)
        updater = trainer.updater
        updater.update()  # warm-up (allocations, first-touch)
        start = time.perf_counter()
        for _ in range(iterations):
            with trainer.reporter.scope({}):
                updater.update()
        seconds = (time.perf_counter() - start) / iterations
        prefetching = updater.prefetch
        updater.finalize()
    hp = updater.get_optimizer('main').target.model.hp
    return {'preset': preset, 'prefetch': prefetching, 'batch_size': config.batch_size,
            'model': hp.to_dict(),
            'seconds_per_iteration': seconds, 'iterations_per_s': 1 / seconds,
            'samples_per_s': config.batch_size / seconds,
            'peak_rss_mb': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            'timed_iterations': iterations, 'threads': _threads()}


def measure_loader(root, batch_size, seconds=3.0):
    import chainer

    from gqn.data.context_query import ContextQuerySampler
    from gqn.data.shard_dataset import ShardDataset
    ds = ShardDataset(root, 'train')
    it = chainer.iterators.SerialIterator(ds, batch_size)
    sampler = ContextQuerySampler(ds.views)
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        sampler(it.next())
        n += batch_size
    return n / (time.perf_counter() - start)


def _threads():
    from threadpoolctl import threadpool_info
    return {i['internal_api']: i['num_threads'] for i in threadpool_info()}


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--presets', default='cpu_small,paper_64')
    p.add_argument('--iterations', type=int, default=0,
                   help='timed iterations per preset (default 5 for cpu_small, 1 for paper_64)')
    p.add_argument('--quick', action='store_true', help='cpu_small only, 2 iterations')
    p.add_argument('--prefetch', default='auto',
                   help="comma-separated 'auto', 'on', 'off': one measurement of each per preset")
    p.add_argument('--_child', nargs=4, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args._child:
        preset, root, n, prefetch = args._child
        print(json.dumps(measure_preset(preset, root, int(n), prefetch)))
        return
    presets = ['cpu_small'] if args.quick else args.presets.split(',')
    result = {'benchmark': 'train', 'cpu_count': os.cpu_count(), 'presets': []}
    with tempfile.TemporaryDirectory() as tmp:
        sizes = {}
        for preset in presets:
            from gqn.training.config import TrainConfig, find_preset
            size = TrainConfig.from_toml(find_preset(preset)).model.get('image_size', 64)
            root = sizes.setdefault(size, os.path.join(tmp, 'data%d' % size))
            if not os.path.exists(root):
                write_data(root, size)
            n = args.iterations or (2 if args.quick else (1 if preset == 'paper_64' else 5))
            for prefetch in args.prefetch.split(','):
                out = subprocess.run(
                    [sys.executable, __file__, '--_child', preset, root, str(n), prefetch],
                    check=True, capture_output=True, text=True).stdout
                entry = json.loads(out.strip().splitlines()[-1])
                entry['loader_samples_per_s'] = measure_loader(root, entry['batch_size'])
                entry['loader_to_trainer_ratio'] = (entry['loader_samples_per_s']
                                                    / entry['samples_per_s'])
                result['presets'].append(entry)
    print(json.dumps(result, indent=1))


if __name__ == '__main__':
    main()
