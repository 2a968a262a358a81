"""The Generative Query Network: a representation network and a ConvDRAW generator."""
import chainer
import chainer.functions as F

from gqn.model.generator import Generator
from gqn.model.representation import make_representation


def to_query_frame(v, v_q):
    """Viewpoints turned about the vertical (+y) axis by minus the query's yaw.

    In the frame of a query camera at yaw ``a`` (``renderer.camera``: yaw about
    +y, 0 at +z), a position ``(x, y, z)`` becomes ``(x cos a - z sin a, y,
    x sin a + z cos a)`` and a yaw ``b`` becomes ``b - a``; pitch is unchanged.
    The query itself lands at yaw 0, ``x = 0``.

    Args:
        v (array): viewpoints ``(B, 7)`` or ``(B, N, 7)``.
        v_q (array): the query viewpoints ``(B, 7)``.

    Returns:
        array: ``v`` in the query's frame, same shape and dtype.
    """
    v, v_q = chainer.as_array(v), chainer.as_array(v_q)
    xp = chainer.backend.get_array_module(v)
    ca, sa = v_q[:, 3], v_q[:, 4]
    if v.ndim == 3:
        ca, sa = ca[:, None], sa[:, None]
    x, y, z, cb, sb = (v[..., i] for i in range(5))
    return xp.stack([x * ca - z * sa, y, x * sa + z * ca, cb * ca + sb * sa,
                     sb * ca - cb * sa, v[..., 5], v[..., 6]], axis=-1).astype(v.dtype)


class GQN(chainer.Chain):
    """The GQN of Eslami et al. (2018).

    Images are float32 NCHW in [0, 1]; viewpoints are
    ``(x, y, z, cos yaw, sin yaw, cos pitch, sin pitch)``. Context tensors
    carry a view axis ``K`` (which may be 0). All randomness is drawn from
    ``xp.random`` of the input arrays' module, so ``numpy.random.seed``
    makes CPU runs reproducible.

    Args:
        hp (~gqn.model.hyperparams.HyperParameters): the sizes (attribute ``hp``).
        hoist (bool): hoist the step-invariant gate convolutions out of the
            ``L`` steps (default); ``False`` selects the plain concatenation
            formulation (same result, slower; for tests and benchmarks).
    """

    def __init__(self, hp, hoist=True):
        super().__init__()
        self.hp = hp
        with self.init_scope():
            self.representation = make_representation(hp)
            self.generator = Generator(hp, hoist=hoist)

    @property
    def hoist(self):
        """Whether the step-invariant gate convolutions are hoisted."""
        return self.generator.hoist

    @hoist.setter
    def hoist(self, value):
        self.generator.hoist = bool(value)

    def scale_viewpoints(self, v):
        """``v`` ``(..., 7)`` with its positions multiplied by ``hp.position_scale``
        (``v`` itself when the scale is 1)."""
        s = self.hp.position_scale
        if s == 1:
            return v
        array = chainer.as_array(v)
        xp = chainer.backend.get_array_module(array)
        factor = xp.ones(array.shape[-1], dtype=array.dtype)
        factor[:3] = s
        return v * factor

    def compute_r(self, x_c, v_c):
        """The scene representation: the per-view ``r`` combined over the context views
        (their sum; :mod:`gqn.model.representation`).

        Args:
            x_c: context images ``(B, K, 3, H, W)`` in [0, 1].
            v_c: context viewpoints ``(B, K, 7)``.

        Returns:
            ~chainer.Variable: ``r`` ``(B, r_channels, r_size, r_size)``;
            zeros when ``K == 0``. Invariant to the order of the views.
        """
        hp = self.hp
        B, K = v_c.shape[:2]
        dtype = self.generator.observation.W.dtype
        if K == 0:
            xp = chainer.backend.get_array_module(v_c)
            return chainer.Variable(
                xp.zeros((B, hp.r_channels, hp.r_size, hp.r_size), dtype=dtype))
        x = F.cast(F.reshape(x_c, (B * K,) + x_c.shape[2:]), dtype)
        v = F.cast(F.reshape(self.scale_viewpoints(v_c), (B * K, v_c.shape[2])), dtype)
        r = self.representation(x, v)
        return self.representation.combine(F.reshape(r, (B, K) + r.shape[1:]))

    def reconstruct(self, x_c, v_c, x_q, v_q):
        """Reconstruct the query view with ``z`` drawn from the posterior.

        Args:
            x_c, v_c: context images ``(B, K, 3, H, W)`` and viewpoints ``(B, K, 7)``.
            x_q: query images ``(B, 3, H, W)`` in [0, 1], or ``(B, Q, 3, H, W)``:
                ``Q`` queries of each scene, all generated from its one ``r``.
            v_q: query viewpoints ``(B, 7)``, or ``(B, Q, 7)``.

        Returns:
            tuple: the mean image ``(B, 3, H, W)`` (the unbounded output of a
            1x1 conv; clip to [0, 1] for display) and ``kl`` ``(B,)``, the
            sum over steps and latent elements of KL(posterior || prior) in nats;
            ``(B * Q, 3, H, W)`` and ``(B * Q,)``, scene-major, for ``Q`` queries.
        """
        return self._generate(x_c, v_c, v_q, x_q)

    def _generate(self, x_c, v_c, v_q, x_q=None):
        """The generator's mean image and KL (``None`` without ``x_q``), for ``(B, 7)``
        or ``(B, Q, 7)`` query viewpoints (``x_q`` shaped to match)."""
        if v_q.ndim == 3:
            B, Q = v_q.shape[:2]
            v_q = F.reshape(v_q, (B * Q, v_q.shape[2]))
            if x_q is not None:
                x_q = F.reshape(x_q, (B * Q,) + x_q.shape[2:])
            if self.hp.viewpoint_frame == 'world':  # one r per scene for its Q queries
                r = F.repeat(self.compute_r(x_c, v_c), Q, axis=0)
                return self.generator(self.scale_viewpoints(v_q), r, x_q)
            x_c, v_c = F.repeat(x_c, Q, axis=0), F.repeat(v_c, Q, axis=0)  # one r per query
        return self.generator(*self._v_q_and_r(x_c, v_c, v_q), x_q)

    def _v_q_and_r(self, x_c, v_c, v_q):
        """The generator's scaled ``v_q`` and ``r``, in the query's frame if
        ``hp.viewpoint_frame`` is ``'query'``."""
        if self.hp.viewpoint_frame == 'query':
            v_c, v_q = to_query_frame(v_c, v_q), to_query_frame(v_q, v_q)
        return self.scale_viewpoints(v_q), self.compute_r(x_c, v_c)

    def generate(self, x_c, v_c, v_q):
        """Render the query viewpoint with ``z`` drawn from the prior.

        Args:
            x_c, v_c: context images ``(B, K, 3, H, W)`` and viewpoints ``(B, K, 7)``.
            v_q: query viewpoints ``(B, 7)``, or ``(B, Q, 7)`` for ``Q`` queries
                per scene.

        For predictions, callers wrap it in ``chainer.no_backprop_mode()`` and
        ``chainer.using_config('train', False)`` themselves; it is differentiable
        (the ``'prior'`` objective of :class:`~gqn.model.loss.GQNLoss` trains through it).

        Returns:
            ~chainer.Variable: the mean image ``(B, 3, H, W)`` (unbounded), or
            ``(B * Q, 3, H, W)``, scene-major.
        """
        return self._generate(x_c, v_c, v_q)[0]

    def generate_from_r(self, r, v_q):
        """:meth:`generate` with ``r`` computed once by :meth:`compute_r`.

        Only a ``'world'``-frame model's ``r`` is the same for every query;
        a ``'query'``-frame model turns the context into each query's frame,
        so its ``r`` is recomputed per query by :meth:`generate`.

        Args:
            r: ``(B, r_channels, r_size, r_size)`` from :meth:`compute_r`.
            v_q: query viewpoints ``(B, 7)``.

        Returns:
            ~chainer.Variable: the mean image ``(B, 3, H, W)``, equal to
            :meth:`generate`'s for the same latent noise.

        Raises:
            ValueError: for a ``'query'``-frame model.
        """
        if self.hp.viewpoint_frame != 'world':
            raise ValueError("generate_from_r needs viewpoint_frame = 'world'")
        return self.generator(self.scale_viewpoints(v_q), r, None)[0]
