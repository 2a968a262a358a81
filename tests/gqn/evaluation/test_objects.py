"""Object-level evaluation: pooled MSE on the object and background pixels of the query views
(instance masks), the empty-scene baseline (the query view rendered without its objects)."""
import json
import os

import numpy as np
import pytest

from gqn import files
from gqn.cli import main
from gqn.data import shards
from gqn.data.shard_dataset import ShardDataset
from gqn.evaluation.evaluate import (
    PREDICTIONS,
    evaluate,
    markdown_table,
    masked_squared_errors,
    pixel_set_figures,
    pooled_bootstrap_interval,
    pooled_mse,
)
from gqn.testing.datasets import TINY_MODEL, write_synthetic_dataset
from gqn.training.config import TrainConfig
from gqn.training.trainer import train

#: The row fields of a dataset without masks (and without scene specs), as before masks.
PLAIN_ROW = {'K', 'model_mse', 'model_mse_ci', 'model_psnr', 'sample_mean_mse',
             'nearest_view_mse', 'mean_image_mse', 'ratio_to_mean_image', 'black_mse', 'nll',
             'kl', 'loss', 'bpp'}
OBJECT_ROW = {'object_fraction', 'object_mse', 'object_mse_ci', 'background_mse',
              'background_mse_ci', 'object_ratio_to_mean_image', 'background_ratio_to_mean_image',
              'object_ratio_to_empty_scene', 'empty_scene_mse', 'ratio_to_empty_scene'} | {
    '%s_%s_mse' % (name, part) for name in PREDICTIONS[1:] for part in ('object', 'background')}


def figures(prediction, truth, mask, seed=0):
    """Pooled object and background MSE and intervals of one prediction."""
    sums = masked_squared_errors(prediction, truth, mask)
    return {part: (pooled_mse(*sums[part]), pooled_bootstrap_interval(*sums[part], seed=seed))
            for part in ('object', 'background')}


def two_scenes():
    """2 scenes of 2 x 2 pixels, truth 0: scene 0 has one object pixel predicted 1 and three
    background pixels predicted 0.5; scene 1 two object pixels predicted 0.5 and two background
    pixels predicted 0 (every channel alike)."""
    truth = np.zeros((2, 3, 2, 2), np.float32)
    mask = np.array([[[1, 0], [0, 0]], [[2, 0], [1, 0]]], np.uint8)
    prediction = np.empty_like(truth)
    prediction[0] = np.where(mask[0] > 0, 1.0, 0.5)
    prediction[1] = np.where(mask[1] > 0, 0.5, 0.0)
    return prediction, truth, mask


def test_masked_sums_and_pooled_mse_on_two_hand_made_scenes():
    prediction, truth, mask = two_scenes()
    sums = masked_squared_errors(prediction, truth, mask)
    np.testing.assert_allclose(sums['object'][0], [3 * 1.0, 2 * 3 * 0.25])
    np.testing.assert_array_equal(sums['object'][1], [3, 6])       # pixels x channels
    np.testing.assert_allclose(sums['background'][0], [3 * 3 * 0.25, 0])
    np.testing.assert_array_equal(sums['background'][1], [9, 6])
    got = figures(prediction, truth, mask)
    # pooled: (3 + 1.5) / (3 + 6), not the mean of the scenes' 1.0 and 0.25
    assert got['object'][0] == pytest.approx(0.5)
    assert got['background'][0] == pytest.approx(2.25 / 15)
    for value, (low, high) in got.values():
        assert low <= value <= high
    # a scene resampled alone gives its own ratio: the interval spans 0.25..1.0 at most
    low, high = got['object'][1]
    assert 0.25 <= low < 0.5 < high <= 1.0


def test_a_prediction_right_on_the_objects_scores_zero_there_whatever_the_background():
    rng = np.random.RandomState(0)
    truth = rng.uniform(size=(5, 3, 8, 8)).astype(np.float32)
    mask = (rng.uniform(size=(5, 8, 8)) < 0.2).astype(np.uint8) * 3
    prediction = np.where(mask[:, None] > 0, truth, rng.uniform(size=truth.shape))
    got = figures(prediction, truth, mask)
    assert got['object'] == (0.0, (0.0, 0.0))
    assert got['background'][0] > 0.1
    # and the reverse: right on the background, wrong on the objects
    prediction = np.where(mask[:, None] > 0, 1 - truth, truth)
    got = figures(prediction, truth, mask)
    assert got['background'] == (0.0, (0.0, 0.0)) and got['object'][0] > 0.1


def test_a_scene_without_object_pixels_adds_nothing_to_the_object_figures():
    prediction, truth, mask = two_scenes()
    before = figures(prediction, truth, mask)
    prediction = np.concatenate([prediction, np.ones((1, 3, 2, 2), np.float32)])
    truth = np.concatenate([truth, np.zeros((1, 3, 2, 2), np.float32)])
    mask = np.concatenate([mask, np.zeros((1, 2, 2), np.uint8)])
    after = figures(prediction, truth, mask)
    assert after['object'] == before['object']                     # value and interval
    assert after['background'][0] == pytest.approx((2.25 + 12) / (15 + 12))
    # no object in any scene: no object figures
    none = figures(prediction[2:], truth[2:], mask[2:])
    assert none['object'] == (None, None) and none['background'][0] == 1.0


def test_pooled_interval_brackets_the_value_and_is_seeded():
    rng = np.random.RandomState(1)
    truth = rng.uniform(size=(40, 3, 8, 8))
    mask = rng.uniform(size=(40, 8, 8)) < rng.uniform(0, 0.5, size=(40, 1, 1))
    prediction = truth + rng.normal(0, rng.uniform(0.05, 0.3, size=(40, 1, 1, 1)),
                                    size=truth.shape)
    sums = masked_squared_errors(prediction, truth, mask)
    for part in ('object', 'background'):
        value = pooled_mse(*sums[part])
        low, high = pooled_bootstrap_interval(*sums[part])
        assert low < value < high
        assert pooled_bootstrap_interval(*sums[part]) == (low, high)
    # the figures of a row: the model's and each baseline's, ratios, the object fraction
    black = masked_squared_errors(0, truth, mask)
    row = pixel_set_figures({'model': sums, 'black': black, 'mean_image': black})
    assert row['object_fraction'] == pytest.approx(mask.mean())
    assert row['object_mse_ci'] == list(pooled_bootstrap_interval(*sums['object']))
    assert row['black_object_mse'] == pytest.approx((truth ** 2 * mask[:, None]).sum()
                                                    / (3 * mask.sum()))
    assert row['object_ratio_to_mean_image'] == pytest.approx(
        row['object_mse'] / row['black_object_mse'])
    assert row['empty_scene_object_mse'] is None and row['object_ratio_to_empty_scene'] is None
    assert row['nearest_view_background_mse'] is None


def test_evaluate_with_masks_scores_objects_and_background_apart(tmp_path):
    """The synthetic dataset with square objects: the object and background figures are
    consistent with the whole-image ones, the baselines' do not depend on K, and a dataset
    without masks gets the rows it always had."""
    from gqn.model.gqn import GQN
    from gqn.model.hyperparams import HyperParameters
    root = write_synthetic_dataset(str(tmp_path / 'objects'), objects=True)
    dataset = ShardDataset(root, 'test')
    assert dataset.has_masks and not dataset.has_specs
    np.random.seed(0)
    model = GQN(HyperParameters(image_size=16, **TINY_MODEL))
    baseline = np.full((3, 16, 16), 0.5, np.float32)
    result = evaluate(model, dataset, scenes=12, batch_size=5, baseline_image=baseline,
                      progress=False, mean_samples=2, max_context=2)
    assert result['masks'] is True and 'no stored scene specs' in result['empty_scene_note']
    orders = np.argsort(np.random.RandomState(0).random_sample((12, 5)), axis=1)
    masks = np.stack([dataset.get_masks(i)[orders[i, 0]] for i in range(12)]) > 0
    x_q = np.stack([dataset[i][0][orders[i, 0]] for i in range(12)])
    assert masks.any() and not masks.all(axis=(1, 2)).any()
    for row in result['rows']:
        assert set(row) == PLAIN_ROW | OBJECT_ROW
        f = row['object_fraction']
        assert f == pytest.approx(masks.mean())
        for name, whole in (('model', 'model_mse'), ('sample_mean', 'sample_mean_mse'),
                            ('mean_image', 'mean_image_mse'), ('black', 'black_mse'),
                            ('nearest_view', 'nearest_view_mse')):
            if row[whole] is None:  # the nearest view at K = 0
                assert row['nearest_view_object_mse'] is None and row['K'] == 0
                continue
            obj = row['object_mse' if name == 'model' else name + '_object_mse']
            bg = row['background_mse' if name == 'model' else name + '_background_mse']
            # every scene has as many pixels: the whole image's MSE is the pooled mix
            assert f * obj + (1 - f) * bg == pytest.approx(row[whole], rel=1e-5), name
        for part in ('object', 'background'):
            low, high = row[part + '_mse_ci']
            assert low <= row[part + '_mse'] <= high
        assert row['black_object_mse'] == pytest.approx(
            (x_q ** 2 * masks[:, None]).sum() / (3 * masks.sum()), rel=1e-5)
        assert row['mean_image_object_mse'] == pytest.approx(
            ((x_q - 0.5) ** 2 * masks[:, None]).sum() / (3 * masks.sum()), rel=1e-5)
        assert row['object_ratio_to_mean_image'] == pytest.approx(
            row['object_mse'] / row['mean_image_object_mse'])
        assert row['empty_scene_mse'] is None and row['empty_scene_object_mse'] is None
    table = markdown_table(result)
    # 3 rows, then the second table's header and 3 rows
    assert '| K | object MSE (95 % CI) |' in table and table.count('\n| ') == 3 + 1 + 3
    assert "On the objects' pixels (%.1f %% of the query views)" % (100 * masks.mean()) in table
    assert 'needs the empty-scene baseline, not rendered here' in table
    # without masks: the rows of before, nothing more, the same figures
    plain = str(tmp_path / 'plain')
    for name in shards.list_shards(root, 'test'):
        images, viewpoints = shards.open_shard(root, 'test', name)
        shards.write_shard(plain, 'test', int(name), np.asarray(images), np.asarray(viewpoints))
    np.random.seed(0)
    model = GQN(HyperParameters(image_size=16, **TINY_MODEL))
    without = evaluate(model, ShardDataset(plain, 'test'), scenes=12, batch_size=5,
                       baseline_image=baseline, progress=False, mean_samples=2, max_context=2)
    assert without['masks'] is False
    for row, with_masks in zip(without['rows'], result['rows']):
        assert set(row) == PLAIN_ROW
        assert row == {key: with_masks[key] for key in PLAIN_ROW}
    assert '| K | object MSE' not in markdown_table(without)
    assert "objects' pixels" not in markdown_table(without)


# the empty scene, on scenes the real renderer draws

ROOMS = ['train_scenes=0', 'test_scenes=6', 'scenes_per_shard=3', 'views=4', 'image_size=16']


@pytest.fixture(scope='module')
def rooms(tmp_path_factory):
    """A rooms dataset of 6 scenes, 16 px, rendered with its instance masks, and a copy
    without them."""
    from renderer import render_dataset
    from renderer.recipe import load_recipe
    name, recipe = load_recipe('rooms_ring_camera', ROOMS)
    assert recipe['masks'] and not recipe['shadows'] and not recipe['antialias']
    root = str(tmp_path_factory.mktemp('rooms') / 'ds')
    render_dataset(name, recipe, root, workers=1, progress=False, log=lambda s: None)
    manifest = shards.read_manifest(root)
    plain = str(tmp_path_factory.mktemp('rooms') / 'without_masks')
    for name in shards.list_shards(root, 'test'):
        images, viewpoints = (np.asarray(a) for a in shards.open_shard(root, 'test', name))
        specs = shards.read_scene_specs(shards.shard_paths(root, 'test', int(name))[2])
        shards.write_shard(plain, 'test', int(name), images, viewpoints, specs)
    manifest['recipe']['masks'] = False
    files.atomic_write_json(os.path.join(plain, 'manifest.json'), manifest)
    return root, plain


def untrained_model():
    from gqn.model.gqn import GQN
    from gqn.model.hyperparams import HyperParameters
    np.random.seed(0)
    return GQN(HyperParameters(image_size=16, **TINY_MODEL))


def test_the_empty_scene_is_a_perfect_background_with_nothing_in_it(rooms, monkeypatch):
    """Rendered with one renderer, once per scene (not per K): no error on the background,
    the objects' whole error on their pixels."""
    import renderer.dataset
    root, _ = rooms
    dataset = ShardDataset(root, 'test')
    assert dataset.has_masks and dataset.has_specs
    calls = {'open': 0, 'close': 0, 'render': 0}
    open_view_renderer, render_viewpoints = (renderer.dataset.open_view_renderer,
                                             renderer.dataset.render_viewpoints)

    def counted_open(manifest):
        calls['open'] += 1
        view_renderer = open_view_renderer(manifest)
        close = view_renderer.close

        def counted_close():
            calls['close'] += 1
            close()
        view_renderer.close = counted_close
        return view_renderer

    def counted_render(*args, **kwargs):
        calls['render'] += 1
        assert kwargs.get('view_renderer') is not None
        return render_viewpoints(*args, **kwargs)
    monkeypatch.setattr(renderer.dataset, 'open_view_renderer', counted_open)
    monkeypatch.setattr(renderer.dataset, 'render_viewpoints', counted_render)
    result = evaluate(untrained_model(), dataset, batch_size=4, progress=False, mean_samples=1)
    assert calls == {'open': 1, 'close': 1, 'render': 6}
    assert result['empty_scene_note'] is None and len(result['rows']) == 4
    for row in result['rows']:
        assert row['empty_scene_object_mse'] > 0.001
        assert row['empty_scene_background_mse'] == 0
        f = row['object_fraction']
        assert 0 < f < 0.5
        assert row['empty_scene_mse'] == pytest.approx(f * row['empty_scene_object_mse'],
                                                       rel=1e-5)
        assert row['object_ratio_to_empty_scene'] == pytest.approx(
            row['object_mse'] / row['empty_scene_object_mse'])
        assert row['ratio_to_empty_scene'] == pytest.approx(
            row['model_mse'] / row['empty_scene_mse'])
        assert row['mean_image_object_mse'] is None  # no baseline image given
    assert len({row['empty_scene_mse'] for row in result['rows']}) == 1  # the same every K
    # asked not to: not rendered, said so
    skipped = evaluate(untrained_model(), dataset, max_context=1, progress=False,
                       mean_samples=1, empty_scene=False)
    assert skipped['empty_scene_note'] == 'not asked for'
    assert all(r['empty_scene_mse'] is None and r['empty_scene_object_mse'] is None
               and r['object_mse'] == pytest.approx(q['object_mse'])
               for r, q in zip(skipped['rows'], result['rows']))
    assert calls['open'] == 1


def test_the_empty_scene_without_masks_scores_the_whole_image(rooms):
    _, plain = rooms
    dataset = ShardDataset(plain, 'test')
    assert not dataset.has_masks and dataset.has_specs and dataset.manifest is not None
    result = evaluate(untrained_model(), dataset, max_context=2, progress=False, mean_samples=1)
    assert result['masks'] is False and result['empty_scene_note'] is None
    for row in result['rows']:
        assert set(row) == PLAIN_ROW | {'empty_scene_mse', 'ratio_to_empty_scene'}
        assert row['empty_scene_mse'] > 0
    table = markdown_table(result)
    assert 'The empty scene (the objects removed) scores' in table
    assert '| K | object MSE' not in table


def assert_eval_files_match(out):
    """eval.json names the bytes of the eval.md and predictions.png beside it."""
    import hashlib
    with open(os.path.join(out, 'eval.json')) as f:
        named = json.load(f)['files']
    for name, digest in named.items():
        with open(os.path.join(out, name), 'rb') as f:
            assert hashlib.sha256(f.read()).hexdigest() == digest, name


def test_gqn_eval_writes_the_object_figures(rooms, synthetic_dataset, tmp_path):
    """eval.json carries the object fields, eval.md the second table and the sentence;
    --no-empty-scene skips the re-render."""
    root, _ = rooms
    run = str(tmp_path / 'run')
    train(TrainConfig(dataset=synthetic_dataset, model=TINY_MODEL, batch_size=4, iterations=2,
                      sigma_steps=2), run, quiet=True)
    assert main(['eval', run, '--dataset', root, '--max-context', '2',
                 '--mean-samples', '1']) == 0
    out = os.path.join(run, 'eval')
    with open(os.path.join(out, 'eval.json')) as f:
        result = json.load(f)
    assert result['masks'] is True and result['empty_scene_note'] is None
    for row in result['rows']:
        assert set(row) == PLAIN_ROW | OBJECT_ROW
        assert row['empty_scene_object_mse'] > 0 and row['mean_image_object_mse'] > 0
    md = open(os.path.join(out, 'eval.md')).read()
    assert '| K | object MSE (95 % CI) | × mean image (objects) | × empty scene (objects) |' in md
    assert "On the objects' pixels" in md and "× the empty scene's" in md
    assert_eval_files_match(out)
    assert main(['eval', run, '--dataset', root, '--max-context', '1', '--mean-samples', '1',
                 '--no-empty-scene']) == 0
    with open(os.path.join(out, 'eval.json')) as f:
        result = json.load(f)
    assert result['empty_scene_note'] == 'not asked for'
    assert all(row['empty_scene_object_mse'] is None for row in result['rows'])
    assert_eval_files_match(out)


def test_the_quality_benchmark_keeps_the_object_fields(tmp_path):
    """bench/quality.py's figures(): the object and background fields in each row and in K5,
    none for a held-out set without masks or specs."""
    import importlib.util
    path = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__))))), 'bench', 'quality.py')
    spec = importlib.util.spec_from_file_location('quality', path)
    quality = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(quality)
    root = write_synthetic_dataset(str(tmp_path / 'objects'), objects=True, views=6)
    result = evaluate(untrained_model(), ShardDataset(root, 'test'), scenes=8,
                      baseline_image=np.full((3, 16, 16), 0.5, np.float32), progress=False,
                      mean_samples=1)
    got = quality.figures(777, 1.0, result)
    assert got['masks'] is True and [row['K'] for row in got['rows']] == [0, 1, 2, 3, 4, 5]
    assert got['K5'] == got['rows'][5]
    for row, full in zip(got['rows'], result['rows']):
        assert set(row) == set(quality.ROW_KEYS + quality.OBJECT_KEYS)
        assert row == {key: full[key] for key in row}
    result['rows'] = [{key: row[key] for key in quality.ROW_KEYS} for row in result['rows']]
    result['masks'] = False
    assert set(quality.figures(777, 1.0, result)['K5']) == set(quality.ROW_KEYS)
