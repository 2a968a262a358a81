"""GFLOP/s of the ConvLSTM gate convolution: gqn.kernels.convolution_2d.convolution_2d vs F.convolution_2d.

Usage: python bench/conv.py [--quick] [--shapes NAME,...] [--repeats N] [--threads N]

For each shape (5x5 kernel, 16x16 maps, batch 36, 'same' padding) three
implementations run forward + backward (gradients of x, W and b) on the same
float32 data in the same process, alternating, and the best time of each is
kept: ``ours`` (``gqn.kernels.convolution_2d.convolution_2d``, which runs 5x5 kernels by
Winograd's F(4x4, 5x5)), ``shifted`` (the project's shifted-GEMM direct
convolution, its path for other kernels) and ``stock`` (Chainer's
``F.convolution_2d``, im2col). FLOPs are those of the direct convolution,
2*B*H*W*C_in*C_out*k*k for the forward pass and twice that for the backward
pass, for all three: Winograd's GEMMs do 6.25x fewer multiplications, so its
figure is an effective rate (time to result), not what the BLAS runs at. The BLAS thread count is set with
threadpoolctl and reported, with the load average (the machine may be shared)
and the GFLOP/s of one plain GEMM of a gate-like shape (512 x 1280 x 9216),
the ceiling that BLAS reaches on the machine at that moment.
Prints one JSON object.
"""
import argparse
import json
import os
import time

import gqn  # noqa: F401  (first: picks NumPy's BLAS kernels, see gqn.kernels.blas)

B, S, K = 36, 16, 5
# name: (C_in, C_out, bias, what it is)
SHAPES = {
    'gate_401': (401, 512, True, 'generation core, full concatenation [h, z, v, r]'),
    'gate_650': (650, 512, True, 'inference core, full concatenation [h_e, h_g, u, x, v, r]'),
    'step_256': (256, 512, False, 'hoisted per-step [h, x], inference core'),
    'step_131': (131, 512, False, 'hoisted per-step [h, z], generation core'),
    'invariant_311': (311, 12 * 512, True, 'hoisted step-invariant inputs, L = 12 cores'),
    'invariant_359': (359, 12 * 512, True, 'hoisted step-invariant inputs, L = 12 cores'),
}
QUICK = ['step_256', 'gate_650']
BIG_OUTPUTS = 2048  # shapes with more output channels are timed once (seconds per pass)


def run_once(conv, x, W, b, gy):
    import chainer
    xv, Wv = chainer.Variable(x), chainer.Variable(W)
    bv = None if b is None else chainer.Variable(b)
    start = time.perf_counter()
    y = conv(xv, Wv, bv)
    middle = time.perf_counter()
    y.grad = gy
    y.backward()
    end = time.perf_counter()
    grads = (xv.grad, Wv.grad, None if bv is None else bv.grad)
    return middle - start, end - middle, y.array, grads


def max_relative_error(a, b):
    import numpy
    return float(numpy.abs(a - b).max() / max(float(numpy.abs(b).max()), 1e-30))


def measure(name, repeats):
    import chainer.functions as F
    import numpy

    from gqn.kernels.convolution_2d import Convolution2D, convolution_2d

    c_in, c_out, bias, what = SHAPES[name]
    rng = numpy.random.RandomState(0)
    x = rng.standard_normal((B, c_in, S, S)).astype(numpy.float32)
    W = (rng.standard_normal((c_out, c_in, K, K)) / numpy.sqrt(c_in * K * K)).astype(numpy.float32)
    b = rng.standard_normal(c_out).astype(numpy.float32) if bias else None
    gy = rng.standard_normal((B, c_out, S, S)).astype(numpy.float32)
    impls = {'ours': lambda x, W, b: convolution_2d(x, W, b),
             'shifted': lambda x, W, b: Convolution2D((K // 2, K // 2)).apply(
                 (x, W) if b is None else (x, W, b))[0],
             'stock': lambda x, W, b: F.convolution_2d(x, W, b, pad=K // 2)}
    times = {impl: [] for impl in impls}
    results = {}
    for _ in range(repeats):
        for impl, conv in impls.items():
            forward, backward, y, grads = run_once(conv, x, W, b, gy)
            times[impl].append((forward, backward))
            results[impl] = (y,) + grads
    flops = 2 * B * S * S * c_in * c_out * K * K * 3
    entry = {'c_in': c_in, 'c_out': c_out, 'bias': bias, 'what': what, 'repeats': repeats,
             'gflop_per_pass': round(flops / 1e9, 1)}
    for impl, ts in times.items():
        forward, backward = min(ts, key=sum)
        entry[impl] = {'gflops': round(flops / (forward + backward) / 1e9, 1),
                       'forward_s': round(forward, 3), 'backward_s': round(backward, 3)}
    entry['ratio'] = round(entry['ours']['gflops'] / entry['stock']['gflops'], 2)
    entry['ratio_vs_shifted'] = round(entry['ours']['gflops'] / entry['shifted']['gflops'], 2)
    entry['max_rel_error'] = {
        key: max_relative_error(ours, stock)
        for key, ours, stock in zip(('y', 'gx', 'gW', 'gb'), results['ours'], results['stock'])
        if ours is not None}
    return entry


def blas_reference(repeats=3):
    """GFLOP/s of one plain float32 GEMM of a gate-like shape: the ceiling BLAS gives here now."""
    import numpy
    rng = numpy.random.RandomState(1)
    a = rng.standard_normal((512, K * 256)).astype(numpy.float32)
    b = rng.standard_normal((K * 256, B * S * S)).astype(numpy.float32)
    out = numpy.empty((512, B * S * S), numpy.float32)
    best = float('inf')
    for _ in range(repeats + 1):
        start = time.perf_counter()
        numpy.matmul(a, b, out=out)
        best = min(best, time.perf_counter() - start)
    return round(2 * a.shape[0] * a.shape[1] * b.shape[1] / best / 1e9, 1)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--quick', action='store_true',
                        help=f'only {", ".join(QUICK)}, one timed pass each')
    parser.add_argument('--shapes', help=f'comma-separated subset of {", ".join(SHAPES)}')
    parser.add_argument('--repeats', type=int, default=2,
                        help='timed passes per implementation and shape (best kept); '
                             f'shapes with more than {BIG_OUTPUTS} outputs run once')
    parser.add_argument('--threads', type=int, default=os.cpu_count(),
                        help='BLAS threads (threadpoolctl)')
    args = parser.parse_args()
    names = args.shapes.split(',') if args.shapes else QUICK if args.quick else list(SHAPES)
    unknown = sorted(set(names) - set(SHAPES))
    if unknown:
        parser.error(f'unknown shapes: {", ".join(unknown)}')

    import chainer  # noqa: F401  (loads NumPy's BLAS, so threadpoolctl sees it)
    from threadpoolctl import threadpool_info, threadpool_limits
    load_before = os.getloadavg()
    results = {}
    with threadpool_limits(args.threads):
        blas = [{'library': info['internal_api'], 'architecture': info.get('architecture'),
                 'threads': info['num_threads']}
                for info in threadpool_info() if info['user_api'] == 'blas']
        blas_gflops = blas_reference()
        for name in names:
            once = args.quick or SHAPES[name][1] > BIG_OUTPUTS
            results[name] = measure(name, 1 if once else args.repeats)
    print(json.dumps({'benchmark': 'gate_convolution', 'batch': B, 'size': S, 'ksize': K,
                      'dtype': 'float32', 'blas': blas, 'cpu_count': os.cpu_count(),
                      'plain_sgemm_gflops': blas_gflops,
                      'load_average_before_after': [round(load_before[0], 2),
                                                    round(os.getloadavg()[0], 2)],
                      'results': results}))


if __name__ == '__main__':
    main()
