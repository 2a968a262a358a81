"""gqn.data.shards.check_dataset on hand-made datasets (with and without a manifest)."""
import os

import numpy as np
import pytest

from gqn import files
from gqn.data import shards
from gqn.errors import GQNError


def _viewpoints(scenes, views, rng):
    yaw, pitch = rng.uniform(-3, 3, (2, scenes, views))
    pos = rng.normal(size=(scenes, views, 3))
    return np.concatenate([pos, np.stack([np.cos(yaw), np.sin(yaw), np.cos(pitch),
                                          np.sin(pitch)], -1)], -1).astype(np.float32)


def _write(root, counts=(('train', (4, 4, 2)), ('test', (3,))), views=3, size=8, manifest=True):
    rng = np.random.default_rng(0)
    for split, per in counts:
        for i, n in enumerate(per):
            shards.write_shard(root, split, i, np.zeros((n, views, size, size, 3), np.uint8),
                               _viewpoints(n, views, rng), [{} for _ in range(n)])
    if manifest:
        files.atomic_write_json(os.path.join(root, shards.MANIFEST), {
            'image_size': size, 'views': views, 'scenes_per_shard': 4,
            'splits': {'train': {'scenes': 10, 'shards': 3}, 'test': {'scenes': 3, 'shards': 1}}})
    return root


@pytest.mark.parametrize('manifest', [True, False])
def test_valid_dataset(tmp_path, manifest):
    summary = shards.check_dataset(_write(str(tmp_path), manifest=manifest))
    assert summary == {'splits': {'test': {'shards': 1, 'scenes': 3},
                                  'train': {'shards': 3, 'scenes': 10}},
                       'views': 3, 'height': 8, 'width': 8}


def test_bad_viewpoints_named(tmp_path):
    root = _write(str(tmp_path))
    path = os.path.join(root, 'train', 'viewpoints', '0001.npy')
    v = np.load(path)
    v[1, 2, 3] = 0.5  # cos yaw no longer pairs with sin yaw
    np.save(path, v)
    with pytest.raises(GQNError, match='train/viewpoints/0001.npy.*unit-norm'):
        shards.check_dataset(root)
    v[1, 2, 3] = np.nan
    np.save(path, v)
    with pytest.raises(GQNError, match='train/viewpoints/0001.npy.*non-finite'):
        shards.check_dataset(root)


def test_counts_against_manifest(tmp_path):
    root = _write(str(tmp_path), counts=(('train', (4, 4, 1)), ('test', (3,))))
    with pytest.raises(GQNError, match='train/images/0002.npy: 1 scenes, the manifest implies 2'):
        shards.check_dataset(root)
    os.remove(os.path.join(root, 'train', 'images', '0002.npy'))
    with pytest.raises(GQNError, match='expected shards 0000..0002'):
        shards.check_dataset(root)


def test_bad_dtype_shape_and_scenes(tmp_path):
    root = _write(str(tmp_path), manifest=False)
    np.save(os.path.join(root, 'test', 'images', '0000.npy'), np.zeros((3, 3, 8, 8, 3), np.float32))
    with pytest.raises(GQNError, match='test/images/0000.npy: expected uint8'):
        shards.check_dataset(root)
    root = _write(str(tmp_path / 'b'), manifest=False)
    np.save(os.path.join(root, 'train', 'images', '0001.npy'), np.zeros((4, 3, 9, 8, 3), np.uint8))
    with pytest.raises(GQNError, match='train/images/0001.npy.*differs'):
        shards.check_dataset(root)
    root = _write(str(tmp_path / 'c'))
    files.atomic_write_json(os.path.join(root, 'test', 'scenes', '0000.json'), [{}])
    with pytest.raises(GQNError, match='test/scenes/0000.json'):
        shards.check_dataset(root)
    with pytest.raises(GQNError, match='no dataset'):
        shards.check_dataset(str(tmp_path / 'empty'))


def _write_masks(root, counts=(('train', (4, 4, 2)), ('test', (3,))), views=3, size=8, top=1):
    for split, per in counts:
        for i, n in enumerate(per):
            ids = np.zeros((n, views, size, size), np.uint8)
            ids[..., :2, :2] = top
            path = shards.mask_path(root, split, i)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            files.atomic_save_npy(path, ids)
    return root


def _recipe_masks(root, masks):
    path = os.path.join(root, shards.MANIFEST)
    manifest = files.read_json(path, 'manifest')
    manifest['recipe'] = {'masks': masks} if masks is not None else {}
    files.atomic_write_json(path, manifest)
    return manifest


def test_masks_checked_where_present(tmp_path):
    root = _write_masks(_write(str(tmp_path)))
    assert shards.check_dataset(root)['splits']['train'] == {'shards': 3, 'scenes': 10}
    # ids against the largest id of each scene's spec
    assert shards.check_dataset(root, max_object_id=lambda spec: 1)
    with pytest.raises(GQNError, match='test/masks/0000.npy: scene 0 has object id 1, its '
                                       'scene spec has ids up to 0'):
        shards.check_dataset(root, max_object_id=lambda spec: 0)
    path = shards.mask_path(root, 'test', 0)
    np.save(path, np.zeros((3, 3, 8, 8), np.uint16))
    with pytest.raises(GQNError, match=r'test/masks/0000.npy: expected uint8 \(scenes, views, '
                                       r'H, W\) = \(3, 3, 8, 8\) as the images, got uint16'):
        shards.check_dataset(root)
    np.save(path, np.zeros((3, 3, 8, 8, 1), np.uint8))
    with pytest.raises(GQNError, match='test/masks/0000.npy: expected uint8'):
        shards.check_dataset(root)
    with open(path, 'wb') as f:
        f.write(b'not an array')
    with pytest.raises(GQNError, match='test/masks/0000.npy: not a .npy file'):
        shards.check_dataset(root)


@pytest.mark.parametrize('masks', [True, False, None])
def test_a_missing_mask_file_is_an_error_only_when_the_recipe_has_masks(tmp_path, masks):
    root = _write_masks(_write(str(tmp_path)))
    manifest = _recipe_masks(root, masks)
    assert shards.manifest_masks(manifest) is (masks is True)
    os.remove(shards.mask_path(root, 'train', 2))
    assert not shards.shard_exists(root, 'train', 2, with_masks=True)
    assert shards.shard_exists(root, 'train', 2, with_scenes=True)
    if masks:
        with pytest.raises(GQNError, match=r'train/masks/0002.npy: missing \(the recipe in '
                                           r'manifest.json has masks = true\)'):
            shards.check_dataset(root)
    else:  # masks = false, or a manifest from before masks: masks where present
        shards.check_dataset(root)
