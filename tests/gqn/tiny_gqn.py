"""A tiny GQN configuration shared by the training, evaluation, GIF and MPI tests."""
from gqn.data.context_query import ContextQuerySampler
from gqn.data.shard_dataset import ShardDataset

TINY_MODEL = {'representation': 'pool', 'r_channels': 16, 'h_channels': 8, 'u_channels': 8,
              'z_channels': 2, 'generation_steps': 2, 'lstm_kernel_size': 3}


def fixed_batch(dataset):
    """8 scenes with a fixed context/query split (K = 2)."""
    scenes = ShardDataset(dataset, 'train')
    return ContextQuerySampler(scenes.views, seed=7, fixed_context=2)(
        [scenes[i] for i in range(8)])
