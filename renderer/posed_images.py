"""Posed images in and out: ``gqn import-images`` and ``gqn export-nerfstudio``.

**In.** A source folder holds one folder per scene; each scene folder holds its images and
their poses in one of two files:

- ``transforms.json`` (nerfstudio, instant-ngp, NeRF's Blender scenes): ``frames`` of
  ``file_path`` (relative to the file; a path without a suffix gets ``.png``) and
  ``transform_matrix``, a 4x4 camera-to-world matrix of an OpenGL camera (looks along its
  -z, +y is image-up: this project's camera, :mod:`renderer.camera`); intrinsics
  ``fl_x``/``fl_y`` (pixels, with ``cx``, ``cy``) or ``camera_angle_x`` (radians). The
  world's up axis is the file's ``up`` (a 3-vector, which :func:`export_nerfstudio` writes)
  or the ``up`` argument (nerfstudio's and Blender's worlds are z-up: ``+z``). The world is
  turned so that up is +y.
- ``poses.csv``: a header ``file,x,y,z,yaw,pitch`` and one row per image: the camera's
  position and its yaw and pitch **in degrees**, in this project's convention (+y up; yaw
  about +y from +z; pitch above the horizontal; the camera looks along the direction
  opposite to (yaw, pitch), so a camera with the angles of its position looks at the
  origin).

Each image is cropped to a square (the centred square, or a given box), resized with a
Lanczos filter to the image size, and its pose becomes a 7-d viewpoint. A viewpoint has no
roll: a pose's roll about its viewing axis is measured, reported per scene (the largest, in
degrees) and dropped. Every scene gets the same number of views: a scene with more has
some picked (at random from a seed, or the first ones), one with fewer is named and
skipped. Everything is read and checked before anything is written; the dataset is
written into a temporary folder renamed at the end, so a bad input (a missing or
unreadable image, a malformed matrix, images of mixed sizes in a scene) names its file and
leaves nothing behind.

**Out.** :func:`export_nerfstudio` writes one folder per scene with a ``transforms.json``
(the views' camera-to-world matrices, the intrinsics from the manifest, ``"up": [0, 1, 0]``)
and its images as PNGs, for NeRF tools.
"""
import csv
import math
import os

import numpy as np

from gqn.errors import GQNError
from renderer import camera

#: The manifest's ``kind`` of an imported dataset.
KIND = 'posed_images'
TRANSFORMS = 'transforms.json'
POSES_CSV = 'poses.csv'
CSV_COLUMNS = ['file', 'x', 'y', 'z', 'yaw', 'pitch']


def roll_of(rotation):
    """The roll (radians) of a camera-to-world rotation ``(3, 3)`` of an OpenGL camera in
    a +y-up world: the angle from the zero-roll image-up (:func:`renderer.camera.rotation`)
    to its own, about its viewing axis."""
    yaw, pitch = camera.yaw_pitch(rotation[:, 2])
    level = camera.rotation(yaw, pitch)[:, 1]
    up = rotation[:, 1]
    return math.atan2(float(np.cross(level, up) @ rotation[:, 2]), float(level @ up))


def _matrix(value, where):
    try:
        m = np.array(value, dtype=np.float64)
    except (TypeError, ValueError):
        m = np.zeros(0)
    if m.shape != (4, 4) or not np.all(np.isfinite(m)):
        raise GQNError('%s: transform_matrix must be 4x4 finite numbers' % where)
    r = m[:3, :3]
    if (np.abs(r.T @ r - np.eye(3)).max() > 1e-3 or np.linalg.det(r) < 0
            or np.abs(m[3] - [0, 0, 0, 1]).max() > 1e-6):
        raise GQNError('%s: transform_matrix is not a rigid camera-to-world pose (rotation '
                       'not orthonormal, a mirror, or last row not 0 0 0 1)' % where)
    return m


def read_transforms(path, up=None):
    """The images and poses of a ``transforms.json``.

    Args:
        path (str): the file.
        up (str or None): the world's up axis when the file has no ``up`` (:func:`renderer.camera.parse_up`).

    Returns:
        dict: ``files`` (image paths), ``poses`` float64 ``(N, 4, 4)`` camera-to-world in a
        +y-up world, ``focal`` (vertical focal length in pixels, or ``None`` with
        ``camera_angle_x`` until the image width is known: then ``angle_x``), ``cx``,
        ``cy`` (or ``None``), ``up`` (the axis used).
    """
    from gqn.files import read_json
    d = read_json(path, 'transforms')
    if not isinstance(d, dict) or not isinstance(d.get('frames'), list) or not d['frames']:
        raise GQNError('%s: expected a JSON object with a non-empty "frames" list' % path)
    if 'up' in d:
        try:
            axis = camera.parse_up(','.join(str(float(c)) for c in d['up']))
        except (TypeError, ValueError):
            raise GQNError('%s: "up" must be three numbers' % path) from None
    elif up is not None:
        axis = camera.parse_up(up)
    else:
        raise GQNError('%s: no "up" in the file: pass --up (nerfstudio and Blender scenes '
                       'are +z)' % path)
    turn = camera.up_rotation(axis)
    folder = os.path.dirname(path)
    files, poses = [], []
    for i, frame in enumerate(d['frames']):
        where = '%s: frames[%d]' % (path, i)
        if not isinstance(frame, dict) or not isinstance(frame.get('file_path'), str):
            raise GQNError('%s: needs "file_path" and "transform_matrix"' % where)
        m = _matrix(frame.get('transform_matrix'), where)
        name = os.path.join(folder, frame['file_path'])
        if not os.path.splitext(name)[1] and not os.path.exists(name):
            name += '.png'
        files.append(os.path.normpath(name))
        pose = np.eye(4)
        pose[:3, :3] = turn @ m[:3, :3]
        pose[:3, 3] = turn @ m[:3, 3]
        poses.append(pose)
    info = {'files': files, 'poses': np.array(poses), 'up': axis.tolist(),
            'cx': d.get('cx'), 'cy': d.get('cy'), 'focal': None, 'angle_x': None}
    if 'fl_y' in d or 'fl_x' in d:
        info['focal'] = float(d.get('fl_y', d.get('fl_x')))
    elif 'camera_angle_x' in d:
        info['angle_x'] = float(d['camera_angle_x'])
    return info


def read_poses_csv(path):
    """The images and poses of a ``poses.csv`` (yaw and pitch in degrees): a dict as
    :func:`read_transforms`' (no intrinsics)."""
    try:
        with open(path, newline='') as f:
            rows = list(csv.reader(f))
    except (OSError, UnicodeDecodeError) as e:
        raise GQNError('%s: unreadable (%s)' % (path, e)) from None
    if not rows or [c.strip() for c in rows[0]] != CSV_COLUMNS:
        raise GQNError('%s: the first line must be the header %s' % (path, ','.join(CSV_COLUMNS)))
    files, poses = [], []
    for n, row in enumerate(rows[1:], start=2):
        if not row:
            continue
        try:
            x, y, z, yaw, pitch = (float(c) for c in row[1:])
            if not np.all(np.isfinite([x, y, z, yaw, pitch])):
                raise ValueError
        except ValueError:
            raise GQNError('%s: line %d: expected a file name and five finite numbers'
                           % (path, n)) from None
        files.append(os.path.normpath(os.path.join(os.path.dirname(path), row[0].strip())))
        poses.append(camera.pose_from_viewpoint(camera.viewpoint(
            (x, y, z), math.radians(yaw), math.radians(pitch)).astype(np.float64)))
    if not files:
        raise GQNError('%s: no rows' % path)
    return {'files': files, 'poses': np.array(poses), 'up': [0.0, 1.0, 0.0], 'cx': None,
            'cy': None, 'focal': None, 'angle_x': None}


def _square(size, crop, where):
    """The crop box ``(x0, y0, x1, y1)`` of an image of ``size`` (width, height)."""
    w, h = size
    if crop is None:
        side = min(w, h)
        x0, y0 = (w - side) // 2, (h - side) // 2
        return x0, y0, x0 + side, y0 + side
    x0, y0, x1, y1 = crop
    if not (0 <= x0 < x1 <= w and 0 <= y0 < y1 <= h):
        raise GQNError('%s: the crop box %s does not fit its %dx%d pixels' % (where, crop, w, h))
    return crop


def load_view(path, size, crop):
    """One image cropped and resized: uint8 ``(size, size, 3)``, the box, the source size."""
    from PIL import Image, UnidentifiedImageError
    if not os.path.exists(path):
        raise GQNError('%s: no such image' % path)
    try:
        with Image.open(path) as img:
            img.load()
            rgb = img.convert('RGB')
    except (OSError, UnidentifiedImageError, ValueError) as e:
        raise GQNError('%s: unreadable image (%s)' % (path, e)) from None
    box = _square(rgb.size, crop, path)
    out = rgb.crop(box).resize((size, size), Image.Resampling.LANCZOS)
    return np.asarray(out, dtype=np.uint8), box, rgb.size


def find_scenes(source):
    """The scene folders of ``source`` (sorted) and each one's pose file."""
    if not os.path.isdir(source):
        raise GQNError('%s: no such folder' % source)
    scenes = []
    for name in sorted(os.listdir(source)):
        folder = os.path.join(source, name)
        if not os.path.isdir(folder):
            continue
        for pose_file in (TRANSFORMS, POSES_CSV):
            if os.path.exists(os.path.join(folder, pose_file)):
                scenes.append((name, os.path.join(folder, pose_file)))
                break
    if not scenes:
        raise GQNError('%s: no scene folders with a %s or %s' % (source, TRANSFORMS, POSES_CSV))
    return scenes


def import_images(source, out, image_size=64, views=None, pick='random', seed=0,
                  test_scenes=0, up=None, crop=None, scenes_per_shard=100, log=print):
    """Import posed images into a shard dataset (module docstring).

    Args:
        source (str): a folder of scene folders.
        out (str): the dataset root to create (must not exist, or be empty).
        image_size (int): the side of the written images.
        views (int or None): views per scene; ``None``: the fewest any scene has.
        pick (str): ``'random'`` (from ``seed``) or ``'first'``: which views a scene with
            more keeps (in file order either way).
        test_scenes (int): the last scenes (in sorted folder order) go to the ``test``
            split, the others to ``train``.
        up (str or None): the world's up axis for ``transforms.json`` files without one.
        crop (tuple or None): a square box ``(x0, y0, x1, y1)`` in source pixels; ``None``
            is the centred square.

    Returns:
        dict: the manifest written.

    Raises:
        GQNError: bad input, naming the file; nothing is written.
    """
    from tqdm import tqdm

    from gqn import files
    from gqn.data import shards
    if image_size < 1 or scenes_per_shard < 1 or test_scenes < 0:
        raise GQNError('image size, scenes per shard must be positive, test scenes >= 0')
    if pick not in ('random', 'first'):
        raise GQNError("pick must be 'random' or 'first', got %r" % pick)
    if crop is not None and crop[2] - crop[0] != crop[3] - crop[1]:
        raise GQNError('the crop box %s is not square' % (crop,))
    if os.path.exists(out) and os.listdir(out):
        raise GQNError('%s already exists and is not empty: choose another --out' % out)
    found = find_scenes(source)
    read = []
    for name, pose_file in found:
        info = (read_transforms(pose_file, up) if pose_file.endswith(TRANSFORMS)
                else read_poses_csv(pose_file))
        read.append((name, pose_file, info))
    counts = [len(info['files']) for _, _, info in read]
    views = views or min(counts)
    if views < 1:
        raise GQNError('views must be at least 1')
    kept = [(n, p, i) for n, p, i in read if len(i['files']) >= views]
    skipped = [{'scene': n, 'views': len(i['files'])} for n, p, i in read
               if len(i['files']) < views]
    for s in skipped:
        log('skipped %s: %d views, fewer than %d' % (s['scene'], s['views'], views))
    if not kept:
        raise GQNError('no scene has %d views (the most is %d)' % (views, max(counts)))
    if test_scenes >= len(kept):
        raise GQNError('--test-scenes %d leaves no training scene (%d scenes)'
                       % (test_scenes, len(kept)))
    rng = np.random.RandomState(seed)
    images = np.empty((len(kept), views, image_size, image_size, 3), np.uint8)
    viewpoints = np.empty((len(kept), views, 7), np.float32)
    rolls, intrinsics, differ = {}, None, []
    for s, (name, pose_file, info) in enumerate(tqdm(kept, desc='import', unit='scene', disable=None)):
        n = len(info['files'])
        chosen = (np.arange(views) if pick == 'first'
                  else np.sort(rng.choice(n, views, replace=False)))
        source_size = None
        for j, k in enumerate(chosen):
            images[s, j], box, size = load_view(info['files'][k], image_size, crop)
            if source_size is None:
                source_size = size
            elif size != source_size:
                raise GQNError('%s: %dx%d pixels, the other images of %s are %dx%d'
                               % ((info['files'][k],) + size + (name,) + source_size))
        poses = info['poses'][chosen]
        viewpoints[s] = camera.viewpoint_from_pose(poses)
        rolls[name] = round(max(abs(math.degrees(roll_of(p[:3, :3]))) for p in poses), 3)
        scene_intrinsics = _intrinsics(info, box, source_size, image_size)
        if s == 0:
            intrinsics = scene_intrinsics
        elif not _same_intrinsics(scene_intrinsics, intrinsics):
            differ.append(name)
    if differ:
        log('warning: the manifest records the intrinsics of %s (the first scene); these '
            'scenes differ from them: %s' % (kept[0][0], ', '.join(differ)))
    big = {k: v for k, v in rolls.items() if v > 0.5}
    if big:
        log('roll dropped (a viewpoint has none), the largest per scene in degrees: %s'
            % ', '.join('%s %.1f' % kv for kv in sorted(big.items())))
    split_of = ['train'] * (len(kept) - test_scenes) + ['test'] * test_scenes
    manifest = {
        'kind': KIND,
        'source': {'path': os.path.abspath(source), 'scenes': [n for n, _, _ in kept],
                   'pose_files': sorted({os.path.basename(p) for _, p, _ in kept}),
                   'up': read[0][2]['up'], 'skipped': skipped},
        'conversion': {
            'crop': 'centred square' if crop is None else list(crop),
            'resize': 'PIL Lanczos to %d px' % image_size,
            'views': 'pick %s (seed %d)' % (pick, seed) if pick == 'random' else 'first',
            'roll_dropped_deg': rolls,
            'intrinsics_differ': differ,
            'test_scenes': 'the last %d in sorted folder order' % test_scenes},
        'axis_convention': camera.AXIS_CONVENTION,
        'image_size': image_size, 'views': views, 'scenes_per_shard': scenes_per_shard,
        'intrinsics': intrinsics,
        'splits': {},
    }
    tmp = '%s.tmp%d' % (out.rstrip(os.sep), os.getpid())
    try:
        for split in ('train', 'test'):
            rows = [i for i, sp in enumerate(split_of) if sp == split]
            if not rows:
                continue
            shard_count = 0
            for index, start in enumerate(range(0, len(rows), scenes_per_shard)):
                part = rows[start:start + scenes_per_shard]
                shards.write_shard(tmp, split, index, images[part], viewpoints[part])
                shard_count += 1
            manifest['splits'][split] = {'scenes': len(rows), 'shards': shard_count}
        files.atomic_write_json(os.path.join(tmp, shards.MANIFEST), manifest)
        if os.path.exists(out):
            os.rmdir(out)
        os.rename(tmp, out)
    finally:
        if os.path.exists(tmp):
            import shutil
            shutil.rmtree(tmp)
    log('wrote %s: %s, %d views of %d px per scene' % (
        out, ', '.join('%s %d scenes' % (k, v['scenes']) for k, v in manifest['splits'].items()),
        views, image_size))
    return manifest


def _intrinsics(info, box, source_size, image_size):
    """The written images' intrinsics (as :func:`renderer.camera.intrinsics` gives them),
    or ``None`` when the pose file has none."""
    side = box[2] - box[0]
    focal = info['focal']
    if focal is None and info['angle_x'] is not None:
        focal = source_size[0] / 2 / math.tan(info['angle_x'] / 2)
    if focal is None:
        return None
    cx = info['cx'] if info['cx'] is not None else source_size[0] / 2
    cy = info['cy'] if info['cy'] is not None else source_size[1] / 2
    scale = image_size / side
    return {'projection': 'perspective', 'width': image_size, 'height': image_size,
            'fx': focal * scale, 'fy': focal * scale, 'cx': (cx - box[0]) * scale,
            'cy': (cy - box[1]) * scale, 'yfov': 2 * math.atan(side / 2 / focal)}


def _same_intrinsics(a, b, tolerance=1e-3):
    """Whether two :func:`_intrinsics` results agree (within ``tolerance`` of a pixel
    or a radian; ``None`` only equals ``None``)."""
    if a is None or b is None:
        return a is b
    return all(abs(a[k] - b[k]) <= tolerance for k in ('fx', 'fy', 'cx', 'cy', 'yfov'))


def export_nerfstudio(root, out, split='test', scenes=None, log=print):
    """Write scenes of a dataset as nerfstudio folders (module docstring).

    Args:
        root (str): the dataset; its manifest must have perspective ``intrinsics``.
        out (str): the folder to write (``<split>_<scene>/transforms.json`` and
            ``images/NN.png`` per scene).
        scenes (list of int or None): scene indices of the split; ``None``: all.

    Returns:
        list: the scene folders written.
    """
    from PIL import Image
    from tqdm import tqdm

    from gqn import files
    from gqn.data import shards
    from gqn.data.shard_dataset import ShardDataset
    manifest = shards.read_manifest(root)
    intr = (manifest or {}).get('intrinsics')
    if not intr or intr.get('projection') != 'perspective':
        raise GQNError('%s: the manifest has no perspective camera intrinsics to export '
                       '(datasets from gqn render and gqn import-images with a focal length '
                       'have them)' % root)
    dataset = ShardDataset(root, split, raw=True)
    scenes = list(range(len(dataset))) if scenes is None else scenes
    for i in scenes:
        if not 0 <= i < len(dataset):
            raise GQNError('scene %d out of range: the %s split has %d' % (i, split, len(dataset)))
    os.makedirs(out, exist_ok=True)
    written = []
    for i in tqdm(scenes, desc='export', unit='scene', disable=None):
        images, v = dataset[i]
        folder = os.path.join(out, '%s_%05d' % (split, i))
        os.makedirs(os.path.join(folder, 'images'), exist_ok=True)
        frames = []
        for j, (image, pose) in enumerate(zip(images, camera.pose_from_viewpoint(v))):
            name = 'images/%02d.png' % j
            picture = Image.fromarray(np.asarray(image))
            files.atomic_write(os.path.join(folder, name),
                               lambda f, p=picture: p.save(f, format='PNG'))
            frames.append({'file_path': name, 'transform_matrix': pose.tolist()})
        files.atomic_write_json(os.path.join(folder, TRANSFORMS), {
            'camera_model': 'OPENCV', 'fl_x': intr['fx'], 'fl_y': intr['fy'],
            'cx': intr['cx'], 'cy': intr['cy'], 'w': intr['width'], 'h': intr['height'],
            'up': [0.0, 1.0, 0.0], 'source': {'dataset': os.path.abspath(root),
                                             'split': split, 'scene': i},
            'frames': frames})
        written.append(folder)
    log('wrote %d scene folders to %s' % (len(written), out))
    return written
