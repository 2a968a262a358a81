"""A scene dataset over ``.npy`` shards, memory-mapped."""
import bisect
import os

import chainer
import numpy as np

from gqn.data import shards
from gqn.errors import GQNError


class ShardDataset(chainer.dataset.DatasetMixin):
    """Scenes of one split of a shard dataset, read lazily from memory maps.

    Memory stays flat in the dataset's size: shards are memory-mapped
    (``allow_pickle=False``) and one scene is converted at a time.

    .. csv-table::
        :header: name, shape, dtype, format

        ``x``, "(V, 3, H, W)", float32, "RGB in [0, 1] (uint8 / 255)"
        ``v``, "(V, 7)", float32, "(x, y, z, cos yaw, sin yaw, cos pitch, sin pitch)"

    This conversion from the stored ``uint8 (V, H, W, 3)`` images is the only
    place where pixel values are scaled; the model works on [0, 1] throughout.

    Args:
        root (str): Dataset folder (``<root>/<split>/images/NNNN.npy``...).
        split (str): ``'train'``, ``'test'``...
        shard_names (list of str or None): Use only these shards (e.g. one
            rank's share); default all.
        raw (bool): Return the images as stored, uint8 ``(V, H, W, 3)`` (a view
            of the memory map), for a converter that picks the views it needs and
            converts only those, on the device (:class:`gqn.data.context_query.ContextQuerySampler`).

    Instance masks (``<split>/masks/``, uint8 ``(V, H, W)`` object ids, 0 the background)
    and scene specs (``<split>/scenes/``) are read on request: :attr:`has_masks`,
    :meth:`get_masks`, :attr:`has_specs`, :meth:`get_spec`. A reader that never asks
    never opens them (a shard's mask file is memory-mapped on its first
    :meth:`get_masks`), so training reads a dataset with or without masks alike.

    Datasets written by other GQN tools (no ``manifest.json``) are read as
    well: image size, view count and viewpoint width are inferred from the
    first shard and listed in :attr:`assumptions`.
    """

    def __init__(self, root, split, shard_names=None, raw=False):
        self.root = root
        self.raw = raw
        self.split = split
        self.manifest = shards.read_manifest(root)
        names = shards.list_shards(root, split) if shard_names is None else list(shard_names)
        if not names:
            raise GQNError('no shards in %s' % os.path.join(root, split, shards.IMAGES))
        shards.check_complete(root, split, self.manifest)
        self.shard_names = names
        self._images, self._viewpoints, self._offsets = [], [], [0]
        self._masks, self._specs = {}, {}
        for name in names:
            images, viewpoints = shards.open_shard(root, split, name)
            if self._images and (images.shape[1:] != self._images[0].shape[1:]
                                 or viewpoints.shape[2] != self._viewpoints[0].shape[2]):
                raise GQNError('%s: shard %s has shape %s, earlier shards %s' % (
                    os.path.join(root, split), name, images.shape[1:],
                    self._images[0].shape[1:]))
            if len(images) == 0:
                raise GQNError('%s: a shard with no scenes' % os.path.join(
                    root, split, shards.IMAGES, name + '.npy'))
            if not np.isfinite(viewpoints).all():  # (scenes, views, 7): cheap to check
                raise GQNError('%s: non-finite viewpoint values (`gqn check %s`)' % (
                    os.path.join(root, split, shards.VIEWPOINTS, name + '.npy'), root))
            self._images.append(images)
            self._viewpoints.append(viewpoints)
            self._offsets.append(self._offsets[-1] + len(images))
        self.assumptions = []
        if self.manifest is None:
            self.assumptions.append(
                'no manifest.json in %s: assuming %d views of %dx%d RGB per scene and '
                '%d-d viewpoints (x, y, z, cos yaw, sin yaw, cos pitch, sin pitch), '
                'inferred from shard %s' % (root, self.views, self.image_size, self.image_size,
                                           self.viewpoint_size, names[0]))

    @property
    def views(self):
        """Views per scene."""
        return self._images[0].shape[1]

    @property
    def image_size(self):
        """Image height (= width) in pixels."""
        return self._images[0].shape[2]

    @property
    def viewpoint_size(self):
        """Width of a viewpoint vector (7)."""
        return self._viewpoints[0].shape[2]

    def check_compatible(self, hp):
        """Raise :class:`GQNError` when the data does not fit hyperparameters ``hp``."""
        where = os.path.join(self.root, self.split)
        if self._images[0].shape[2] != self._images[0].shape[3]:
            raise GQNError('%s: images are %dx%d; the model needs square images' % (
                where, self._images[0].shape[3], self._images[0].shape[2]))
        if self.image_size != hp.image_size:
            raise GQNError('%s: images are %d px but the model expects image_size=%d '
                           '(re-render at that size or set the model\'s image_size)'
                           % (where, self.image_size, hp.image_size))
        if self.viewpoint_size != hp.viewpoint_size:
            raise GQNError('%s: viewpoints have %d components but the model expects %d'
                           % (where, self.viewpoint_size, hp.viewpoint_size))
        if self.views < 2:
            raise GQNError('%s: scenes need at least 2 views (context + query), found %d'
                           % (where, self.views))

    def __len__(self):
        return self._offsets[-1]

    def locate(self, i):
        """``(shard position, index in that shard)`` of scene ``i``."""
        s = bisect.bisect_right(self._offsets, i) - 1
        return s, i - self._offsets[s]

    @property
    def has_masks(self):
        """Whether every shard has instance masks (its ``masks/NNNN.npy`` exists)."""
        return all(os.path.exists(self._mask_file(name)) for name in self.shard_names)

    def _mask_file(self, name):
        return os.path.join(self.root, self.split, shards.MASKS, name + '.npy')

    def get_masks(self, i):
        """Object ids of scene ``i``'s views: uint8 ``(V, H, W)`` (0: background).

        Raises:
            GQNError: when the scene's shard has no masks, or its mask file is not uint8
                ``(scenes, V, H, W)`` as its images (naming the file).
        """
        s, j = self.locate(i)
        if s not in self._masks:
            self._masks[s] = shards.open_masks(self.root, self.split, self.shard_names[s],
                                               self._images[s])
        if self._masks[s] is None:
            raise GQNError('%s: no instance masks (rendered without them, or not by gqn '
                           'render)' % self._mask_file(self.shard_names[s]))
        return np.asarray(self._masks[s][j])

    @property
    def has_specs(self):
        """Whether every shard has its scene specs (``scenes/NNNN.json``)."""
        return all(os.path.exists(shards.shard_paths(self.root, self.split, int(name))[2])
                   for name in self.shard_names)

    def get_spec(self, i):
        """The stored scene spec of scene ``i`` (a dict; each shard's file read once)."""
        s, j = self.locate(i)
        if s not in self._specs:
            path = shards.shard_paths(self.root, self.split, int(self.shard_names[s]))[2]
            self._specs[s] = shards.read_scene_specs(path, len(self._images[s]))
        return self._specs[s][j]

    def get_example(self, i):
        """Scene ``i`` as ``(x, v)``: float32 ``(V, 3, H, W)`` in [0, 1] (uint8 ``(V, H, W, 3)``
        with ``raw``), float32 ``(V, 7)``."""
        s, j = self.locate(i)
        try:
            images = self._images[s][j] if self.raw else np.asarray(self._images[s][j])
            v = np.array(self._viewpoints[s][j], dtype=np.float32)
        except (OSError, ValueError) as e:
            raise GQNError('%s: unreadable (%s)' % (
                os.path.join(self.root, self.split, shards.IMAGES,
                             self.shard_names[s] + '.npy'), e)) from None
        return (images if self.raw else to_model_images(images)), v


def to_model_images(images):
    """uint8 ``(..., H, W, 3)`` (NumPy or CuPy) → float32 ``(..., 3, H, W)`` in [0, 1]."""
    import chainer
    xp = chainer.backend.get_array_module(images)
    x = xp.moveaxis(images, -1, -3).astype(np.float32)
    x *= np.float32(1 / 255)
    return x
