"""The hyperparameters of a GQN model, saved as JSON beside every snapshot."""
import dataclasses

from gqn.errors import GQNError
from gqn.files import read_json

REPRESENTATIONS = ('tower', 'pool', 'pyramid', 'attention')
#: ``viewpoint_frame`` values (:func:`gqn.model.gqn.to_query_frame`).
VIEWPOINT_FRAMES = ('world', 'query')
#: ``objective`` values of :class:`gqn.model.loss.GQNLoss` (a training choice, kept
#: here, beside the model's, so that the training config checks it without Chainer).
OBJECTIVES = ('elbo', 'prior')


def check_objective(objective):
    """Raise :class:`~gqn.errors.GQNError` unless ``objective`` is in :data:`OBJECTIVES`."""
    if objective not in OBJECTIVES:
        raise GQNError('objective must be one of %s, got %r'
                       % (', '.join(OBJECTIVES), objective))


@dataclasses.dataclass(frozen=True)
class HyperParameters:
    """Everything that fixes the shapes of a :class:`gqn.model.gqn.GQN`.

    The defaults are the paper's (Eslami et al. 2018). Derived sizes
    (:attr:`h_size`, :attr:`r_size`, :attr:`num_cores`) are properties,
    never stored.

    Attributes:
        image_size (int): height = width of the images, a multiple of 16.
        viewpoint_size (int): length of a viewpoint vector (7).
        representation (str): ``'tower'``, ``'pool'``, ``'pyramid'`` or ``'attention'``
            (:mod:`gqn.model.representation`).
        r_channels (int): channels of the scene representation ``r``.
        h_channels (int): channels of the ConvLSTM states ``h``/``c``.
        u_channels (int): channels of the canvas ``u``.
        z_channels (int): channels of the latent ``z`` (paper: 3).
        generation_steps (int): number of ConvDRAW steps ``L``.
        shared_core (bool): one core for all steps instead of one per step.
        lstm_kernel_size (int): odd kernel size of the ConvLSTM gate convs.
        position_scale (float): the camera positions ``(x, y, z)`` of the
            viewpoints are multiplied by it where the networks read them (1 in
            the paper; ``gqn train`` sets it to 1 / the RMS camera distance of
            the training data unless given, see :func:`position_scale_for`).
        viewpoint_frame (str): ``'world'`` (the paper): viewpoints are read as
            given, and ``r`` is one per scene whatever the query. ``'query'``:
            every viewpoint is first turned about the vertical (+y) axis so that
            the query's yaw is 0 (:func:`gqn.model.gqn.to_query_frame`), so the
            networks never see the absolute yaw; ``r`` is then computed once per
            query. For data whose distribution does not change when the world
            turns about +y (a camera sphere or ring around a random object).
        logvar_bound (float): the log-variances of the prior and posterior
            heads are soft-clamped to ``(-logvar_bound, logvar_bound)`` by
            ``logvar_bound * tanh(lv / logvar_bound)`` (:func:`gqn.model.generator.soft_clamp`),
            so no ``exp`` of one (sampling, the KL and their gradients) can
            overflow; 0 turns the clamp off (the paper's unbounded heads). The
            default, 20, keeps latent standard deviations within ``e^±10``, and
            every ``exp`` the KL takes and its gradient below ``e^40 ≈ 2e17``,
            far from float32's ``3e38``; near 0, where trained heads live, it is
            the identity to within ``lv^3 / 1200`` (slope above 0.9 for
            ``|lv| < 6.5``). A ``hyperparams.json`` without the key was written
            before the clamp existed and loads with it off (:meth:`from_json`),
            so old runs evaluate and resume as they trained.
    """
    image_size: int = 64
    viewpoint_size: int = 7
    representation: str = 'tower'
    r_channels: int = 256
    h_channels: int = 128
    u_channels: int = 128
    z_channels: int = 3
    generation_steps: int = 12
    shared_core: bool = False
    lstm_kernel_size: int = 5
    position_scale: float = 1.0
    viewpoint_frame: str = 'world'
    logvar_bound: float = 20.0

    def __post_init__(self):
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.type is int and (not isinstance(value, int) or isinstance(value, bool)
                                  or value <= 0):
                raise GQNError('hyperparameter %s must be a positive integer, got %r'
                               % (f.name, value))
        if not isinstance(self.shared_core, bool):
            raise GQNError('hyperparameter shared_core must be true or false, got %r'
                           % (self.shared_core,))
        if (isinstance(self.position_scale, bool)
                or not isinstance(self.position_scale, (int, float))
                or not 0 < self.position_scale < float('inf')):
            raise GQNError('hyperparameter position_scale must be a positive number, got %r'
                           % (self.position_scale,))
        if (isinstance(self.logvar_bound, bool)
                or not isinstance(self.logvar_bound, (int, float))
                or not 0 <= self.logvar_bound < float('inf')):
            raise GQNError('hyperparameter logvar_bound must be a number >= 0 (0: no bound), '
                           'got %r' % (self.logvar_bound,))
        if self.representation not in REPRESENTATIONS:
            raise GQNError('unknown representation %r (choose from %s)'
                           % (self.representation, ', '.join(REPRESENTATIONS)))
        if self.viewpoint_frame not in VIEWPOINT_FRAMES:
            raise GQNError('unknown viewpoint_frame %r (choose from %s)'
                           % (self.viewpoint_frame, ', '.join(VIEWPOINT_FRAMES)))
        if self.image_size % 16:
            raise GQNError('image_size must be a multiple of 16, got %d' % self.image_size)
        if self.lstm_kernel_size % 2 == 0:
            raise GQNError('lstm_kernel_size must be odd, got %d' % self.lstm_kernel_size)

    @property
    def h_size(self):
        """Height = width of the ConvLSTM states (``image_size // 4``)."""
        return self.image_size // 4

    @property
    def r_size(self):
        """Height = width of ``r``: ``h_size`` for the tower and attention, else 1."""
        return self.h_size if self.representation in ('tower', 'attention') else 1

    @property
    def num_cores(self):
        """Number of distinct cores of each kind: 1 if shared, else ``L``."""
        return 1 if self.shared_core else self.generation_steps

    def to_dict(self):
        """The fields as a plain ``dict`` (JSON-serialisable)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d):
        """Build from a ``dict``; missing keys take the defaults.

        Raises:
            GQNError: on unknown keys (named in the message) or bad values.
        """
        if not isinstance(d, dict):
            raise GQNError('hyperparameters must be a JSON object, got %s' % type(d).__name__)
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise GQNError('unknown hyperparameters: %s' % ', '.join(unknown))
        return cls(**d)

    def to_json(self, path):
        """Write the fields to ``path`` atomically."""
        from gqn.files import atomic_write_json
        atomic_write_json(path, self.to_dict())

    @classmethod
    def from_json(cls, path):
        """Read hyperparameters written by :meth:`to_json`; a file without
        ``logvar_bound`` (written before it existed) gets 0, no bound, as it trained."""
        d = read_json(path, 'hyperparameters')
        if isinstance(d, dict):
            d = {'logvar_bound': 0, **d}
        try:
            return cls.from_dict(d)
        except GQNError as e:
            raise GQNError('%s: %s' % (path, e)) from None


def position_scale_for(viewpoints):
    """The ``position_scale`` that gives camera positions unit RMS length.

    Raw positions are large next to the other inputs (a camera at distance 6.5
    gives x, y, z of up to 6.5, beside cos/sin pairs and pixels in [0, 1]); at
    unit scale the networks learn measurably faster (docs/training.md).

    Args:
        viewpoints (numpy.ndarray): ``(..., 7)`` viewpoints of training views.

    Returns:
        float: ``1 / RMS |(x, y, z)|`` to 4 significant digits; 1.0 where all
        cameras sit at the origin.
    """
    import numpy as np
    xyz = np.asarray(viewpoints, dtype=np.float64)[..., :3].reshape(-1, 3)
    rms = float(np.sqrt((xyz ** 2).sum(axis=1).mean())) if len(xyz) else 0.0
    if not rms > 0 or not np.isfinite(rms):
        return 1.0
    return float('%.4g' % (1 / rms))
