"""Splitting scenes into context views and a query view, as in the paper."""
import chainer
import numpy as np

from gqn.data.shard_dataset import to_model_images
from gqn.errors import GQNError


class ContextQuerySampler:
    """A Chainer converter: a list of scenes → one context/query batch.

    Per batch, the number of context views ``K`` is drawn uniformly from
    ``1..max_context`` (one ``K`` for the whole batch, so the batch is a dense
    array), or is 0 with probability ``zero_context_rate``; per scene, the views
    are shuffled, the first ``K`` are the context and the next one is the query,
    so the query is never among the context.
    With ``allow_overlap`` the query is drawn from all views instead. With
    ``queries`` > 1, the next ``queries`` views are all queries of the scene:
    the model computes the scene's representation once for all of them.

    Args:
        views (int): Views per scene in the dataset.
        max_context (int or None): Largest ``K``; default ``views - 1``.
        allow_overlap (bool): Let the query be one of the context views.
        seed (int): Seed of the sampler's own generator (its state is part of
            training snapshots, see :meth:`serialize`).
        fixed_context (int or None): Always use this ``K`` (evaluation).
        queries (int): Query views per scene, ``Q``.
        zero_context_rate (float): Probability that a batch has ``K = 0`` (no
            context: the model sees ``r = 0``). At 0 (the default) no draw is made
            for it, so the sampler's stream is the one it always was.

    Returns from ``__call__(batch, device)`` a dict:

    .. csv-table::
        :header: key, shape, dtype

        ``x_c``, "(B, K, 3, H, W)", float32 in [0, 1]
        ``v_c``, "(B, K, 7)", float32
        ``x_q``, "(B, 3, H, W)", float32 in [0, 1]; ``(B, Q, 3, H, W)`` if ``Q`` > 1
        ``v_q``, "(B, 7)", float32; ``(B, Q, 7)`` if ``Q`` > 1
    """

    def __init__(self, views, max_context=None, allow_overlap=False, seed=0,
                 fixed_context=None, queries=1, zero_context_rate=0.0):
        if queries < 1:
            raise GQNError('queries must be at least 1, got %d' % queries)
        if views < 1 + queries and not allow_overlap:
            raise GQNError('scenes need at least %d views to split into context and %d '
                           'quer%s' % (1 + queries, queries, 'y' if queries == 1 else 'ies'))
        limit = views if allow_overlap else views - queries
        self.max_context = limit if max_context is None else max_context
        if not 1 <= self.max_context <= limit:
            raise GQNError('max_context must be in 1..%d for %d-view scenes, got %d'
                           % (limit, views, self.max_context))
        if fixed_context is not None and not 0 <= fixed_context <= limit:
            raise GQNError('context size must be in 0..%d for %d-view scenes, got %d'
                           % (limit, views, fixed_context))
        self.views = views
        self.allow_overlap = allow_overlap
        self.fixed_context = fixed_context
        self.queries = queries
        if not 0 <= zero_context_rate <= 1:
            raise GQNError('zero_context_rate must be in 0..1, got %r' % (zero_context_rate,))
        self.zero_context_rate = zero_context_rate
        self.rng = np.random.RandomState(seed)

    def sample_indices(self, batch_size):
        """Context view indices ``(B, K)`` and query indices ``(B,)`` (``(B, Q)`` if
        ``Q`` > 1)."""
        k = self.fixed_context
        if k is None:
            if self.zero_context_rate and self.rng.random_sample() < self.zero_context_rate:
                k = 0
            else:
                k = int(self.rng.randint(1, self.max_context + 1))
        order = np.argsort(self.rng.random_sample((batch_size, self.views)), axis=1)
        context = order[:, :k]
        q = self.queries
        if self.allow_overlap:
            query = self.rng.randint(0, self.views, size=batch_size if q == 1 else (batch_size, q))
        else:
            query = order[:, k] if q == 1 else order[:, k:k + q]
        return context, query

    def __call__(self, batch, device=None):
        """Scenes as from :class:`gqn.data.shard_dataset.ShardDataset` (float, or uint8 with ``raw``) → the
        batch dict: :meth:`sample_indices`, then :meth:`gather`."""
        return self.gather(batch, *self.sample_indices(len(batch)), device)

    @staticmethod
    def gather(batch, context, query, device=None):
        """The batch dict of ``batch`` split by ``context`` ``(B, K)`` and ``query``
        ``(B,)`` or ``(B, Q)`` view indices. Only the ``K + Q`` views used are read, sent to ``device``
        in one copy for the images and one for the viewpoints, and (uint8) converted to
        float32 there. Uses no random state (a background thread may run it)."""
        k = context.shape[1]
        views = np.concatenate([context, query.reshape(len(query), -1)], axis=1)
        x = np.stack([np.asarray(scene[0][idx]) for scene, idx in zip(batch, views)])
        v = np.stack([np.asarray(scene[1][idx]) for scene, idx in zip(batch, views)])
        if device is not None:
            x, v = device.send(x), device.send(v)
        if x.dtype == np.uint8:
            x = to_model_images(x)
        xp = chainer.backend.get_array_module(x)
        q = k if query.ndim == 1 else slice(k, None)
        return {'x_c': xp.ascontiguousarray(x[:, :k]), 'v_c': xp.ascontiguousarray(v[:, :k]),
                'x_q': xp.ascontiguousarray(x[:, q]), 'v_q': xp.ascontiguousarray(v[:, q])}

    def serialize(self, serializer):
        """Save or restore the generator state (exact resume)."""
        name, keys, pos, has_gauss, cached = self.rng.get_state()
        keys = serializer('rng_keys', keys)
        pos = serializer('rng_pos', pos)
        has_gauss = serializer('rng_has_gauss', has_gauss)
        cached = serializer('rng_cached_gaussian', cached)
        self.rng.set_state((name, np.asarray(keys, dtype=np.uint32), int(pos),
                            int(has_gauss), float(cached)))
