"""Forward+backward throughput of the GQN model, with and without hoisting.

Prints one JSON object: for the paper config (batch 36, 64x64, L = 12,
unshared cores) and a small CPU config, samples/s of one training
forward+backward pass and the peak RSS of the process that measured it,
once with the step-invariant gate convolutions hoisted (the default) and
once with the plain concatenation formulation, and their ratio. Each
measurement runs in its own subprocess so the peak RSS figures are separate.

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

CONFIGS = {
    'paper': dict(batch=36, context=3, hp=dict()),
    'small': dict(batch=16, context=3, hp=dict(image_size=32, r_channels=64, h_channels=32,
                                              u_channels=32, generation_steps=6)),
    'small_shared': dict(batch=16, context=3, hp=dict(image_size=32, r_channels=64,
                                                     h_channels=32, u_channels=32,
                                                     generation_steps=6, shared_core=True)),
}


def measure(config, hoist, steps, warmup):
    import chainer
    import numpy

    from gqn.hyperparams import HyperParameters
    from gqn.loss import GQNLoss
    from gqn.model import GQN

    spec = CONFIGS[config]
    hp = HyperParameters(**spec['hp'])
    numpy.random.seed(0)
    loss_fn = GQNLoss(GQN(hp, hoist=hoist))
    B, K, S = spec['batch'], spec['context'], hp.image_size
    rng = numpy.random.RandomState(0)
    batch = (rng.rand(B, K, 3, S, S).astype('f'), rng.uniform(-1, 1, (B, K, 7)).astype('f'),
             rng.rand(B, 3, S, S).astype('f'), rng.uniform(-1, 1, (B, 7)).astype('f'))
    times = []
    for i in range(warmup + steps):
        start = time.perf_counter()
        loss = loss_fn(*batch, 1.0)
        loss_fn.cleargrads()
        loss.backward()
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
    parser.add_argument('--worker', nargs=2, metavar=('CONFIG', 'HOIST'), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        config, hoist = args.worker[0], args.worker[1] == '1'
        quick = config != 'paper' and args.quick
        steps, warmup = (1, 1) if config == 'paper' else ((2, 1) if quick else (5, 2))
        print(json.dumps(measure(config, hoist, steps, warmup)))
        return
    configs = ['small', 'small_shared'] if args.quick else ['paper', 'small', 'small_shared']
    results = {}
    for config in configs:
        entry = {'hyperparams': CONFIGS[config]['hp']}
        for hoist in (True, False):
            cmd = [sys.executable, os.path.abspath(__file__), '--worker', config, str(int(hoist))]
            if args.quick:
                cmd.append('--quick')
            out = subprocess.run(cmd, check=True, stdout=subprocess.PIPE, text=True).stdout
            entry['hoisted' if hoist else 'plain'] = json.loads(out.strip().splitlines()[-1])
        entry['speedup'] = round(entry['hoisted']['samples_per_s']
                                 / entry['plain']['samples_per_s'], 3)
        results[config] = entry
    print(json.dumps({'benchmark': 'model_forward_backward', 'results': results}))


if __name__ == '__main__':
    main()
