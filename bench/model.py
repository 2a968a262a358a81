"""Training-step throughput of the GQN model: optimised vs. plain vs. stock Chainer.

Prints one JSON object: for the paper config (64x64, L = 12 unshared cores,
5 context views) at batch 36 and 8, and for small CPU configs, the samples/s
of one full training step (forward, ELBO, backward, Adam update) and the peak
RSS of the process that measured it, for three formulations of the same model:

- ``optimised``: step-invariant gate convolutions hoisted, the project's own
  CPU functions (Winograd convolution, linear canvas, fused LSTM cell,
  in-place Adam :class:`gqn.kernels.adam.Adam`);
- ``plain``: the project's functions, no hoisting;
- ``stock``: no hoisting and Chainer's stock functions (``F.convolution_2d``
  on the concatenated inputs, ``F.deconvolution_2d``, ``F.lstm``, Chainer's
  Adam), i.e. ``gqn.ops.stock_ops``;

and the ratios ``optimised / plain`` (hoisting) and ``optimised / stock``.
Each measurement runs in its own subprocess so the peak RSS figures are separate,
and reports the best of its timed steps (paper configs: 2 after a warm-up step;
small configs: 5 after 2), the machine being noisy.

    python bench/model.py            # paper + small configs (minutes on 2 cores)
    python bench/model.py --quick    # small config only, fewer steps
"""
import argparse
import json
import os
import resource
import subprocess
import sys
import time

import gqn  # noqa: F401  (first: picks NumPy's BLAS kernels, see gqn.kernels.blas)

CONFIGS = {
    'paper': dict(batch=36, context=5, hp=dict()),
    'paper_batch8': dict(batch=8, context=5, hp=dict()),
    'small': dict(batch=16, context=3, hp=dict(image_size=32, r_channels=64, h_channels=32,
                                              u_channels=32, generation_steps=6)),
    'small_shared': dict(batch=16, context=3, hp=dict(image_size=32, r_channels=64,
                                                     h_channels=32, u_channels=32,
                                                     generation_steps=6, shared_core=True)),
}


VARIANTS = {'optimised': (True, False), 'plain': (False, False), 'stock': (False, True)}


def measure(config, variant, steps, warmup):
    import chainer
    import numpy

    from gqn.kernels.adam import Adam
    from gqn.model.gqn import GQN
    from gqn.model.hyperparams import HyperParameters
    from gqn.model.loss import GQNLoss
    from gqn.ops.stock_ops import stock_ops

    spec = CONFIGS[config]
    hp = HyperParameters(**spec['hp'])
    numpy.random.seed(0)
    hoist, stock = VARIANTS[variant]
    loss_fn = GQNLoss(GQN(hp, hoist=hoist))
    optimizer = chainer.optimizers.Adam() if stock else Adam()
    optimizer.setup(loss_fn)
    B, K, S = spec['batch'], spec['context'], hp.image_size
    rng = numpy.random.RandomState(0)
    batch = (rng.rand(B, K, 3, S, S).astype('f'), rng.uniform(-1, 1, (B, K, 7)).astype('f'),
             rng.rand(B, 3, S, S).astype('f'), rng.uniform(-1, 1, (B, 7)).astype('f'))
    times = []
    for i in range(warmup + steps):
        start = time.perf_counter()
        with stock_ops(stock):
            loss = loss_fn(*batch, 1.0)
            loss_fn.cleargrads()
            loss.backward()
        optimizer.update()
        del loss
        if i >= warmup:
            times.append(time.perf_counter() - start)
    best = min(times)
    return {'samples_per_s': round(B / best, 3), 'seconds_per_step': round(best, 3),
            'peak_rss_mib': round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            'batch': B, 'steps_timed': steps}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--quick', action='store_true', help='small config only, fewer steps')
    parser.add_argument('--configs', help='comma-separated subset of %s' % ','.join(CONFIGS))
    parser.add_argument('--worker', nargs=2, metavar=('CONFIG', 'VARIANT'), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        config, variant = args.worker
        quick = not config.startswith('paper') and args.quick
        steps, warmup = (2, 1) if config.startswith('paper') else ((2, 1) if quick else (5, 2))
        print(json.dumps(measure(config, variant, steps, warmup)))
        return
    configs = (args.configs.split(',') if args.configs else
               ['small', 'small_shared'] if args.quick else list(CONFIGS))
    import numpy  # noqa: F401  (loads the BLAS that threadpool_info reports)
    from threadpoolctl import threadpool_info
    results = {}
    for config in configs:
        entry = {'batch': CONFIGS[config]['batch'], 'context': CONFIGS[config]['context'],
                 'hyperparams': CONFIGS[config]['hp']}
        for variant in VARIANTS:
            cmd = [sys.executable, os.path.abspath(__file__), '--worker', config, variant]
            if args.quick:
                cmd.append('--quick')
            out = subprocess.run(cmd, check=True, stdout=subprocess.PIPE, text=True).stdout
            entry[variant] = json.loads(out.strip().splitlines()[-1])
        rate = {v: entry[v]['samples_per_s'] for v in VARIANTS}
        entry['speedup_hoisting'] = round(rate['optimised'] / rate['plain'], 3)
        entry['speedup_vs_stock'] = round(rate['optimised'] / rate['stock'], 3)
        results[config] = entry
    print(json.dumps({'benchmark': 'model_training_step', 'cpu_count': os.cpu_count(),
                      'blas_threads': {i['internal_api']: i['num_threads']
                                       for i in threadpool_info()},
                      'results': results}, indent=1))


if __name__ == '__main__':
    main()
