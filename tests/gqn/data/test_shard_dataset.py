import os

import numpy as np
import pytest

from gqn.data import shards
from gqn.data.context_query import ContextQuerySampler
from gqn.data.shard_dataset import ShardDataset
from gqn.errors import GQNError
from gqn.model.hyperparams import HyperParameters


def test_examples_are_float_chw_in_unit_range(synthetic_dataset):
    ds = ShardDataset(synthetic_dataset, 'train')
    assert len(ds) == 24 and ds.views == 5 and ds.image_size == 16 and ds.viewpoint_size == 7
    x, v = ds[9]
    raw = np.load(os.path.join(synthetic_dataset, 'train', 'images', '0001.npy'))[1]
    assert x.dtype == np.float32 and x.shape == (5, 3, 16, 16)
    np.testing.assert_allclose(x, raw.transpose(0, 3, 1, 2) / 255, rtol=1e-6)
    assert v.dtype == np.float32 and v.shape == (5, 7)


def test_shards_are_memory_mapped(synthetic_dataset):
    ds = ShardDataset(synthetic_dataset, 'train')
    assert all(isinstance(a, np.memmap) for a in ds._images)


def test_no_manifest_states_assumptions(synthetic_dataset):
    ds = ShardDataset(synthetic_dataset, 'train')
    assert len(ds.assumptions) == 1 and '5 views of 16x16' in ds.assumptions[0]


def test_rank_share_reads_only_its_shards(synthetic_dataset):
    ds = ShardDataset(synthetic_dataset, 'train', ['0001'])
    np.testing.assert_array_equal(ds[0][0], ShardDataset(synthetic_dataset, 'train')[8][0])


def test_mismatch_with_hyperparameters_is_a_clear_error(synthetic_dataset):
    ds = ShardDataset(synthetic_dataset, 'train')
    with pytest.raises(GQNError, match='images are 16 px but the model expects image_size=32'):
        ds.check_compatible(HyperParameters(image_size=32))
    ds.check_compatible(HyperParameters(image_size=16))


def test_truncated_shard_is_named(synthetic_dataset):
    path = os.path.join(synthetic_dataset, 'train', 'images', '0002.npy')
    with open(path, 'r+b') as f:
        f.truncate(os.path.getsize(path) - 100)
    with pytest.raises(GQNError, match='0002.npy: corrupt or truncated'):
        ShardDataset(synthetic_dataset, 'train')


def test_corrupt_header_is_named(synthetic_dataset):
    path = os.path.join(synthetic_dataset, 'test', 'viewpoints', '0000.npy')
    with open(path, 'r+b') as f:
        f.write(b'garbage!')
    with pytest.raises(GQNError, match='viewpoints/0000.npy: not a .npy file'):
        ShardDataset(synthetic_dataset, 'test')


def test_sampler_context_excludes_query():
    sampler = ContextQuerySampler(views=6, seed=3)
    seen_k = set()
    for _ in range(200):
        context, query = sampler.sample_indices(8)
        seen_k.add(context.shape[1])
        for c, q in zip(context, query):
            assert q not in c and len(set(c)) == len(c)
    assert seen_k == {1, 2, 3, 4, 5}


def test_sampler_overlap_and_max_context():
    sampler = ContextQuerySampler(views=4, max_context=2, allow_overlap=True, seed=0)
    ks, overlap = set(), False
    for _ in range(300):
        context, query = sampler.sample_indices(8)
        ks.add(context.shape[1])
        overlap |= any(q in c for c, q in zip(context, query))
    assert ks == {1, 2} and overlap
    with pytest.raises(GQNError, match='max_context must be in 1..3'):
        ContextQuerySampler(views=4, max_context=4)


def test_sampler_several_queries_per_scene(synthetic_dataset):
    sampler = ContextQuerySampler(views=5, queries=2, seed=3)
    ks = set()
    for _ in range(100):
        context, query = sampler.sample_indices(8)
        ks.add(context.shape[1])
        assert query.shape == (8, 2)
        for c, q in zip(context, query):
            assert len(set(c) | set(q)) == len(c) + 2  # all distinct views
    assert ks == {1, 2, 3}  # K + Q <= views
    ds = ShardDataset(synthetic_dataset, 'train')
    scenes = [ds[i] for i in range(4)]
    batch = ContextQuerySampler(5, queries=2, seed=1)(scenes)
    context, query = ContextQuerySampler(5, queries=2, seed=1).sample_indices(4)
    assert batch['x_q'].shape == (4, 2, 3, 16, 16) and batch['v_q'].shape == (4, 2, 7)
    for i in range(4):
        np.testing.assert_array_equal(batch['x_q'][i], scenes[i][0][query[i]])
        np.testing.assert_array_equal(batch['v_c'][i], scenes[i][1][context[i]])
    with pytest.raises(GQNError, match='at least 4 views to split into context and 3 queries'):
        ContextQuerySampler(views=3, queries=3)
    with pytest.raises(GQNError, match='max_context must be in 1..3'):
        ContextQuerySampler(views=5, queries=2, max_context=4)


def test_sampler_batch_matches_indices(synthetic_dataset):
    ds = ShardDataset(synthetic_dataset, 'train')
    scenes = [ds[i] for i in range(4)]
    batch = ContextQuerySampler(5, seed=1)(scenes)
    context, query = ContextQuerySampler(5, seed=1).sample_indices(4)
    k = context.shape[1]
    assert batch['x_c'].shape == (4, k, 3, 16, 16) and batch['v_c'].shape == (4, k, 7)
    assert batch['x_q'].shape == (4, 3, 16, 16) and batch['v_q'].shape == (4, 7)
    for i in range(4):
        np.testing.assert_array_equal(batch['x_q'][i], scenes[i][0][query[i]])
        np.testing.assert_array_equal(batch['v_c'][i], scenes[i][1][context[i]])


@pytest.mark.parametrize('overlap', [False, True])
def test_raw_scenes_give_the_same_batch_bit_for_bit(synthetic_dataset, overlap):
    """Training reads uint8 scenes and converts only the views it uses, after the copy
    to the device: the batch is the one the float scenes give."""
    floats, raw = (ShardDataset(synthetic_dataset, 'train', raw=r) for r in (False, True))
    x, _ = raw[3]
    assert x.dtype == np.uint8 and x.shape == (5, 16, 16, 3)
    a = ContextQuerySampler(5, seed=4, allow_overlap=overlap)([floats[i] for i in range(8)])
    b = ContextQuerySampler(5, seed=4, allow_overlap=overlap)([raw[i] for i in range(8)])
    for key in ('x_c', 'v_c', 'x_q', 'v_q'):
        assert a[key].dtype == b[key].dtype == np.float32 and b[key].flags.c_contiguous
        np.testing.assert_array_equal(a[key], b[key])


def test_non_finite_viewpoints_are_refused_by_every_command(synthetic_dataset, tmp_path, capsys):
    from gqn.cli import main
    from gqn.testing.datasets import TINY_MODEL
    from gqn.training.config import TrainConfig
    from gqn.training.trainer import train
    run = str(tmp_path / 'run')
    train(TrainConfig(dataset=synthetic_dataset, model=TINY_MODEL, batch_size=4, iterations=2,
                      eval_scenes=4), run, quiet=True)
    path = os.path.join(synthetic_dataset, 'test', 'viewpoints', '0000.npy')
    v = np.load(path)
    v[:] = np.nan
    np.save(path, v)
    with pytest.raises(GQNError, match='0000.npy: non-finite viewpoint values'):
        ShardDataset(synthetic_dataset, 'test')
    capsys.readouterr()
    assert main(['eval', run, '--scenes', '4']) == 2
    assert main(['gif', run, '--frames', '2', '--out', str(tmp_path / 'a.gif')]) == 2
    assert main(['train', '--out', run, '--resume', '--iterations', '4', '--quiet']) == 2
    err = capsys.readouterr().err
    assert err.count('non-finite viewpoint values') == 3 and 'Traceback' not in err


def _manifest(root, **fields):
    import json
    with open(os.path.join(root, shards.MANIFEST), 'w') as f:
        json.dump(fields, f)


def test_incomplete_datasets_are_refused_with_how_to_finish_them(synthetic_dataset):
    _manifest(synthetic_dataset, complete=False, splits={'train': {'shards': 3, 'scenes': 24}})
    with pytest.raises(GQNError, match='import-deepmind'):
        ShardDataset(synthetic_dataset, 'train')
    _manifest(synthetic_dataset, splits={'train': {'shards': 5, 'scenes': 40}})
    with pytest.raises(GQNError, match='3 of 5 train shards .*`gqn render`'):
        ShardDataset(synthetic_dataset, 'train')
    _manifest(synthetic_dataset, splits={'train': {'shards': 3, 'scenes': 24}})
    assert len(ShardDataset(synthetic_dataset, 'train')) == 24


def test_a_manifest_that_is_not_an_object_is_named(synthetic_dataset):
    import json
    with open(os.path.join(synthetic_dataset, shards.MANIFEST), 'w') as f:
        json.dump([1, 2], f)
    with pytest.raises(GQNError, match='not a dataset manifest'):
        ShardDataset(synthetic_dataset, 'train')


def test_a_render_in_progress_is_refused(synthetic_dataset):
    with open(os.path.join(synthetic_dataset, shards.IN_PROGRESS), 'w') as f:
        f.write('{}')
    with pytest.raises(GQNError, match='render in progress or interrupted.*`gqn render`'):
        ShardDataset(synthetic_dataset, 'train')


def test_an_empty_shard_is_named(synthetic_dataset):
    np.save(os.path.join(synthetic_dataset, 'train', 'images', '0003.npy'),
            np.zeros((0, 5, 16, 16, 3), np.uint8))
    np.save(os.path.join(synthetic_dataset, 'train', 'viewpoints', '0003.npy'),
            np.zeros((0, 5, 7), np.float32))
    with pytest.raises(GQNError, match='0003.npy: a shard with no scenes'):
        ShardDataset(synthetic_dataset, 'train')


def test_a_recipe_or_preset_that_is_not_utf8_is_named(tmp_path, capsys):
    from gqn.cli import main
    bad = tmp_path / 'bad.toml'
    bad.write_bytes(b'family = "shepard_matzler"\n# \xff\xfe\n')
    assert main(['render', str(bad), '--out', str(tmp_path / 'out'), '--no-progress']) == 2
    assert main(['train', str(bad), '--out', str(tmp_path / 'run')]) == 2
    err = capsys.readouterr().err
    assert err.count('bad.toml') == 2 and 'Traceback' not in err


def _with_masks(root, split='train', broken=None):
    """Give every shard of ``split`` masks: scene ``i`` of the split has id ``i % 256`` in
    its first pixel of every view; shard ``broken`` gets a mask file of the wrong shape."""
    first = 0
    for name in shards.list_shards(root, split):
        images = shards.open_shard(root, split, name)[0]
        masks = np.zeros(images.shape[:4], np.uint8)
        masks[:, :, 0, 0] = (first + np.arange(len(images)))[:, None] % 256
        first += len(images)
        if name == broken:
            masks = masks[..., 1:]
        path = shards.mask_path(root, split, int(name))
        os.makedirs(os.path.dirname(path), exist_ok=True)
        np.save(path, masks)


def test_masks_are_read_on_request(synthetic_dataset):
    plain = ShardDataset(synthetic_dataset, 'train')
    assert not plain.has_masks
    with pytest.raises(GQNError, match='train/masks/0000.npy: no instance masks'):
        plain.get_masks(0)
    _with_masks(synthetic_dataset)
    ds = ShardDataset(synthetic_dataset, 'train')
    assert ds.has_masks and not ShardDataset(synthetic_dataset, 'test').has_masks
    for i in (0, 9, 23):
        m = ds.get_masks(i)
        assert m.dtype == np.uint8 and m.shape == (5, 16, 16)
        assert (m[:, 0, 0] == i).all() and m.sum() == 5 * i
    # a reader that ignores masks sees the same scenes as before
    for i in (0, 9, 23):
        for a, b in zip(ds[i], plain[i]):
            np.testing.assert_array_equal(a, b)
    assert shards.check_dataset(synthetic_dataset)['splits']['train']['scenes'] == 24


def test_a_bad_mask_file_fails_only_the_reader_that_asks_for_it(synthetic_dataset):
    _with_masks(synthetic_dataset, broken='0001')
    ds = ShardDataset(synthetic_dataset, 'train')  # training never opens the masks
    assert ds[9][0].shape == (5, 3, 16, 16) and ds.get_masks(0).shape == (5, 16, 16)
    with pytest.raises(GQNError, match=r'train/masks/0001.npy: expected uint8 \(scenes, views, '
                                       r'H, W\) = \(8, 5, 16, 16\) as the images, '
                                       r'got uint8 \(8, 5, 16, 15\)'):
        ds.get_masks(9)
    with pytest.raises(GQNError, match='train/masks/0001.npy: expected uint8'):
        shards.check_dataset(synthetic_dataset)
