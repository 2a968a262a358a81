"""The CUDA path against the CPU, and its speed: one stage per call, one JSON object printed.

Usage: python bench/gpu.py STAGE [--device @cupy:0] [--out DIR]

Stages (``scripts/gpu_check.sh`` runs them all, each under a timeout):

- ``env``       versions, the device, cuDNN, TF32 settings, an NVRTC compile.
- ``equality``  one training step (loss terms, every gradient, the parameters after
                one Adam step) on the CPU and on the device with the same
                parameters, batch and latent noise: float64 (tight) and float32;
                biases perturbed first (ReLU kinks at exact zeros differ legitimately).
- ``timing``    ``paper_64`` steps at its batch (36) through the real updater:
                first step, median seconds per step, GPU memory; cuDNN autotune on.
- ``cli``       ``gqn train`` → ``--resume`` → ``gqn eval`` → ``gqn gif`` on the device.

``--device @numpy`` plays the GPU with the CPU, which checks this script (the
test suite does that) but measures nothing about CUDA.
"""
import argparse
import contextlib
import copy
import json
import os
import subprocess
import sys
import tempfile
import time

import gqn  # noqa: F401  (first: the compatibility shims and NumPy's BLAS kernels)

# isort: split
import numpy as np

SMALL = dict(image_size=32, r_channels=64, h_channels=32, u_channels=32, z_channels=3,
             generation_steps=4, lstm_kernel_size=5)
TINY = dict(image_size=16, r_channels=8, h_channels=4, u_channels=4, z_channels=2,
            generation_steps=2, lstm_kernel_size=3)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('stage', choices=['env', 'equality', 'timing', 'cli'])
    p.add_argument('--device', default='@cupy:0')
    p.add_argument('--out', help='work folder (default: a temporary one)')
    p.add_argument('--steps', type=int, default=12, help='timed steps (timing)')
    return p.parse_args(argv)


def on_gpu(device):
    return device.xp is not np


def sync(device):
    if on_gpu(device):
        device.xp.cuda.Device().synchronize()


def host(a):
    import chainer
    return np.asarray(chainer.backend.CpuDevice().send(chainer.as_array(a)), np.float64)


def relerr(a, b):
    """max |a - b| / max |b|, b the reference."""
    a, b = host(a), host(b)
    return float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-30))


def write_dataset(root, size, scenes=64, views=15, per_shard=32, seed=0):
    """Shards of smooth random images (speed does not depend on content)."""
    from gqn.data import shards
    rng = np.random.RandomState(seed)
    for split in ('train', 'test'):
        for index in range(scenes // per_shard):
            low = rng.uniform(0, 255, (per_shard, views, size // 8, size // 8, 3))
            images = np.repeat(np.repeat(low, 8, axis=2), 8, axis=3).astype(np.uint8)
            yaw = rng.uniform(-np.pi, np.pi, (per_shard, views))
            pitch = rng.uniform(-0.5, 0.5, (per_shard, views))
            xyz = 6 * np.stack([np.cos(pitch) * np.sin(yaw), np.sin(pitch),
                                np.cos(pitch) * np.cos(yaw)], -1)
            v = np.concatenate([xyz, np.stack([np.cos(yaw), np.sin(yaw), np.cos(pitch),
                                               np.sin(pitch)], -1)], -1)
            shards.write_shard(root, split, index, images, v.astype(np.float32))
    return root


def stage_env(device, args):
    import platform

    import chainer
    from chainer.backends import cuda

    from gqn.cuda import cupy_version
    info = {'python': platform.python_version(), 'numpy': np.__version__,
            'chainer': chainer.__version__, 'cupy': cupy_version(),
            'chainer_cuda_available': cuda.available, 'cudnn_enabled': cuda.cudnn_enabled,
            'NVIDIA_TF32_OVERRIDE': os.environ.get('NVIDIA_TF32_OVERRIDE')}
    if on_gpu(device):
        cupy = device.xp
        props = cupy.cuda.runtime.getDeviceProperties(device.device.id)
        info.update(device=props['name'].decode(), compute_capability='%d.%d' % (
            props['major'], props['minor']), memory_gib=round(props['totalGlobalMem'] / 2**30, 1),
            cuda_runtime=cupy.cuda.runtime.runtimeGetVersion(),
            cuda_driver=cupy.cuda.runtime.driverGetVersion(),
            cudnn=cuda.cuda.cudnn.getVersion() if cuda.cudnn_enabled else None)
        cupy.cuda.compiler.compile_using_nvrtc(
            'extern "C" __global__ void k(float* x) { x[0] = 1; }')
        info['nvrtc'] = 'ok'
    return info


@contextlib.contextmanager
def host_noise(seed):
    """Latent noise drawn on the host and sent to the array's device: the same z everywhere."""
    from gqn.ops.random_state import latent_noise
    rng = np.random.RandomState(seed)
    latent_noise.standard_normal = lambda xp, shape, dtype: xp.asarray(
        rng.standard_normal(shape).astype(dtype))
    try:
        yield
    finally:
        del latent_noise.standard_normal  # the class's method again


def one_step(model, batch, device, sigma=1.3):
    import chainer

    from gqn.kernels.adam import Adam
    from gqn.model.loss import GQNLoss
    loss_fun = GQNLoss(model)
    loss_fun.to_device(device)
    optimizer = Adam(alpha=1e-3)
    optimizer.setup(loss_fun)
    reporter = chainer.Reporter()
    reporter.add_observer('main', loss_fun)
    observation = {}
    with host_noise(123), reporter.scope(observation):
        loss = loss_fun(sigma=sigma, **{k: device.send(v) for k, v in batch.items()})
        loss_fun.cleargrads()
        loss.backward()
    grads = {n: host(p.grad) for n, p in loss_fun.namedparams()}
    optimizer.update()
    params = {n: host(p.array) for n, p in loss_fun.namedparams()}
    terms = {k.split('/')[-1]: float(host(v)) for k, v in observation.items()}
    return terms, grads, params


def stage_equality(device, args):
    import chainer

    from gqn.model.gqn import GQN
    from gqn.model.hyperparams import HyperParameters
    cpu = chainer.get_device('@numpy')
    model_sizes = SMALL if on_gpu(device) else TINY
    cases = [('float64', model_sizes, np.float64), ('float32', model_sizes, np.float32),
             ('float32 shared core', dict(model_sizes, shared_core=True), np.float32),
             ('float32 pool representation', dict(model_sizes, representation='pool'),
              np.float32)]
    rows = []
    for tag, sizes, dtype in cases:
        hp = HyperParameters(**sizes)
        with chainer.using_config('dtype', dtype):
            np.random.seed(0)
            model = GQN(hp)
        noise = np.random.RandomState(5)
        for name, param in model.namedparams():
            if name.endswith('/b'):
                param.array[...] += 0.1 * noise.standard_normal(param.shape)
        rng = np.random.RandomState(0)
        s = hp.image_size
        batch = {'x_c': rng.uniform(0, 1, (4, 3, 3, s, s)).astype(dtype),
                 'v_c': rng.uniform(-1, 1, (4, 3, 7)).astype(dtype),
                 'x_q': rng.uniform(0, 1, (4, 3, s, s)).astype(dtype),
                 'v_q': rng.uniform(-1, 1, (4, 7)).astype(dtype)}
        (t_ref, g_ref, p_ref) = one_step(copy.deepcopy(model), batch, cpu)
        (t_dev, g_dev, p_dev) = one_step(copy.deepcopy(model), batch, device)
        grad_err = {n: relerr(g_dev[n], g_ref[n]) for n in g_ref}
        param_err = {n: relerr(p_dev[n], p_ref[n]) for n in p_ref}
        worst_grad = max(grad_err, key=grad_err.get)
        worst_param = max(param_err, key=param_err.get)
        term_err = max(abs(t_dev[k] - t_ref[k]) / max(abs(t_ref[k]), 1e-30) for k in t_ref)
        tol = 1e-9 if dtype == np.float64 else 5e-3
        rows.append({'case': tag, 'loss_cpu': t_ref['loss'], 'loss_device': t_dev['loss'],
                     'terms_rel_err': term_err, 'grad_rel_err': grad_err[worst_grad],
                     'worst_grad': worst_grad, 'param_rel_err_after_adam': param_err[worst_param],
                     'worst_param': worst_param,
                     'ok': term_err <= tol and grad_err[worst_grad] <= 100 * tol})
    return {'cases': rows, 'ok': all(r['ok'] for r in rows)}


def stage_timing(device, args):
    import chainer

    from gqn.training.config import TrainConfig, find_preset
    from gqn.training.trainer import build_trainer
    work = args.out or tempfile.mkdtemp()
    gpu = on_gpu(device)
    config = TrainConfig.from_toml(find_preset('paper_64')).replace(iterations=10**9, minutes=0,
                                                                    device=device.name)
    if not gpu:  # the script's own check: a small model and batch stand in
        config = config.replace(batch_size=2, model=dict(config.model, **TINY))
    size = config.model.get('image_size', 64)
    config = config.replace(dataset=write_dataset(os.path.join(work, 'data'), size))
    trainer = build_trainer(config, os.path.join(work, 'run_timing'), quiet=True)
    updater = trainer.updater

    def steps(n, **settings):
        times = []
        with contextlib.ExitStack() as stack:
            for key, value in settings.items():
                stack.enter_context(chainer.using_config(key, value))
            for _ in range(n):
                start = time.perf_counter()
                with trainer.reporter.scope({}):
                    updater.update()
                sync(device)
                times.append(time.perf_counter() - start)
        rest = sorted(times[1:]) or times
        return {'first_step_s': times[0], 'median_s_per_step': rest[len(rest) // 2]}
    n = args.steps if gpu else 2
    result = {'preset': 'paper_64', 'batch_size': config.batch_size, 'default': steps(n)}
    if gpu:
        pool = device.xp.get_default_memory_pool()
        result['gpu_memory_gib'] = {'held': pool.total_bytes() / 2**30,
                                    'in_use': pool.used_bytes() / 2**30}
        result['cudnn_autotune'] = steps(max(n // 2, 3), autotune=True)
    return result


def stage_cli(device, args):
    work = args.out or tempfile.mkdtemp()
    data = write_dataset(os.path.join(work, 'data32'), 32 if on_gpu(device) else 16)
    common = ['--device', device.name, '--dataset', data, '--quiet',
              '--set', 'snapshot_interval=5', '--set', 'eval_interval=5',
              '--set', 'image_interval=10', '--set', 'log_interval=5', '--set', 'eval_scenes=8']
    if not on_gpu(device):
        common += ['--batch-size', '2'] + sum((['--set', 'model.%s=%s' % kv]
                                               for kv in TINY.items()), [])
    gqn_cli = [sys.executable, '-m', 'gqn.cli']
    steps = []

    def run(*argv):
        start = time.perf_counter()
        r = subprocess.run(gqn_cli + list(argv), capture_output=True, text=True)
        steps.append({'command': 'gqn ' + ' '.join(argv[:3]), 'rc': r.returncode,
                      'seconds': round(time.perf_counter() - start, 1),
                      'tail': (r.stdout + r.stderr).strip().splitlines()[-2:]})
    whole, split = os.path.join(work, 'run_whole'), os.path.join(work, 'run_split')
    run('train', 'cpu_small', '--out', whole, '--iterations', '10', *common)
    run('train', 'cpu_small', '--out', split, '--iterations', '5', *common)
    run('train', 'cpu_small', '--out', split, '--resume', '--iterations', '10', *common)
    run('eval', whole, '--device', device.name, '--scenes', '8', '--max-context', '3',
        '--batch-size', '4')
    run('gif', whole, '--device', device.name, '--frames', '4', '--out',
        os.path.join(work, 'rotation.gif'))
    result = {'steps': steps, 'ok': all(s['rc'] == 0 for s in steps)}
    try:
        a, b = ({k: z[k] for k in z.files} for z in (
            np.load(os.path.join(d, 'model', 'model.npz'), allow_pickle=False)
            for d in (whole, split)))
        result['resume_max_param_diff'] = max(float(np.abs(a[k] - b[k]).max()) for k in a)
    except OSError as e:
        result['ok'], result['resume_error'] = False, str(e)
    return result


def main(argv=None):
    from gqn.cuda import get_device
    args = parse_args(argv)
    os.environ.setdefault('MPLBACKEND', 'Agg')
    device = get_device(args.device)
    device.use()
    start = time.perf_counter()
    result = globals()['stage_' + args.stage](device, args)
    result = {'benchmark': 'gpu', 'stage': args.stage, 'device': args.device,
              'seconds': round(time.perf_counter() - start, 1), **result}
    print(json.dumps(result, indent=1, default=float))
    return 0 if result.get('ok', True) else 1


if __name__ == '__main__':
    sys.exit(main())
