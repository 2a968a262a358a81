"""Small datasets and a tiny model configuration for tests of training, evaluation and GIFs."""
import numpy as np

from gqn.data import shards
from gqn.data.context_query import ContextQuerySampler
from gqn.data.shard_dataset import ShardDataset

#: A GQN small enough to train in seconds on a CPU (:class:`gqn.model.hyperparams.HyperParameters`
#: fields; 16 x 16 images).
TINY_MODEL = {'representation': 'pool', 'r_channels': 16, 'h_channels': 8, 'u_channels': 8,
              'z_channels': 2, 'generation_steps': 2, 'lstm_kernel_size': 3}


def tiny_train_config(dataset, **changes):
    """A :class:`gqn.training.config.TrainConfig` of :data:`TINY_MODEL` on ``dataset`` that
    trains 6 iterations of batch 4, logging and snapshotting every 2 (``changes`` override)."""
    from gqn.training.config import TrainConfig
    d = dict(dataset=dataset, model=TINY_MODEL, batch_size=4, iterations=6, log_interval=2,
             eval_interval=3, eval_scenes=8, image_interval=3, snapshot_interval=2,
             sigma_steps=10, lr_steps=10)
    d.update(changes)
    return TrainConfig(**d)


def read_npz(path):
    """Every array of the ``.npz`` file ``path``, as a dict (snapshots, model weights)."""
    with np.load(path, allow_pickle=False) as npz:
        return {k: npz[k] for k in npz.files}


def write_synthetic_dataset(root, scenes=24, views=5, size=16, per_shard=8, splits=('train', 'test'),
                            seed=0, objects=False):
    """Shards whose images depend on the scene and the viewpoint in a learnable way.

    Each scene has a colour; a view shows that colour modulated by a horizontal
    gradient whose phase is the camera yaw, so context views tell the colour
    and the query viewpoint tells the pattern.

    With ``objects``, each scene also has an object: a square of a second colour,
    ``size // 4`` pixels wide, whose column follows the camera yaw (off the image for
    about half the yaws, so some views show no object), and the shards carry instance
    masks (id 1 on the square, 0 elsewhere).
    """
    rng = np.random.RandomState(seed)
    cols = np.arange(size) / size * 2 * np.pi
    for s, split in enumerate(splits):
        for index in range(scenes // per_shard):
            colour = rng.uniform(0.2, 1.0, size=(per_shard, 1, 1, 1, 3))
            yaw = rng.uniform(-np.pi, np.pi, size=(per_shard, views))
            pitch = rng.uniform(-0.5, 0.5, size=(per_shard, views))
            pattern = 0.5 + 0.5 * np.cos(cols[None, None, :] - yaw[..., None])
            images = colour * pattern[:, :, None, :, None] * np.ones((1, 1, size, 1, 1))
            masks = None
            if objects:
                images, masks = _with_square_objects(rng, images, yaw)
            position = 3 * np.stack([np.cos(pitch) * np.cos(yaw), np.sin(pitch),
                                     np.cos(pitch) * np.sin(yaw)], -1)
            v = np.concatenate([position, np.stack([np.cos(yaw), np.sin(yaw), np.cos(pitch),
                                                    np.sin(pitch)], -1)], -1)
            shards.write_shard(root, split, index, (images * 255).round().astype(np.uint8),
                               v.astype(np.float32), masks=masks)
    return root


def _with_square_objects(rng, images, yaw):
    """``images`` float ``(S, V, H, W, 3)`` with a square object per scene painted in, and
    the masks uint8 ``(S, V, H, W)``; the square's column follows ``yaw`` ``(S, V)``."""
    scenes, views, size = images.shape[:3]
    side = max(1, size // 4)
    colour = rng.uniform(0.0, 1.0, size=(scenes, 3))
    row = rng.randint(0, size - side + 1, size=scenes)
    column = np.round((yaw / np.pi + 1) * size - size / 2).astype(int)  # off-image: no object
    images = images.copy()
    masks = np.zeros(images.shape[:4], np.uint8)
    for s in range(scenes):
        for view in range(views):
            left, right = max(column[s, view], 0), min(column[s, view] + side, size)
            if left < right:
                masks[s, view, row[s]:row[s] + side, left:right] = 1
                images[s, view, row[s]:row[s] + side, left:right] = colour[s]
    return images, masks


def fixed_batch(dataset):
    """A batch dict of the first 8 training scenes of ``dataset`` (a root) with a fixed
    context/query split (K = 2)."""
    scenes = ShardDataset(dataset, 'train')
    return ContextQuerySampler(scenes.views, seed=7, fixed_context=2)(
        [scenes[i] for i in range(8)])
