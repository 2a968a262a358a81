"""The CUDA path against the CPU: float32 kernels, a training step, snapshots, eval.

Every test needs CuPy and a CUDA device (the ``cupy`` fixture skips otherwise);
``scripts/gpu_check.sh`` runs them on a GPU machine, once with TF32 allowed and
once with ``NVIDIA_TF32_OVERRIDE=0``. Tolerances: float32 kernels agree with
their NumPy twins to a few ulps; a float32 training step through cuDNN/cuBLAS
agrees with the CPU (Winograd) to ~1e-3 relative when TF32 may be used for
convolutions (10-bit mantissa inputs), tighter without.
"""
import os

import chainer
import numpy as np
import pytest

from gqn.kernels.conv_lstm_cell import conv_lstm_cell
from gqn.kernels.gaussian_kl import gaussian_kl
from gqn.kernels.gaussian_nll import gaussian_nll
from gqn.ops.random_state import latent_noise
from gqn.testing.datasets import TINY_MODEL

pytestmark = pytest.mark.gpu


def _tf32_off():
    return os.environ.get('NVIDIA_TF32_OVERRIDE') == '0'


@pytest.mark.parametrize('contiguous', [True, False], ids=['contiguous', 'strided'])
def test_float32_kernels_match_their_numpy_twins(cupy, contiguous):
    rng = np.random.RandomState(3)

    def arr(*shape):  # strided: a channel half of a wider array, as F.split_axis gives
        wide = (shape[0], shape[1] * (1 if contiguous else 2)) + shape[2:]
        return rng.uniform(-3, 3, wide).astype(np.float32)[:, :shape[1]]
    cases = [(conv_lstm_cell, (arr(4, 8, 6, 6), arr(4, 32, 6, 6))),
             (gaussian_kl, tuple(arr(4, 3, 6, 6) for _ in range(4))),
             (lambda x, m: gaussian_nll(x, m, 0.7), (arr(4, 3, 12, 12), arr(4, 3, 12, 12)))]
    for fn, args in cases:
        cpu = [chainer.Variable(np.ascontiguousarray(a)) for a in args]
        gpu = [chainer.Variable(cupy.asarray(a) if contiguous else
                                cupy.asarray(np.concatenate([a, a], 1))[:, :a.shape[1]])
               for a in args]
        assert all(v.array.flags.c_contiguous == contiguous for v in gpu)
        outs = [fn(*cpu), fn(*gpu)]
        outs = [o if isinstance(o, tuple) else (o,) for o in outs]
        for oc, og in zip(*outs):
            assert og.array.dtype == np.float32
            np.testing.assert_allclose(cupy.asnumpy(og.array), oc.array, rtol=2e-6, atol=2e-6)
        for o in outs:
            chainer.functions.sum(sum(v * v for v in o)).backward()
        for vc, vg in zip(cpu, gpu):
            np.testing.assert_allclose(cupy.asnumpy(vg.grad), vc.grad, rtol=2e-5, atol=2e-5)


def _host_noise(monkeypatch, seed):
    """Latent noise drawn on the host and sent to the device: the same z on CPU and GPU."""
    rng = np.random.RandomState(seed)

    def standard_normal(xp, shape, dtype):
        return xp.asarray(rng.standard_normal(shape).astype(dtype))
    monkeypatch.setattr(latent_noise, 'standard_normal', standard_normal)


@pytest.mark.parametrize('dtype', [np.float64, np.float32])
def test_training_step_on_the_gpu_matches_the_cpu(cupy, monkeypatch, tiny_hp, gqn_batch, dtype):
    import copy

    from gqn.kernels.adam import Adam
    from gqn.model.gqn import GQN
    from gqn.model.loss import GQNLoss
    hp = tiny_hp(image_size=16)
    with chainer.using_config('dtype', dtype):
        np.random.seed(0)
        model = GQN(hp)
    noise = np.random.RandomState(5)  # off the ReLU kinks at exact zeros (zero biases)
    for name, param in model.namedparams():
        if name.endswith('/b'):
            param.array[...] += 0.1 * noise.standard_normal(param.shape)
    batch = dict(zip(('x_c', 'v_c', 'x_q', 'v_q'), gqn_batch(B=3, K=2, size=16, dtype=dtype)))
    results = []
    for device in ('@numpy', '@cupy:0'):
        device = chainer.get_device(device)
        _host_noise(monkeypatch, 11)
        loss_fun = GQNLoss(copy.deepcopy(model))
        loss_fun.to_device(device)
        optimizer = Adam(alpha=1e-3)
        optimizer.setup(loss_fun)
        loss = loss_fun(sigma=1.3, **{k: device.send(v) for k, v in batch.items()})
        loss_fun.cleargrads()
        loss.backward()
        grads = {n: chainer.backend.CpuDevice().send(p.grad) for n, p in loss_fun.namedparams()}
        optimizer.update()
        params = {n: chainer.backend.CpuDevice().send(p.array) for n, p in loss_fun.namedparams()}
        results.append((float(loss.array), grads, params))
    (loss_cpu, grads_cpu, params_cpu), (loss_gpu, grads_gpu, params_gpu) = results
    rtol = 1e-9 if dtype == np.float64 else (1e-4 if _tf32_off() else 2e-3)
    assert loss_gpu == pytest.approx(loss_cpu, rel=rtol)
    for name, g in grads_cpu.items():
        scale = max(float(np.abs(g).max()), 1e-12)
        assert float(np.abs(grads_gpu[name] - g).max()) / scale < max(rtol * 50, 1e-7), name
        # the first Adam step moves each parameter by about alpha * sign(g): the same
        # step on both devices except where g is at rounding level
        moved_apart = np.abs(params_gpu[name] - params_cpu[name]) > 1e-5
        assert moved_apart.mean() <= 0.01, name


def _tiny_config(dataset, **changes):
    from gqn.training.config import TrainConfig
    d = dict(dataset=dataset, model=TINY_MODEL, batch_size=4, iterations=6, log_interval=2,
             eval_interval=3, eval_scenes=8, image_interval=3, snapshot_interval=3,
             device='@cupy:0')
    d.update(changes)
    return TrainConfig(**d)


def _params(path):
    with np.load(path, allow_pickle=False) as npz:
        return {k: npz[k] for k in npz.files}


def test_gpu_run_resumes_to_the_same_parameters(cupy, synthetic_dataset, tmp_path):
    """Keyed latent noise: a run split by --resume ends where an uninterrupted one does
    (up to cuDNN's non-deterministic algorithms, hence a tolerance rather than equality)."""
    from gqn.training.trainer import train
    whole, split = str(tmp_path / 'whole'), str(tmp_path / 'split')
    train(_tiny_config(synthetic_dataset), whole, quiet=True)
    train(_tiny_config(synthetic_dataset, iterations=3), split, quiet=True)
    train(_tiny_config(synthetic_dataset), split, resume=True, quiet=True)
    a = _params(os.path.join(whole, 'model', 'model.npz'))
    b = _params(os.path.join(split, 'model', 'model.npz'))
    assert a.keys() == b.keys()
    for name in a:
        np.testing.assert_allclose(b[name], a[name], rtol=1e-4, atol=1e-6, err_msg=name)


def test_gpu_prefetch_is_on_by_default_and_trains_as_without(cupy, synthetic_dataset,
                                                            tmp_path):
    """The background batch (read, sent and converted in a worker thread, on the run's
    GPU) is the batch a run without prefetch trains on; 14 iterations cross two epochs."""
    from gqn.training.trainer import train
    on = train(_tiny_config(synthetic_dataset, iterations=14), str(tmp_path / 'on'),
               quiet=True)
    assert on.updater.prefetch
    off = train(_tiny_config(synthetic_dataset, iterations=14, prefetch='off'),
                str(tmp_path / 'off'), quiet=True)
    a = _params(os.path.join(str(tmp_path / 'on'), 'model', 'model.npz'))
    b = _params(os.path.join(str(tmp_path / 'off'), 'model', 'model.npz'))
    for name in a:
        np.testing.assert_allclose(a[name], b[name], rtol=1e-4, atol=1e-6, err_msg=name)
    assert on.updater.epoch == off.updater.epoch == 2


def test_gpu_model_snapshot_loads_on_the_cpu_and_evaluates_alike(cupy, synthetic_dataset,
                                                                 tmp_path):
    from gqn.data.shard_dataset import ShardDataset
    from gqn.evaluation.evaluate import evaluate
    from gqn.training.snapshot import load_trained
    from gqn.training.trainer import train
    run = str(tmp_path / 'run')
    train(_tiny_config(synthetic_dataset), run, quiet=True)
    dataset = ShardDataset(synthetic_dataset, 'test')
    scores = []
    for device in ('@numpy', '@cupy:0'):
        model, _ = load_trained(run)
        device = chainer.get_device(device)
        model.to_device(device)
        scores.append(evaluate(model, dataset, max_context=2, scenes=8, batch_size=4,
                               device=device, progress=False))
    for cpu_row, gpu_row in zip(scores[0]['rows'], scores[1]['rows']):
        # the baselines do not involve the model: equal
        assert gpu_row['nearest_view_mse'] == cpu_row['nearest_view_mse']
        assert gpu_row['black_mse'] == cpu_row['black_mse']
        # the ELBO terms are deterministic given the data: close
        for key in ('nll', 'kl'):
            assert gpu_row[key] == pytest.approx(cpu_row[key], rel=1e-3, abs=1e-4), key
        assert np.isfinite(gpu_row['model_mse'])

