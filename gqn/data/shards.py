"""The on-disk dataset format shared by the renderer, importers and loaders.

Layout (readable by existing GQN ``.npy`` loaders)::

    <root>/manifest.json                      what produced the data (optional)
    <root>/<split>/images/NNNN.npy            uint8   (scenes, views, H, W, 3)
    <root>/<split>/viewpoints/NNNN.npy        float32 (scenes, views, 7)
    <root>/<split>/scenes/NNNN.json           scene specs for re-rendering (optional)
    <root>/<split>/masks/NNNN.npy             uint8   (scenes, views, H, W) (optional)

A mask holds each pixel's object id: 0 for the background (sky, floor, walls),
``i`` for the scene's ``i``-th object (:func:`renderer.scene_spec.object_ids`).
Readers that know only images and viewpoints ignore ``scenes/`` and ``masks/``.

A viewpoint is ``(x, y, z, cos yaw, sin yaw, cos pitch, sin pitch)``.

Every file is written under a temporary name and renamed into place, and the
image file of a shard is written last, so a shard exists exactly when its
image file does; an interrupted writer leaves only ``*.tmp*`` files behind,
which the next run removes.
"""
import os
import re

import numpy as np

from gqn.errors import GQNError
from gqn.files import atomic_save_npy, atomic_write_json, read_json

MANIFEST = 'manifest.json'
IMAGES = 'images'
VIEWPOINTS = 'viewpoints'
SCENES = 'scenes'
MASKS = 'masks'
VIEWPOINT_SIZE = 7
_SHARD_RE = re.compile(r'^(\d+)\.npy$')


def shard_name(index):
    """File stem of shard ``index``: ``'0007'`` (at least four digits)."""
    return '%04d' % index


def shard_paths(root, split, index):
    """Paths ``(images, viewpoints, scenes)`` of one shard."""
    name = shard_name(index)
    d = os.path.join(root, split)
    return (os.path.join(d, IMAGES, name + '.npy'),
            os.path.join(d, VIEWPOINTS, name + '.npy'),
            os.path.join(d, SCENES, name + '.json'))


def mask_path(root, split, index):
    """Path of the instance masks of one shard (``<split>/masks/NNNN.npy``)."""
    return os.path.join(root, split, MASKS, shard_name(index) + '.npy')


def write_shard(root, split, index, images, viewpoints, scenes=None, masks=None):
    """Write one shard atomically; the image file goes last.

    Args:
        images (numpy.ndarray): uint8 ``(scenes, views, H, W, 3)``.
        viewpoints (numpy.ndarray): float32 ``(scenes, views, 7)``.
        scenes (list or None): one JSON-serialisable spec per scene.
        masks (numpy.ndarray or None): uint8 ``(scenes, views, H, W)`` object ids.
    """
    images = np.asarray(images)
    viewpoints = np.asarray(viewpoints)
    if images.dtype != np.uint8 or images.ndim != 5 or images.shape[-1] != 3:
        raise ValueError('images must be uint8 (scenes, views, H, W, 3), got %s %s'
                         % (images.dtype, images.shape))
    if (viewpoints.dtype != np.float32
            or viewpoints.shape != images.shape[:2] + (VIEWPOINT_SIZE,)):
        raise ValueError('viewpoints must be float32 %s, got %s %s' % (
            images.shape[:2] + (VIEWPOINT_SIZE,), viewpoints.dtype, viewpoints.shape))
    img_path, vp_path, scene_path = shard_paths(root, split, index)
    for p in (img_path, vp_path) + ((scene_path,) if scenes is not None else ()):
        os.makedirs(os.path.dirname(p), exist_ok=True)
    if scenes is not None:
        if len(scenes) != images.shape[0]:
            raise ValueError('one scene spec per scene expected')
        atomic_write_json(scene_path, scenes)
    if masks is not None:
        masks = np.asarray(masks)
        if masks.dtype != np.uint8 or masks.shape != images.shape[:4]:
            raise ValueError('masks must be uint8 %s, got %s %s'
                             % (images.shape[:4], masks.dtype, masks.shape))
        path = mask_path(root, split, index)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        atomic_save_npy(path, masks)
    atomic_save_npy(vp_path, viewpoints)
    atomic_save_npy(img_path, images)


def shard_exists(root, split, index, with_scenes=False, with_masks=False):
    """Whether shard ``index`` was written completely (with its scene specs and its instance
    masks when asked)."""
    paths = shard_paths(root, split, index)
    needed = (paths if with_scenes else paths[:2]) + (
        (mask_path(root, split, index),) if with_masks else ())
    return all(os.path.exists(p) for p in needed)


def manifest_masks(manifest):
    """Whether a dataset's shards have instance masks by its manifest: the recipe's ``masks``
    key (``False`` for a manifest without it: rendered before masks, or imported)."""
    recipe = manifest.get('recipe') if isinstance(manifest, dict) else None
    return isinstance(recipe, dict) and recipe.get('masks') is True


def list_splits(root):
    """Names of the splits (sub-folders holding ``images/``) under ``root``."""
    if not os.path.isdir(root):
        return []
    return sorted(d for d in os.listdir(root)
                  if os.path.isdir(os.path.join(root, d, IMAGES)))


def list_shards(root, split):
    """Sorted stems (``'0000'``, ...) of the image files of a split."""
    d = os.path.join(root, split, IMAGES)
    if not os.path.isdir(d):
        raise GQNError('no %s split in %s (expected %s)' % (split, root, d))
    names = [m.group(1) for m in map(_SHARD_RE.match, os.listdir(d)) if m]
    return sorted(names, key=lambda s: (int(s), s))


def read_manifest(root):
    """The manifest dict, or ``None`` when the dataset has none."""
    path = os.path.join(root, MANIFEST)
    if not os.path.exists(path):
        return None
    manifest = read_json(path, 'manifest')
    if not isinstance(manifest, dict) or not isinstance(manifest.get('splits', {}), dict):
        raise GQNError('%s: not a dataset manifest (a JSON object with a "splits" object)'
                       % path)
    return manifest


#: Written by ``gqn render`` when it starts, replaced by the manifest once every shard exists.
IN_PROGRESS = 'render-in-progress.json'


def check_complete(root, split, manifest):
    """Raise :class:`GQNError` when ``split`` of the dataset is not all there: an import that
    failed or is running (``complete: false``), or a render in progress or interrupted (its
    marker file, or fewer shards than the manifest lists). ``manifest`` may be ``None``."""
    if os.path.exists(os.path.join(root, IN_PROGRESS)):
        raise GQNError('%s is incomplete (a render in progress or interrupted): run the same '
                       '`gqn render` command again to finish it' % root)
    if manifest is None:
        return
    if manifest.get('complete') is False:
        raise GQNError('%s is incomplete (an import that stopped or is still running): run '
                       'the same `gqn import-deepmind` command again to finish it (`gqn check '
                       '%s` says what is missing)' % (root, root))
    expected = manifest.get('splits', {}).get(split)
    if isinstance(expected, dict) and isinstance(expected.get('shards'), int):
        found = len([n for n in list_shards(root, split) if shard_exists(root, split, int(n))])
        if found < expected['shards']:
            raise GQNError('%s is incomplete: %d of %d %s shards (a render in progress or '
                           'interrupted): run the same `gqn render` command again to finish it'
                           % (root, found, expected['shards'], split))


def load_array(path, mmap=True):
    """``np.load`` without pickle, memory-mapped; errors name the file."""
    if not os.path.exists(path):
        raise GQNError('%s: missing' % path)
    try:
        with open(path, 'rb') as f:
            magic = f.read(len(np.lib.format.MAGIC_PREFIX))
    except OSError as e:
        raise GQNError('cannot read %s (%s)' % (path, e.strerror or e)) from None
    if magic != np.lib.format.MAGIC_PREFIX:
        link = ', a link to %s' % os.path.realpath(path) if os.path.islink(path) else ''
        raise GQNError('%s: not a .npy file (it does not start with the .npy magic bytes%s)'
                       % (path, link))
    try:
        return np.load(path, mmap_mode='r' if mmap else None, allow_pickle=False)
    except (OSError, ValueError, EOFError) as e:
        raise GQNError('%s: corrupt or truncated .npy file (%s)' % (path, e)) from None


def open_shard(root, split, name):
    """Memory-map one shard and check its arrays agree.

    Returns:
        tuple: ``images`` uint8 ``(scenes, views, H, W, 3)`` and
        ``viewpoints`` float32 ``(scenes, views, 7)``, both read-only memmaps.
    """
    img_path = os.path.join(root, split, IMAGES, name + '.npy')
    vp_path = os.path.join(root, split, VIEWPOINTS, name + '.npy')
    images = load_array(img_path)
    viewpoints = load_array(vp_path)
    if images.dtype != np.uint8 or images.ndim != 5 or images.shape[-1] != 3:
        raise GQNError('%s: expected uint8 (scenes, views, H, W, 3), got %s %s'
                       % (img_path, images.dtype, images.shape))
    if viewpoints.ndim != 3 or viewpoints.shape[:2] != images.shape[:2]:
        raise GQNError('%s: shape %s does not match images %s'
                       % (vp_path, viewpoints.shape, images.shape))
    return images, viewpoints


def open_masks(root, split, name, images=None):
    """Memory-map one shard's instance masks, or ``None`` when it has none.

    Args:
        images (numpy.ndarray or None): the shard's images, to check the masks' shape
            against.

    Returns:
        numpy.memmap or None: uint8 ``(scenes, views, H, W)``, read-only.
    """
    path = mask_path(root, split, int(name))
    if not os.path.exists(path):
        return None
    masks = load_array(path)
    if masks.dtype != np.uint8 or masks.ndim != 4 or (
            images is not None and masks.shape != images.shape[:4]):
        raise GQNError('%s: expected uint8 (scenes, views, H, W)%s, got %s %s' % (
            path, '' if images is None else ' = %s as the images' % (images.shape[:4],),
            masks.dtype, masks.shape))
    return masks


def read_scene_specs(path, scenes=None):
    """The list of scene specs in a shard's ``scenes/NNNN.json`` (``scenes`` of them)."""
    specs = read_json(path, 'scene specs')
    if not isinstance(specs, list) or (scenes is not None and len(specs) != scenes):
        raise GQNError('%s: expected a list of %s scene specs' % (path, scenes or 'the'))
    return specs


def _check_scene_file(path, scenes, check_spec):
    specs = read_scene_specs(path, scenes)
    if check_spec is not None:
        for i, spec in enumerate(specs):
            check_spec(spec, '%s: scene %d' % (path, i))
    return specs


def _check_masks(root, split, name, images, specs, max_object_id):
    """A shard's mask file (:func:`open_masks` checks it against the images), and no id
    above ``max_object_id(spec)`` of its scene's spec (when both are given)."""
    masks = open_masks(root, split, name, images)
    path = mask_path(root, split, int(name))
    if specs is None or max_object_id is None:
        return
    for i, spec in enumerate(specs):
        top, limit = int(np.max(masks[i], initial=0)), max_object_id(spec)
        if top > limit:
            raise GQNError('%s: scene %d has object id %d, its scene spec has ids up to %d'
                           % (path, i, top, limit))


def check_dataset(root, tolerance=1e-3, check_spec=None, max_object_id=None):
    """Validate a dataset; raise :class:`GQNError` naming the first bad file.

    Checks every shard of every split: dtypes and shapes, equal views and
    image size across shards, finite viewpoints with unit-norm (cos, sin)
    pairs (within ``tolerance``), scene-spec files (if any) with one entry per
    scene (each checked by ``check_spec(spec, where)`` when given), mask files
    (if any: uint8 ``(scenes, views, H, W)`` as the images, and, with scene specs
    and ``max_object_id``, no id above ``max_object_id(spec)`` of its scene, which
    reads every mask), and, when there is a manifest, image size, views, scenes per
    shard and scene/shard counts per split against it, and a mask file for every
    shard when its recipe has ``masks = true`` (:func:`manifest_masks`).

    Returns:
        dict: ``splits`` (``{split: {'shards': k, 'scenes': n}}``), ``views``,
        ``height``, ``width``.
    """
    manifest = read_manifest(root)
    splits = list_splits(root)
    if manifest is not None and manifest.get('complete') is False:
        done = ', '.join('%s %d' % (s, len(list_shards(root, s))) for s in splits) or 'none'
        raise GQNError('%s is an unfinished import (%s says complete: false; shards converted so '
                       'far: %s): run the same `gqn import-deepmind` command again to finish it'
                       % (root, MANIFEST, done))
    if manifest is not None:
        for split in manifest.get('splits', {}):
            if split not in splits:
                raise GQNError('%s: missing split %r listed in %s'
                               % (os.path.join(root, split, IMAGES), split, MANIFEST))
    if not splits:
        raise GQNError('%s: no dataset (no <split>/images/ folders)' % root)
    summary = {'splits': {}}
    shape = None
    for split in splits:
        names = list_shards(root, split)
        expected = manifest['splits'].get(split) if manifest is not None else None
        if manifest is not None and expected is None:
            raise GQNError('%s: split %r is not in %s' % (os.path.join(root, split), split, MANIFEST))
        if expected is not None and names != [shard_name(i) for i in range(expected['shards'])]:
            raise GQNError('%s: expected shards %s..%s, found %d files' % (
                os.path.join(root, split, IMAGES), shard_name(0),
                shard_name(expected['shards'] - 1), len(names)))
        scenes = 0
        for k, name in enumerate(names):
            images, viewpoints = open_shard(root, split, name)
            img_path, vp_path, scene_path = shard_paths(root, split, int(name))
            if viewpoints.dtype != np.float32 or viewpoints.shape[2] != VIEWPOINT_SIZE:
                raise GQNError('%s: expected float32 (scenes, views, 7), got %s %s'
                               % (vp_path, viewpoints.dtype, viewpoints.shape))
            if shape is None:
                shape = images.shape[1:4]
            elif images.shape[1:4] != shape:
                raise GQNError('%s: (views, H, W) = %s differs from the first shard\'s %s'
                               % (img_path, images.shape[1:4], shape))
            if manifest is not None:
                size = manifest.get('image_size')
                if manifest.get('views') != images.shape[1] or images.shape[2:4] != (size, size):
                    raise GQNError('%s: (views, H, W) = %s but the manifest says (%s, %s, %s)' % (
                        img_path, images.shape[1:4], manifest.get('views'), size, size))
                # imports keep one shard per source file: no fixed shard size
                per_shard = manifest.get('scenes_per_shard')
                want = per_shard and min(per_shard, expected['scenes'] - k * per_shard)
                if per_shard and images.shape[0] != want:
                    raise GQNError('%s: %d scenes, the manifest implies %d'
                                   % (img_path, images.shape[0], want))
            v = np.asarray(viewpoints, dtype=np.float64)
            if not np.all(np.isfinite(v)):
                raise GQNError('%s: non-finite viewpoint values' % vp_path)
            for c in (3, 5):
                err = np.abs(v[..., c] ** 2 + v[..., c + 1] ** 2 - 1).max(initial=0)
                if err > tolerance:
                    raise GQNError('%s: (cos, sin) pair at columns %d, %d is not unit-norm '
                                   '(off by %.3g)' % (vp_path, c, c + 1, err))
            specs = None
            if os.path.exists(scene_path):
                specs = _check_scene_file(scene_path, images.shape[0], check_spec)
            masks_file = mask_path(root, split, int(name))
            if os.path.exists(masks_file):
                _check_masks(root, split, name, images, specs, max_object_id)
            elif manifest_masks(manifest):
                raise GQNError('%s: missing (the recipe in %s has masks = true)'
                               % (masks_file, MANIFEST))
            scenes += images.shape[0]
        if expected is not None and scenes != expected['scenes']:
            raise GQNError('%s: %d scenes, the manifest says %d'
                           % (os.path.join(root, split), scenes, expected['scenes']))
        summary['splits'][split] = {'shards': len(names), 'scenes': scenes}
    if shape is None:
        raise GQNError('%s: no shards' % root)
    summary['views'], summary['height'], summary['width'] = shape
    return summary
