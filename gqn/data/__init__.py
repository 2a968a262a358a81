"""Scene datasets on disk: the ``.npy`` shard format, its reader, the context/query
sampler, and DeepMind's TFRecord datasets converted to shards.

:mod:`~gqn.data.shards` (the format: writing, listing, checking),
:class:`~gqn.data.shard_dataset.ShardDataset` (memory-mapped scenes),
:class:`~gqn.data.context_query.ContextQuerySampler` (batches of context views
and a query), :mod:`~gqn.data.tfrecord` and :mod:`~gqn.data.deepmind` (the
import of DeepMind's gqn-datasets without TensorFlow), :mod:`~gqn.data.image_grid`
(uint8 image grids as PNG).
"""
