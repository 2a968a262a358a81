import numpy as np
import pytest

from gqn.data import shards
from gqn.kernels import parallel


def write_synthetic_dataset(root, scenes=24, views=5, size=16, per_shard=8, splits=('train', 'test'),
                            seed=0):
    """Shards whose images depend on the scene and the viewpoint in a learnable way.

    Each scene has a colour; a view shows that colour modulated by a horizontal
    gradient whose phase is the camera yaw, so context views tell the colour
    and the query viewpoint tells the pattern.
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
            position = 3 * np.stack([np.cos(pitch) * np.cos(yaw), np.sin(pitch),
                                     np.cos(pitch) * np.sin(yaw)], -1)
            v = np.concatenate([position, np.stack([np.cos(yaw), np.sin(yaw), np.cos(pitch),
                                                    np.sin(pitch)], -1)], -1)
            shards.write_shard(root, split, index, (images * 255).round().astype(np.uint8),
                               v.astype(np.float32))
    return root


@pytest.fixture
def synthetic_dataset(tmp_path):
    return write_synthetic_dataset(str(tmp_path / 'data'))


@pytest.fixture(params=[1, 3], ids=['1-thread', '3-threads'])
def threads(request):
    """Run the test with :func:`gqn.kernels.parallel.parallel_for` on 1 and on 3 threads
    (an uneven split), whatever the machine's BLAS uses."""
    parallel.set_num_threads(request.param)
    yield request.param
    parallel.set_num_threads(None)
