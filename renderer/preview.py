"""A PNG grid of scenes x views of a dataset, optionally with its instance masks overlaid."""
import colorsys
import os

import numpy as np

from gqn.data import image_grid, shards
from gqn.errors import GQNError

#: Weight of an object's tint in a mask overlay (the image keeps ``1 - MASK_ALPHA``).
MASK_ALPHA = 0.5


def mask_palette():
    """Tint of each object id: uint8 ``(256, 3)``, distinct hues (golden-ratio steps) for ids
    1..255; row 0 (the background) is black and never used."""
    colors = [colorsys.hsv_to_rgb((i * 0.618033988749895) % 1.0, 0.85, 1.0) for i in range(256)]
    palette = np.round(np.array(colors) * 255).astype(np.uint8)
    palette[0] = 0
    return palette


def overlay_masks(images, masks, alpha=MASK_ALPHA):
    """Images with each object tinted by its id's colour (:func:`mask_palette`).

    Args:
        images (numpy.ndarray): uint8 ``(..., H, W, 3)``.
        masks (numpy.ndarray): uint8 ``(..., H, W)`` object ids, 0 the background.
        alpha (float): weight of the tint over an object's pixels.

    Returns:
        numpy.ndarray: uint8 ``(..., H, W, 3)``; background pixels (id 0) unchanged.
    """
    images = np.asarray(images)
    masks = np.asarray(masks)
    tint = mask_palette()[masks].astype(np.float64)
    blended = np.round((1 - alpha) * images + alpha * tint).astype(np.uint8)
    return np.where((masks > 0)[..., None], blended, images)


def preview_grid(root, split=None, scenes=8, views=None, gap=2, masks=False):
    """Image uint8 ``(rows, cols, 3)``: one row per scene, one column per view.

    Args:
        root (str): dataset root.
        split (str): split to show; default ``train`` if present, else the first.
        scenes (int): scenes (rows), read from the first shards in order.
        views (int): views (columns); default all.
        gap (int): grey pixels between tiles.
        masks (bool): overlay the instance masks (:func:`overlay_masks`).

    Raises:
        GQNError: for a missing split, bad counts, or (``masks``) a shard without masks.
    """
    splits = shards.list_splits(root)
    if not splits:
        raise GQNError('%s: no dataset (no <split>/images/ folders)' % root)
    split = split or ('train' if 'train' in splits else splits[0])
    if split not in splits:
        raise GQNError('%s: no split %r (have: %s)' % (root, split, ', '.join(splits)))
    if scenes < 1 or (views is not None and views < 1):
        raise GQNError('--scenes and --views must be positive')
    rows = []
    for name in shards.list_shards(root, split):
        images = shards.open_shard(root, split, name)[0]
        take = images[:scenes - len(rows), :views]
        if masks:
            ids = shards.open_masks(root, split, name, images)
            if ids is None:
                raise GQNError('%s: no instance masks (the dataset was rendered with masks = '
                               'false, before masks existed, or imported): --masks needs them'
                               % shards.mask_path(root, split, int(name)))
            take = overlay_masks(take, ids[:scenes - len(rows), :views])
        rows.extend(take)
        if len(rows) == scenes:
            break
    if not rows:
        raise GQNError('%s: split %r has no scenes' % (root, split))
    return image_grid.tile([list(row) for row in rows], pad=gap)


def write_preview(root, path=None, scale=1, **kwargs):
    """Write :func:`preview_grid` as a PNG (default ``<root>/preview.png``, or
    ``<root>/preview-masks.png`` with ``masks=True``); returns the path."""
    if scale < 1:
        raise GQNError('--scale must be positive')
    grid = preview_grid(root, **kwargs)
    path = path or os.path.join(root, 'preview-masks.png' if kwargs.get('masks') else 'preview.png')
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    image_grid.save_png(path, grid, scale)
    return path
