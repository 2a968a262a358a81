"""Cameras: the axis convention, pose <-> viewpoint conversion, samplers, intrinsics.

Axis convention (the one place it is defined; ``datasets/README.md`` repeats it):

* World axes are right-handed and **+Y is up** (pyrender/OpenGL convention).
* A camera pose is a 4x4 camera-to-world matrix of an OpenGL camera: the
  camera looks along its local **-Z** axis, its local +Y is image-up and
  +X is image-right.
* **yaw** is the right-handed rotation about +Y, measured from the **+Z**
  axis: yaw 0 points at +Z, yaw +90 degrees points at +X.
* **pitch** is the elevation above the horizontal XZ plane: positive pitch
  means y > 0, i.e. the camera is above the object and looks down.
* A direction with angles (yaw, pitch) is
  ``(cos pitch sin yaw, sin pitch, cos pitch cos yaw)``, so for a camera at
  position ``(x, y, z)``: ``yaw = atan2(x, z)``,
  ``pitch = atan2(y, sqrt(x^2 + z^2))``.
* Yaw and pitch of a *pose* are the angles of the camera's local +Z axis
  (the direction from what it looks at back to the camera). For a camera
  looking at the origin, as the sphere camera does, they equal the angles of
  its position, and the camera rotation is ``R_y(yaw) @ R_x(-pitch)``
  (zero roll).
* The 7-d viewpoint of a view is
  ``(x, y, z, cos yaw, sin yaw, cos pitch, sin pitch)``, float32.

Pixel ``(row, col)`` of an ``H x W`` image has row 0 at the top; a world point
``X`` projects to ``col = cx + fx * Xc / -Zc`` and ``row = cy - fy * Yc / -Zc``
where ``(Xc, Yc, Zc)`` is ``X`` in camera coordinates and ``fx, fy, cx, cy``
come from :func:`intrinsics` (perspective cameras).
"""
import math

import numpy as np

from gqn.errors import GQNError

#: Human-readable summary of the convention, stored in every manifest.
AXIS_CONVENTION = {
    'up': '+y',
    'yaw': 'rotation about +y, 0 at +z, +90 deg at +x: yaw = atan2(x, z)',
    'pitch': 'elevation above the xz plane, positive above: pitch = atan2(y, hypot(x, z))',
    'camera': 'OpenGL: looks along local -z, local +y is image up; pose = camera-to-world',
    'viewpoint': '(x, y, z, cos yaw, sin yaw, cos pitch, sin pitch)',
}


def direction(yaw, pitch):
    """Unit vector(s) with the given yaw and pitch (radians), shape ``(..., 3)``."""
    yaw = np.asarray(yaw, dtype=np.float64)
    pitch = np.asarray(pitch, dtype=np.float64)
    return np.stack([np.cos(pitch) * np.sin(yaw), np.sin(pitch),
                     np.cos(pitch) * np.cos(yaw)], axis=-1)


def yaw_pitch(xyz):
    """Yaw and pitch (radians) of the vector(s) ``xyz`` of shape ``(..., 3)``."""
    xyz = np.asarray(xyz, dtype=np.float64)
    x, y, z = xyz[..., 0], xyz[..., 1], xyz[..., 2]
    return np.arctan2(x, z), np.arctan2(y, np.hypot(x, z))


def rotation(yaw, pitch):
    """Camera rotation(s) ``R_y(yaw) @ R_x(-pitch)``, shape ``(..., 3, 3)``.

    Column 0 is the camera's +X (image right), column 1 its +Y (image up),
    column 2 its +Z (backwards, the direction with angles yaw, pitch).
    """
    yaw = np.asarray(yaw, dtype=np.float64)
    pitch = np.asarray(pitch, dtype=np.float64)
    return _rotation(np.cos(yaw), np.sin(yaw), np.cos(pitch), np.sin(pitch))


def _unit_pair(c, s):
    """``(c, s)`` scaled to unit norm (``(1, 0)`` for a zero pair) with exactly rounded ops.

    Square root and division give the same bits in every SIMD lane and
    process, unlike ``arctan2``/``cos``/``sin``, so stored poses are
    reproducible byte for byte whichever worker computes them.
    """
    n = np.sqrt(c * c + s * s)
    zero = n == 0
    n = np.where(zero, 1.0, n)
    return np.where(zero, 1.0, c / n), np.where(zero, 0.0, s / n)


def _rotation(cy, sy, cp, sp):
    zero = np.zeros_like(cy)
    x_axis = np.stack([cy, zero, -sy], axis=-1)
    y_axis = np.stack([-sp * sy, cp + zero, -sp * cy], axis=-1)
    z_axis = np.stack([cp * sy, sp + zero, cp * cy], axis=-1)
    return np.stack([x_axis, y_axis, z_axis], axis=-1)


def pose_from_viewpoint(viewpoint):
    """Camera-to-world pose(s) ``(..., 4, 4)`` float64 of 7-d viewpoint(s).

    The position is ``viewpoint[..., :3]``; the cos/sin pairs of yaw and
    pitch are normalised to unit norm (the angles are ``atan2(sin, cos)``), so
    pairs need not be exactly unit-norm. Roll is zero.
    """
    v = np.asarray(viewpoint, dtype=np.float64)
    if v.shape[-1] != 7:
        raise GQNError('a viewpoint has 7 numbers, got shape %s' % (v.shape,))
    cy, sy = _unit_pair(v[..., 3], v[..., 4])
    cp, sp = _unit_pair(v[..., 5], v[..., 6])
    pose = np.zeros(v.shape[:-1] + (4, 4))
    pose[..., :3, :3] = _rotation(cy, sy, cp, sp)
    pose[..., :3, 3] = v[..., :3]
    pose[..., 3, 3] = 1.0
    return pose


def viewpoint_from_pose(pose):
    """7-d viewpoint(s) float32 ``(..., 7)`` of camera-to-world pose(s) ``(..., 4, 4)``."""
    pose = np.asarray(pose, dtype=np.float64)
    yaw, pitch = yaw_pitch(pose[..., :3, 2])
    return viewpoint(pose[..., :3, 3], yaw, pitch)


def viewpoint(position, yaw, pitch):
    """Pack position ``(..., 3)``, yaw and pitch ``(...)`` into float32 ``(..., 7)``."""
    position = np.asarray(position, dtype=np.float64)
    return np.concatenate([
        position, np.stack([np.cos(yaw), np.sin(yaw), np.cos(pitch), np.sin(pitch)], axis=-1),
    ], axis=-1).astype(np.float32)


def look_at_origin(position):
    """Viewpoint(s) float32 ``(..., 7)`` of cameras at ``position`` looking at the origin."""
    yaw, pitch = yaw_pitch(position)
    return viewpoint(position, yaw, pitch)


def parse_up(text):
    """A world-up axis: ``+z``, ``-y``, ``y``, or three numbers ``a,b,c``; a unit
    float64 ``(3,)``."""
    axes = {'x': 0, 'y': 1, 'z': 2}
    t = text.strip().lower()
    if t.lstrip('+-') in axes and len(t) <= 2:
        v = np.zeros(3)
        v[axes[t.lstrip('+-')]] = -1.0 if t.startswith('-') else 1.0
        return v
    try:
        v = np.array([float(c) for c in t.split(',')])
    except ValueError:
        v = np.zeros(0)
    if v.shape != (3,) or not np.all(np.isfinite(v)) or np.linalg.norm(v) == 0:
        raise GQNError('up must be +x, -x, +y, -y, +z, -z or three numbers a,b,c; got %r'
                       % text)
    return v / np.linalg.norm(v)


def up_rotation(up):
    """The rotation ``(3, 3)`` that turns the unit vector ``up`` onto +y (about the axis
    perpendicular to both; a half turn about +x for -y)."""
    u = np.asarray(up, dtype=np.float64)
    u = u / np.linalg.norm(u)
    y = np.array([0.0, 1.0, 0.0])
    c = float(u @ y)
    if c > 1 - 1e-12:
        return np.eye(3)
    if c < -1 + 1e-12:
        return np.diag([1.0, -1.0, -1.0])
    axis = np.cross(u, y)
    s = np.linalg.norm(axis)
    k = axis / s
    K = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
    return np.eye(3) + s * K + (1 - c) * K @ K


class SphereCamera:
    """Cameras on a sphere (shell) around the origin, looking at the origin.

    Positions are uniform on the spherical zone between the pitch limits
    (``sin pitch`` uniform, yaw uniform in ``[0, 2 pi)``); the distance is
    uniform in ``[min_distance, max_distance]``.

    Args:
        params (dict): the recipe's ``[camera]`` table, with keys
            ``min_distance``, ``max_distance`` (world units),
            ``min_pitch_deg``, ``max_pitch_deg`` (degrees, within +-90).
    """

    name = 'sphere'
    defaults = {'min_distance': 9.0, 'max_distance': 9.0,
                'min_pitch_deg': -90.0, 'max_pitch_deg': 90.0}

    def __init__(self, params):
        p = dict(self.defaults, **params)
        if not 0 < p['min_distance'] <= p['max_distance']:
            raise GQNError('camera: need 0 < min_distance <= max_distance, got %s, %s'
                           % (p['min_distance'], p['max_distance']))
        if not -90 <= p['min_pitch_deg'] <= p['max_pitch_deg'] <= 90:
            raise GQNError('camera: need -90 <= min_pitch_deg <= max_pitch_deg <= 90')
        self.params = p

    def sample(self, rng, views, spec=None):
        """Viewpoints float32 ``(views, 7)`` drawn with ``rng`` (``spec`` is not used)."""
        p = self.params
        yaw = rng.uniform(0.0, 2 * math.pi, views)
        s = rng.uniform(math.sin(math.radians(p['min_pitch_deg'])),
                        math.sin(math.radians(p['max_pitch_deg'])), views)
        pitch = np.arcsin(s)
        distance = rng.uniform(p['min_distance'], p['max_distance'], views)
        position = distance[:, None] * direction(yaw, pitch)
        return viewpoint(position, yaw, pitch)


class RingCamera:
    """Cameras on a horizontal circle around the vertical axis through the origin.

    Yaw is uniform in ``[0, 2 pi)``; every camera is at the same height and
    distance from the axis and looks at the axis, tilted down by ``pitch_deg``
    (0: looking horizontally).

    Args:
        params (dict): ``radius`` (world units, distance from the y axis),
            ``height`` (world units, camera y), ``pitch_deg`` (degrees,
            positive looks down, within +-90).
    """

    name = 'ring'
    defaults = {'radius': 3.0, 'height': 1.0, 'pitch_deg': 0.0}

    def __init__(self, params):
        p = dict(self.defaults, **params)
        if not p['radius'] > 0:
            raise GQNError('camera: radius must be positive, got %s' % p['radius'])
        if not -90 < p['pitch_deg'] < 90:
            raise GQNError('camera: pitch_deg must be in (-90, 90), got %s' % p['pitch_deg'])
        self.params = p

    def sample(self, rng, views, spec=None):
        """Viewpoints float32 ``(views, 7)`` drawn with ``rng`` (``spec`` is not used)."""
        p = self.params
        yaw = rng.uniform(0.0, 2 * math.pi, views)
        position = np.stack([p['radius'] * np.sin(yaw), np.full(views, float(p['height'])),
                             p['radius'] * np.cos(yaw)], axis=-1)
        return viewpoint(position, yaw, np.full(views, math.radians(p['pitch_deg'])))


class FreeCamera:
    """Cameras anywhere inside a scene's room, looking in random directions.

    Positions are uniform over the room's floor (``spec['room']['size']``,
    centred on the origin) shrunk by ``margin``, at a height uniform in
    ``[min_height, max_height]``, and at least ``clearance`` away from every
    object footprint ``[x, z, r]`` of ``spec['room']['footprints']``. Yaw is
    uniform; pitch is uniform in ``[min_pitch_deg, max_pitch_deg]``.

    Args:
        params (dict): ``margin``, ``clearance``, ``min_height``,
            ``max_height`` (world units), ``min_pitch_deg``,
            ``max_pitch_deg`` (degrees, positive looks down).
    """

    name = 'free'
    defaults = {'margin': 0.3, 'clearance': 0.3, 'min_height': 0.5, 'max_height': 1.5,
                'min_pitch_deg': -10.0, 'max_pitch_deg': 30.0}

    def __init__(self, params):
        p = dict(self.defaults, **params)
        if not (p['margin'] >= 0 and p['clearance'] >= 0 and 0 <= p['min_height'] <= p['max_height']):
            raise GQNError('camera: need margin, clearance >= 0 and 0 <= min_height <= max_height')
        if not -90 < p['min_pitch_deg'] <= p['max_pitch_deg'] < 90:
            raise GQNError('camera: need -90 < min_pitch_deg <= max_pitch_deg < 90')
        self.params = p

    def sample(self, rng, views, spec=None):
        """Viewpoints float32 ``(views, 7)`` inside ``spec['room']``, drawn with ``rng``."""
        p = self.params
        room = (spec or {}).get('room')
        if room is None:
            raise GQNError("camera: the free camera needs a scene with a room (spec['room'])")
        half = np.asarray(room['size'], dtype=np.float64) / 2 - p['margin']
        if not np.all(half > 0) or p['max_height'] >= room['height']:
            raise GQNError('camera: room %s x %s is too small for margin %s and max_height %s'
                           % (room['size'][0], room['size'][1], p['margin'], p['max_height']))
        footprints = np.asarray(room.get('footprints', []), dtype=np.float64).reshape(-1, 3)
        xz = np.empty((views, 2))
        for i in range(views):
            for _ in range(1000):
                xz[i] = rng.uniform(-half, half)
                gap = np.hypot(*(xz[i] - footprints[:, :2]).T) - footprints[:, 2]
                if np.all(gap >= p['clearance']):
                    break
            else:
                raise GQNError('camera: no free camera position found in 1000 tries; '
                               'lower clearance or use fewer objects')
        height = rng.uniform(p['min_height'], p['max_height'], views)
        yaw = rng.uniform(0.0, 2 * math.pi, views)
        pitch = np.radians(rng.uniform(p['min_pitch_deg'], p['max_pitch_deg'], views))
        return viewpoint(np.stack([xz[:, 0], height, xz[:, 1]], axis=-1), yaw, pitch)


class FrameCamera:
    """Cameras on a circle around a scene's objects, framing them.

    The circle is centred above the middle of the objects' footprints
    (``spec['room']['footprints']``, ``[x, z, radius]`` each): every camera
    looks at the point ``target_height`` above the floor there, from
    ``spread`` times the radius of the circle that holds every footprint
    (at least ``min_distance``), tilted down by ``pitch_deg``; yaw is
    uniform. So the objects stay in view and fill a steady share of it
    whether a scene has one object or several far apart (the ``objects``
    family's default; ``spread`` 2.8 suits the default 45-degree field of
    view).

    Args:
        params (dict): ``spread`` (factor), ``min_distance``, ``target_height``
            (world units), ``pitch_deg`` (degrees, positive looks down).
    """

    name = 'frame'
    defaults = {'spread': 2.8, 'min_distance': 2.0, 'target_height': 0.5, 'pitch_deg': 25.0}

    def __init__(self, params):
        p = dict(self.defaults, **params)
        if not (p['spread'] > 0 and p['min_distance'] > 0):
            raise GQNError('camera: spread and min_distance must be positive')
        if not -90 < p['pitch_deg'] < 90:
            raise GQNError('camera: pitch_deg must be in (-90, 90), got %s' % p['pitch_deg'])
        self.params = p

    def sample(self, rng, views, spec=None):
        """Viewpoints float32 ``(views, 7)`` around ``spec``'s objects, drawn with ``rng``."""
        p = self.params
        footprints = np.asarray(((spec or {}).get('room') or {}).get('footprints', []),
                                dtype=np.float64).reshape(-1, 3)
        if not len(footprints):
            raise GQNError("camera: the frame camera needs object footprints "
                           "(spec['room']['footprints'])")
        lo = (footprints[:, :2] - footprints[:, 2:]).min(axis=0)
        hi = (footprints[:, :2] + footprints[:, 2:]).max(axis=0)
        centre = (lo + hi) / 2
        radius = (np.hypot(*(footprints[:, :2] - centre).T) + footprints[:, 2]).max()
        distance = max(p['min_distance'], p['spread'] * radius)
        yaw = rng.uniform(0.0, 2 * math.pi, views)
        pitch = np.full(views, math.radians(p['pitch_deg']))
        target = np.array([centre[0], p['target_height'], centre[1]])
        return viewpoint(target + distance * direction(yaw, pitch), yaw, pitch)


class FunctionCamera:
    """A camera sampler made of a user function ``fn(rng, views, spec) -> (views, 7)``.

    Used when the ``[camera]`` ``type`` names a plain function
    (``"mypkg.cameras:orbit"``); it takes no other keys.
    """

    defaults = {}

    def __init__(self, fn, params):
        self.fn = fn
        self.params = dict(params)

    def sample(self, rng, views, spec=None):
        v = np.asarray(self.fn(rng, views, spec), dtype=np.float32)
        if v.shape != (views, 7) or not np.all(np.isfinite(v)):
            raise GQNError('camera %r returned %s viewpoints, need finite (%d, 7)'
                           % (getattr(self.fn, '__name__', self.fn), v.shape, views))
        return v


#: Camera samplers by name (the recipe's ``[camera] type``). Any other
#: ``type`` of the form ``"module:attr"`` names a user sampler: a class with
#: the same interface (``defaults``, ``__init__(params)``,
#: ``sample(rng, views, spec)``) or a function ``fn(rng, views, spec)``.
SAMPLERS = {SphereCamera.name: SphereCamera, RingCamera.name: RingCamera,
            FreeCamera.name: FreeCamera, FrameCamera.name: FrameCamera}


def _sampler_class(kind):
    if kind in SAMPLERS:
        return SAMPLERS[kind]
    if isinstance(kind, str) and ':' in kind:
        from renderer.families import import_object
        obj = import_object(kind, 'camera type')
        if isinstance(obj, type):
            return obj
        if callable(obj):
            return lambda params: FunctionCamera(obj, params)
    raise GQNError('camera: unknown type %r (known: %s, or "module:attr")'
                   % (kind, ', '.join(SAMPLERS)))


#: Keys of the ``[camera]`` table every sampler shares: the intrinsics.
INTRINSIC_DEFAULTS = {'type': 'sphere', 'projection': 'perspective', 'yfov_deg': 45.0,
                      'ortho_size': 3.0, 'znear': 0.1, 'zfar': 100.0}


def get_sampler(params):
    """The camera sampler of a ``[camera]`` table (intrinsic keys are skipped)."""
    kind = params.get('type', INTRINSIC_DEFAULTS['type'])
    return _sampler_class(kind)({k: v for k, v in params.items() if k not in INTRINSIC_DEFAULTS})


def camera_keys(kind):
    """All keys the ``[camera]`` table accepts for sampler ``kind``, with defaults."""
    cls = _sampler_class(kind)
    return dict(INTRINSIC_DEFAULTS, type=kind, **getattr(cls, 'defaults', {}))


def intrinsics(params, image_size):
    """Intrinsics of a ``[camera]`` table for square ``image_size`` images.

    Returns:
        dict: ``projection`` ('perspective' or 'orthographic'), ``width``,
        ``height``, ``znear``, ``zfar`` and ``yfov`` (radians) with pinhole
        ``fx, fy, cx, cy`` (pixels) for perspective cameras, or ``xmag``,
        ``ymag`` (half extents in world units) for orthographic ones.
    """
    p = dict(INTRINSIC_DEFAULTS, **params)
    if not 0 < p['znear'] < p['zfar']:
        raise GQNError('camera: need 0 < znear < zfar')
    out = {'projection': p['projection'], 'width': image_size, 'height': image_size,
           'znear': float(p['znear']), 'zfar': float(p['zfar'])}
    if p['projection'] == 'perspective':
        if not 0 < p['yfov_deg'] < 180:
            raise GQNError('camera: yfov_deg must be in (0, 180), got %s' % p['yfov_deg'])
        yfov = math.radians(p['yfov_deg'])
        f = image_size / 2 / math.tan(yfov / 2)
        out.update(yfov=yfov, fx=f, fy=f, cx=image_size / 2, cy=image_size / 2)
    elif p['projection'] == 'orthographic':
        if not p['ortho_size'] > 0:
            raise GQNError('camera: ortho_size must be positive')
        out.update(xmag=float(p['ortho_size']), ymag=float(p['ortho_size']))
    else:
        raise GQNError("camera: projection must be 'perspective' or 'orthographic', got %r"
                       % (p['projection'],))
    return out


def project(intr, pose, points):
    """Pixel coordinates ``(..., 2)`` as ``(col, row)`` of world ``points`` ``(..., 3)``.

    Uses the convention above: the centre of the top-left pixel is (0.5, 0.5).
    """
    points = np.asarray(points, dtype=np.float64)
    world_to_cam = np.linalg.inv(np.asarray(pose, dtype=np.float64))
    pc = points @ world_to_cam[:3, :3].T + world_to_cam[:3, 3]
    if intr['projection'] == 'perspective':
        depth = -pc[..., 2]
        col = intr['cx'] + intr['fx'] * pc[..., 0] / depth
        row = intr['cy'] - intr['fy'] * pc[..., 1] / depth
    else:
        col = intr['width'] / 2 * (1 + pc[..., 0] / intr['xmag'])
        row = intr['height'] / 2 * (1 - pc[..., 1] / intr['ymag'])
    return np.stack([col, row], axis=-1)
