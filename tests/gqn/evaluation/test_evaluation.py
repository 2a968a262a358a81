import json
import os

import numpy as np

from gqn.cli import main
from gqn.data import shards
from gqn.data.shard_dataset import ShardDataset
from gqn.evaluation.evaluate import bootstrap_interval, evaluate, nearest_context_view, per_scene_mse, psnr
from gqn.testing.datasets import TINY_MODEL
from gqn.training.config import TrainConfig
from gqn.training.trainer import train


def test_nearest_context_view_hand_made():
    x_c = np.arange(2 * 3 * 3 * 1 * 1, dtype=np.float32).reshape(2, 3, 3, 1, 1)
    v_c = np.zeros((2, 3, 7), np.float32)
    v_c[0, :, 0] = [0, 5, 10]          # scene 0: query at x=6 -> view 1
    v_c[1, :, 6] = [1, -1, 0.2]        # scene 1: query sin pitch=-0.8 -> view 1
    v_q = np.zeros((2, 7), np.float32)
    v_q[0, 0] = 6
    v_q[1, 6] = -0.8
    near = nearest_context_view(x_c, v_c, v_q)
    np.testing.assert_array_equal(near[0], x_c[0, 1])
    np.testing.assert_array_equal(near[1], x_c[1, 1])
    v_q[1, 6] = 0.3                    # now view 2 (0.2) is nearest
    np.testing.assert_array_equal(nearest_context_view(x_c, v_c, v_q)[1], x_c[1, 2])


def test_eval_writes_json_markdown_and_png(synthetic_dataset, tmp_path, capsys):
    run = str(tmp_path / 'run')
    train(TrainConfig(dataset=synthetic_dataset, model=TINY_MODEL, batch_size=4, iterations=4,
                      sigma_steps=4), run, quiet=True)
    assert main(['eval', run, '--scenes', '10', '--batch-size', '4']) == 0
    with open(os.path.join(run, 'eval', 'eval.json')) as f:
        result = json.load(f)
    assert result['scenes'] == 10 and result['views'] == 5 and result['sigma'] == 0.7
    assert [r['K'] for r in result['rows']] == [0, 1, 2, 3, 4]
    for r in result['rows']:
        assert set(r) == {'K', 'model_mse', 'model_mse_ci', 'model_psnr', 'sample_mean_mse',
                          'nearest_view_mse', 'mean_image_mse', 'ratio_to_mean_image',
                          'black_mse', 'nll', 'kl', 'loss', 'bpp'}
        low, high = r.pop('model_mse_ci')
        assert low <= r['model_mse'] <= high
        if r['K'] == 0:  # no context view, no nearest one
            assert r.pop('nearest_view_mse') is None
        assert all(np.isfinite(v) and v >= 0 for v in r.values())
        np.testing.assert_allclose(r['model_psnr'], -10 * np.log10(r['model_mse']))
        np.testing.assert_allclose(r['ratio_to_mean_image'],
                                   r['model_mse'] / r['mean_image_mse'])
        np.testing.assert_allclose(r['loss'], r['nll'] + r['kl'], rtol=1e-5)
        np.testing.assert_allclose(r['bpp'], r['loss'] / (np.log(2) * 16 * 16), rtol=1e-5)
    # more context views can only bring the nearest one closer
    nearest = [r['nearest_view_mse'] for r in result['rows'][1:]]
    assert nearest[-1] < nearest[0]
    # the mean-image and black baselines do not depend on K
    assert len({round(r['mean_image_mse'], 9) for r in result['rows']}) == 1
    assert len({round(r['black_mse'], 9) for r in result['rows']}) == 1
    assert result['mean_image_from'] == synthetic_dataset and result['mean_samples'] == 4
    assert result['beats_nearest_view'] == [r['K'] for r in result['rows'][1:]
                                            if r['model_mse'] < r['nearest_view_mse']]
    assert result['beats_mean_image'] == [r['K'] for r in result['rows']
                                          if r['model_mse'] < r['mean_image_mse']]
    md = open(os.path.join(run, 'eval', 'eval.md')).read()
    assert md.count('\n| ') == 6 and 'nearest-context-view baseline' in md
    assert 'the mean image' in md and '95 %' in md and '(10 held-out scenes.)' in md
    assert '\n| 0 | ' in md and 'With no context view (K = 0) the MSE is' in md
    assert os.path.getsize(os.path.join(run, 'eval', 'predictions.png')) > 0
    assert 'nearest-context-view' in capsys.readouterr().out
    assert_eval_files_match(os.path.join(run, 'eval'))


def assert_eval_files_match(out):
    """eval.json names the bytes of the eval.md and predictions.png beside it."""
    import hashlib
    with open(os.path.join(out, 'eval.json')) as f:
        named = json.load(f)['files']
    assert set(named) == {'eval.md', 'predictions.png'}
    for name, digest in named.items():
        with open(os.path.join(out, name), 'rb') as f:
            assert hashlib.sha256(f.read()).hexdigest() == digest, name


def test_scores_do_not_depend_on_the_batch_size(synthetic_dataset):
    """Each scene's context, query and latent noise depend on (seed, scene, K) alone: batch
    sizes 1, 3 and 8 give the same figures (up to float32 rounding of the forward pass), and
    a scene gets the same prediction whatever its place in the batch."""
    import chainer

    from gqn.model.gqn import GQN
    from gqn.model.hyperparams import HyperParameters
    from gqn.ops.random_state import latent_noise
    dataset = ShardDataset(synthetic_dataset, 'test')
    np.random.seed(0)
    model = GQN(HyperParameters(image_size=16, **TINY_MODEL))
    baseline = np.full((3, 16, 16), 0.5, np.float32)
    results = [evaluate(model, dataset, scenes=10, batch_size=b, baseline_image=baseline,
                        progress=False, mean_samples=2) for b in (1, 3, 8)]
    for result in results[1:]:
        assert [r['K'] for r in result['rows']] == [0, 1, 2, 3, 4]
        for expected, row in zip(results[0]['rows'], result['rows']):
            for key, value in expected.items():
                if value is not None:
                    np.testing.assert_allclose(row[key], value, rtol=1e-5, err_msg=key)
        assert result['beats_mean_image'] == results[0]['beats_mean_image']
    # the same scene at the same K: the same prediction in any batch, at any place
    x = np.stack([dataset[i][0] for i in range(8)])
    v = np.stack([dataset[i][1] for i in range(8)])

    def predict(scenes, k=2):
        with latent_noise.keyed_rows([(0, i, k) for i in scenes]), \
                chainer.no_backprop_mode(), chainer.using_config('train', False):
            return model.generate(x[scenes, 1:k + 1], v[scenes, 1:k + 1], v[scenes, 0]).array
    whole = predict(list(range(8)))
    np.testing.assert_allclose(predict([6, 2, 5]), whole[[6, 2, 5]], atol=1e-5)
    np.testing.assert_allclose(predict([3]), whole[[3]], atol=1e-5)
    assert np.abs(predict([3], k=1) - whole[[3]]).max() > 1e-3  # K is part of the key


def test_eval_json_goes_last_and_an_interrupted_rerun_leaves_none(synthetic_dataset, tmp_path,
                                                                  capsys):
    """An evaluation stopped between its writes (here: predictions.png cannot be replaced)
    leaves no eval.json beside figures of another evaluation; the next one writes all three."""
    run = str(tmp_path / 'run')
    train(TrainConfig(dataset=synthetic_dataset, model=TINY_MODEL, batch_size=4, iterations=2,
                      sigma_steps=2), run, quiet=True)
    argv = ['eval', run, '--scenes', '4', '--max-context', '1', '--mean-samples', '1']
    assert main(argv) == 0
    out = os.path.join(run, 'eval')
    assert_eval_files_match(out)
    png = os.path.join(out, 'predictions.png')
    os.remove(png)
    os.mkdir(png)  # the figure's write fails after the work is done
    capsys.readouterr()
    assert main(argv + ['--seed', '1']) == 2
    err = capsys.readouterr().err.splitlines()[-1]  # after the progress bar
    assert err.startswith('gqn eval: error: cannot write %s' % png)
    assert not os.path.exists(os.path.join(out, 'eval.json'))
    os.rmdir(png)
    assert main(argv + ['--seed', '1']) == 0
    assert_eval_files_match(out)
    assert sorted(os.listdir(out)) == ['eval.json', 'eval.md', 'predictions.png']


def dead_pid():
    """The id of a process that has ended (and been reaped)."""
    import subprocess
    p = subprocess.Popen(['true'])
    p.wait()
    return p.pid


def test_a_rerun_removes_the_temporary_files_of_killed_evaluations_only(
        synthetic_dataset, tmp_path):
    """A real writer killed mid-write leaves eval.json.tmp<pid>; the next eval removes it, and
    keeps the temporary file of a live process and files that are not its own."""
    import signal
    import subprocess
    import sys
    import time
    run = str(tmp_path / 'run')
    train(TrainConfig(dataset=synthetic_dataset, model=TINY_MODEL, batch_size=4, iterations=2,
                      sigma_steps=2), run, quiet=True)
    out = os.path.join(run, 'eval')
    os.makedirs(out)
    writer = subprocess.Popen([sys.executable, '-c', (
        'import sys, time\n'
        'from gqn import files\n'
        'def write(f):\n'
        '    f.write(b"{")\n'
        '    f.flush()\n'
        '    time.sleep(60)\n'
        'files.atomic_write(sys.argv[1], write)\n'), os.path.join(out, 'eval.json')])
    killed = os.path.join(out, 'eval.json.tmp%d' % writer.pid)
    deadline = time.time() + 30
    while not (os.path.exists(killed) and os.path.getsize(killed)) and time.time() < deadline:
        time.sleep(0.05)
    os.kill(writer.pid, signal.SIGKILL)
    writer.wait()
    assert os.path.getsize(killed) == 1
    empty = os.path.join(out, 'predictions.png.tmp%d' % dead_pid())
    open(empty, 'wb').close()
    live = subprocess.Popen(['sleep', '60'])
    try:
        kept = [os.path.join(out, 'eval.md.tmp%d' % live.pid),        # a live writer's
                os.path.join(out, 'notes.txt.tmp%d' % dead_pid())]    # not eval's
        for path in kept:
            open(path, 'wb').close()
        assert main(['eval', run, '--scenes', '2', '--max-context', '1',
                     '--mean-samples', '1']) == 0
        assert not os.path.exists(killed) and not os.path.exists(empty)
        assert all(os.path.exists(path) for path in kept)
    finally:
        live.kill()
        live.wait()
    assert_eval_files_match(out)


def test_a_run_trained_on_prior_samples_trains_and_evaluates_without_kl(
        synthetic_dataset, tmp_path, capsys):
    run = str(tmp_path / 'run')
    train(TrainConfig(dataset=synthetic_dataset, model=TINY_MODEL, batch_size=4, iterations=4,
                      log_interval=2, eval_interval=2, eval_scenes=8, objective='prior'),
          run, quiet=True)
    with open(os.path.join(run, 'log')) as f:
        log = json.load(f)
    assert all('main/kl' not in e and np.isfinite(e['main/nll']) for e in log)
    assert all(e['main/loss'] == e['main/nll'] for e in log)
    assert any('validation/main/prediction_mse' in e for e in log)
    assert main(['eval', run, '--scenes', '8', '--batch-size', '4', '--max-context', '2']) == 0
    with open(os.path.join(run, 'eval', 'eval.json')) as f:
        rows = json.load(f)['rows']
    assert all(r['kl'] is None and r['loss'] == r['nll'] > 0 for r in rows)
    assert '| — |' in open(os.path.join(run, 'eval', 'eval.md')).read()


def test_black_baseline_is_the_mean_of_squared_pixels():
    x = np.random.RandomState(0).uniform(size=(6, 3, 4, 4)).astype(np.float32)
    np.testing.assert_allclose(per_scene_mse(x, 0), (x ** 2).reshape(6, -1).mean(axis=1),
                               rtol=1e-6)
    np.testing.assert_allclose(per_scene_mse(x, 0).mean(), (x ** 2).mean(), rtol=1e-6)


def test_bootstrap_interval_contains_the_mean_and_narrows_with_more_scenes():
    rng = np.random.RandomState(1)
    few, many = rng.exponential(0.04, size=20), rng.exponential(0.04, size=2000)
    for values in (few, many):
        low, high = bootstrap_interval(values)
        assert low < values.mean() < high
    assert (np.subtract(*bootstrap_interval(many)[::-1])
            < np.subtract(*bootstrap_interval(few)[::-1]) / 4)
    assert bootstrap_interval([0.5]) == (0.5, 0.5)
    assert bootstrap_interval(few) == bootstrap_interval(few)  # seeded
    assert psnr(0.01) == 20.0 and psnr(0.001) == 30.0


def test_mean_image_baseline_comes_from_the_runs_training_data(synthetic_dataset, tmp_path):
    """A test-only dataset has no train split: the baseline is the run's own mean image."""
    run = str(tmp_path / 'run')
    train(TrainConfig(dataset=synthetic_dataset, model=TINY_MODEL, batch_size=4, iterations=2,
                      sigma_steps=2), run, quiet=True)
    other = str(tmp_path / 'other')
    images, viewpoints = shards.open_shard(synthetic_dataset, 'test', '0000')
    shards.write_shard(other, 'test', 0, np.asarray(images), np.asarray(viewpoints))
    assert main(['eval', run, '--dataset', other, '--scenes', '4', '--max-context', '2',
                 '--mean-samples', '2']) == 0
    with open(os.path.join(run, 'eval', 'eval.json')) as f:
        result = json.load(f)
    assert result['mean_image_from'] == synthetic_dataset
    assert all(r['mean_image_mse'] is not None for r in result['rows'])
    assert [r['K'] for r in result['rows']] == [0, 1, 2] and result['mean_samples'] == 2
