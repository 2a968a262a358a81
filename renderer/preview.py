"""A PNG grid of scenes x views of a dataset."""
import os

from gqn.data import image_grid, shards
from gqn.errors import GQNError


def preview_grid(root, split=None, scenes=8, views=None, gap=2):
    """Image uint8 ``(rows, cols, 3)``: one row per scene, one column per view.

    Args:
        root (str): dataset root.
        split (str): split to show; default ``train`` if present, else the first.
        scenes (int): scenes (rows), read from the first shards in order.
        views (int): views (columns); default all.
        gap (int): grey pixels between tiles.
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
        rows.extend(images[:scenes - len(rows), :views])
        if len(rows) == scenes:
            break
    if not rows:
        raise GQNError('%s: split %r has no scenes' % (root, split))
    return image_grid.tile([list(row) for row in rows], pad=gap)


def write_preview(root, path=None, scale=1, **kwargs):
    """Write :func:`preview_grid` as a PNG (default ``<root>/preview.png``); returns the path."""
    if scale < 1:
        raise GQNError('--scale must be positive')
    grid = preview_grid(root, **kwargs)
    path = path or os.path.join(root, 'preview.png')
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    image_grid.save_png(path, grid, scale)
    return path
