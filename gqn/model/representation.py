"""Representation networks: one context view and its viewpoint to a per-view ``r``.

The scene representation is the sum of the per-view outputs over the context
views (:meth:`gqn.model.gqn.GQN.compute_r`). Images are float32 NCHW in [0, 1].
"""
import chainer
import chainer.functions as F

from gqn import ops
from gqn.errors import GQNError
from gqn.model.hyperparams import REPRESENTATIONS


def broadcast_viewpoint(v, size):
    """Tile viewpoints ``(B, 7)`` spatially to ``(B, 7, size, size)``."""
    B, n = v.shape
    return F.broadcast_to(F.reshape(v, (B, n, 1, 1)), (B, n, size, size))


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

    def forward(self, x, v):
        h = F.concat((x, broadcast_viewpoint(v, x.shape[2])), axis=1)
        h = ops.relu(self.conv1(h))
        h = ops.relu(self.conv2(h))
        h = ops.relu(self.conv3(h))
        return self.conv4(h)


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
    raise GQNError('unknown representation %r (choose from %s)'
                   % (hp.representation, ', '.join(REPRESENTATIONS)))
