"""Representation networks: one context view and its viewpoint to a per-view ``r``.

The scene representation combines the per-view outputs over the context views
(:meth:`gqn.model.gqn.GQN.compute_r` calls the network's ``combine``): their sum
(the paper), or for :class:`Attention` the sum plus what each cell of ``r`` reads
from all the views' cells by attention. Images are float32 NCHW in [0, 1].
"""
import math

import chainer
import chainer.functions as F

from gqn import ops
from gqn.errors import GQNError
from gqn.model.hyperparams import REPRESENTATIONS


def broadcast_viewpoint(v, size):
    """Tile viewpoints ``(B, 7)`` spatially to ``(B, 7, size, size)``."""
    B, n = v.shape
    return F.broadcast_to(F.reshape(v, (B, n, 1, 1)), (B, n, size, size))


def sum_over_views(r):
    """The paper's scene representation: ``(B, K, C, h, w) -> (B, C, h, w)``, the sum over K."""
    return F.sum(r, axis=1)


class Tower(chainer.Chain):
    """The paper's tower: ``(N, 3, H, W), (N, 7) -> (N, r_channels, H/4, W/4)``.

    2x2/2 conv; residual 2x2/2 conv beside [3x3, 2x2/2]; viewpoint
    concatenated at H/4; residual 3x3 beside [3x3, 3x3]; 1x1 conv.
    """

    def __init__(self, r_channels=256, viewpoint_size=7):
        super().__init__()
        half = max(1, r_channels // 2)
        with self.init_scope():
            self.conv1 = ops.Convolution2D(3, r_channels, 2, stride=2)
            self.conv2_skip = ops.Convolution2D(r_channels, r_channels, 2, stride=2)
            self.conv2_1 = ops.Convolution2D(r_channels, half, 3, pad=1)
            self.conv2_2 = ops.Convolution2D(half, r_channels, 2, stride=2)
            self.conv3_skip = ops.Convolution2D(r_channels + viewpoint_size, r_channels, 3, pad=1)
            self.conv3_1 = ops.Convolution2D(r_channels + viewpoint_size, half, 3, pad=1)
            self.conv3_2 = ops.Convolution2D(half, r_channels, 3, pad=1)
            self.conv4 = ops.Convolution2D(r_channels, r_channels, 1)

    combine = staticmethod(sum_over_views)

    def forward(self, x, v):
        h = ops.relu(self.conv1(x))
        h = ops.relu(self.conv2_skip(h)) + ops.relu(self.conv2_2(ops.relu(self.conv2_1(h))))
        h = F.concat((h, broadcast_viewpoint(v, h.shape[2])), axis=1)
        skip, h = ops.stacked_convolutions(h, (self.conv3_skip, self.conv3_1))
        h = ops.relu(skip) + ops.relu(self.conv3_2(ops.relu(h)))
        return self.conv4(h)


class Pool(chainer.Chain):
    """The tower followed by an average pool over all of H/4 x W/4: ``-> (N, r_channels, 1, 1)``."""

    def __init__(self, r_channels=256, viewpoint_size=7):
        super().__init__()
        with self.init_scope():
            self.tower = Tower(r_channels, viewpoint_size)

    combine = staticmethod(sum_over_views)

    def forward(self, x, v):
        r = self.tower(x, v)
        return F.average_pooling_2d(r, ksize=r.shape[2:])


class Pyramid(chainer.Chain):
    """Viewpoint broadcast to the image, then strided convs: ``-> (N, r_channels, 1, 1)``.

    Three 2x2/2 convs (r/8, r/4, r/2 channels) and an (H/8)x(H/8) conv of the
    same stride to 1x1.
    """

    def __init__(self, r_channels=256, viewpoint_size=7, image_size=64):
        super().__init__()
        c1, c2, c3 = (max(1, r_channels // d) for d in (8, 4, 2))
        k = image_size // 8
        with self.init_scope():
            self.conv1 = ops.Convolution2D(3 + viewpoint_size, c1, 2, stride=2)
            self.conv2 = ops.Convolution2D(c1, c2, 2, stride=2)
            self.conv3 = ops.Convolution2D(c2, c3, 2, stride=2)
            self.conv4 = ops.Convolution2D(c3, r_channels, k, stride=k)

    combine = staticmethod(sum_over_views)

    def forward(self, x, v):
        h = F.concat((x, broadcast_viewpoint(v, x.shape[2])), axis=1)
        h = ops.relu(self.conv1(h))
        h = ops.relu(self.conv2(h))
        h = ops.relu(self.conv3(h))
        return self.conv4(h)


class Attention(chainer.Chain):
    """The tower per view; each cell of ``r`` also reads every view's cells by attention.

    A step towards Rosenbaum et al. (2018), "Learning models for visual 3D
    localization with implicit mapping": the summed tower keeps one 8 x 8 grid per
    view, each in its own camera's image coordinates, and the sum lays the views'
    grids over each other although an object sits in a different cell of each. Here
    each cell ``(i, j)`` of the scene's ``r`` has a learned query ``q_ij``; every
    cell of every context view is a key (a 1x1 convolution of its tower output,
    which carries the view's pose) and a value (the tower output itself), and the
    cell adds the softmax-weighted mean of the values over all ``K h w`` of them to
    the sum over views::

        r_ij = sum_k t_k,ij + sum_{k,m} softmax_{k,m}(q_ij . W_key t_k,m / sqrt(d)) t_k,m

    The queries do not see the query viewpoint: with ``viewpoint_frame = 'query'``
    every context pose is given relative to the query camera, so they need not.
    ``r`` stays invariant to the order of the views; ``K = 0`` gives zeros as for
    every representation. Output ``(N, r_channels, H/4, W/4)`` per view, like the
    tower.

    Args:
        r_channels (int): channels of ``r`` (the values); the keys and queries have
            ``max(1, r_channels // 2)`` (``d``).
        viewpoint_size (int): length of a viewpoint vector.
        image_size (int): height = width of the images (the grid is a quarter of it).
    """

    def __init__(self, r_channels=256, viewpoint_size=7, image_size=64):
        super().__init__()
        d = max(1, r_channels // 2)
        size = image_size // 4
        with self.init_scope():
            self.tower = Tower(r_channels, viewpoint_size)
            self.key = ops.Convolution2D(r_channels, d, 1, nobias=True)
            self.queries = chainer.Parameter(chainer.initializers.Normal(1.0), (d, size * size))

    def forward(self, x, v):
        return self.tower(x, v)

    def combine(self, r):
        """``(B, K, C, h, w)`` per-view tower outputs → ``(B, C, h, w)`` (the class docstring)."""
        B, K, C, h, w = r.shape
        d, cells = self.queries.shape
        keys = self.key(F.reshape(r, (B * K, C, h, w)))                    # (B K, d, h, w)
        keys = F.reshape(F.transpose(F.reshape(keys, (B, K, d, h * w)), (0, 2, 1, 3)),
                         (B, d, K * h * w))
        values = F.reshape(F.transpose(F.reshape(r, (B, K, C, h * w)), (0, 2, 1, 3)),
                           (B, C, K * h * w))
        queries = F.broadcast_to(F.cast(self.queries, r.dtype), (B, d, cells))
        logits = F.matmul(queries, keys, transa=True) * (1 / math.sqrt(d))  # (B, cells, K h w)
        read = F.matmul(values, F.softmax(logits, axis=2), transb=True)      # (B, C, cells)
        return F.sum(r, axis=1) + F.reshape(read, (B, C, h, w))


def make_representation(hp):
    """The representation network named by ``hp.representation`` (one of
    :data:`gqn.model.hyperparams.REPRESENTATIONS`; an unknown name is a
    :class:`~gqn.errors.GQNError`)."""
    if hp.representation == 'tower':
        return Tower(hp.r_channels, hp.viewpoint_size)
    if hp.representation == 'pool':
        return Pool(hp.r_channels, hp.viewpoint_size)
    if hp.representation == 'pyramid':
        return Pyramid(hp.r_channels, hp.viewpoint_size, hp.image_size)
    if hp.representation == 'attention':
        return Attention(hp.r_channels, hp.viewpoint_size, hp.image_size)
    raise GQNError('unknown representation %r (choose from %s)'
                   % (hp.representation, ', '.join(REPRESENTATIONS)))
