"""``gqn gif``: a rotation GIF of the model imagining a scene from all around.

Each frame shows, left to right: the ``K`` context views, the ground truth
re-rendered from the scene spec (datasets from our renderer only), the
prediction mean (average of ``--mean-samples`` prior samples) and
``--samples`` individual prior samples, all from one viewpoint of a 360°
yaw orbit around the scene. The orbit's radius, height and pitch are the
medians of the scene's own cameras, so it follows the same camera
distribution the model was trained on (with ``--sweep-pitch`` the pitch
also swings between the lowest and highest pitch of the scene's cameras).

Every sample uses the same seed in every frame, so samples change smoothly
along the orbit instead of flickering; the output is byte-identical for a
given ``--seed``. MP4 output would need ffmpeg, which the toolkit does not
install, so only GIF is written.
"""
import os


def orbit_viewpoints(viewpoints, frames, start_yaw=0.0, sweep_pitch=False):
    """Viewpoints on a 360° yaw orbit fitted to a scene's cameras (+y up).

    Args:
        viewpoints (numpy.ndarray): ``(V, 7)`` the scene's own viewpoints.
        frames (int): number of orbit positions, ``360 / frames`` degrees apart.
        start_yaw (float): yaw (radians) of the first frame.
        sweep_pitch (bool): swing the pitch once between the scene's lowest
            and highest camera pitch instead of holding the median.

    Returns:
        numpy.ndarray: float32 ``(frames, 7)``; each camera looks towards the
        vertical axis through the origin.
    """
    import numpy as np
    p = viewpoints[:, :3].astype(np.float64)
    radius = np.median(np.hypot(p[:, 0], p[:, 2]))
    height = np.median(p[:, 1])
    pitch_of_view = np.arctan2(viewpoints[:, 6], viewpoints[:, 5])
    yaw = start_yaw + 2 * np.pi * np.arange(frames) / frames
    if sweep_pitch:
        lo, hi = pitch_of_view.min(), pitch_of_view.max()
        pitch = (lo + hi) / 2 + (hi - lo) / 2 * np.sin(2 * np.pi * np.arange(frames) / frames)
        distance = np.median(np.linalg.norm(p, axis=1))
        xyz = distance * np.stack([np.cos(pitch) * np.sin(yaw), np.sin(pitch),
                                   np.cos(pitch) * np.cos(yaw)], -1)
    else:
        pitch = np.full(frames, np.median(pitch_of_view))
        xyz = np.stack([radius * np.sin(yaw), np.full(frames, height), radius * np.cos(yaw)], -1)
    v = np.concatenate([xyz, np.stack([np.cos(yaw), np.sin(yaw), np.cos(pitch),
                                       np.sin(pitch)], -1)], -1)
    return v.astype(np.float32)


def context_views(views, context, seed, scene):
    """The indices (sorted, int ``(context,)``) of the context views of ``scene``:
    ``context`` of its ``views`` drawn without replacement from ``seed + scene``."""
    import numpy as np
    rng = np.random.RandomState(seed + scene)
    return np.sort(rng.choice(views, context, replace=False))


def _label(image, text):
    """uint8 image with a caption strip above it."""
    import numpy as np
    from PIL import Image, ImageDraw
    h, w = image.shape[:2]
    strip = 12
    canvas = Image.new('RGB', (w, h + strip), (0, 0, 0))
    canvas.paste(Image.fromarray(image), (0, strip))
    ImageDraw.Draw(canvas).text((2, 0), text, fill=(230, 230, 230))
    return np.asarray(canvas)


def scene_frames(model, x, v, orbit, context, samples, mean_samples, seed, device, truth=None):
    """The frames of one scene: a list (one per orbit position) of labelled tiles.

    Args:
        x (numpy.ndarray): ``(V, 3, H, W)`` the scene's views in [0, 1].
        v (numpy.ndarray): ``(V, 7)`` their viewpoints.
        orbit (numpy.ndarray): ``(F, 7)`` viewpoints to predict.
        context (numpy.ndarray): indices of the context views.
        truth (numpy.ndarray or None): uint8 ``(F, H, W, 3)`` ground truth.

    Returns:
        list: ``F`` lists of ``(label, uint8 (H, W, 3))`` tiles.
    """
    import chainer
    import numpy as np

    from gqn.data.image_grid import to_uint8
    from gqn.ops.random_state import fixed_seed
    x_c = device.send(x[None, context])
    v_c = device.send(v[None, context])
    ctx = [('context %d' % (i + 1), img) for i, img in enumerate(to_uint8(x[context]))]
    frames = []
    for f, v_q in enumerate(orbit):
        v_q = device.send(v_q[None])
        images = []
        for s in range(max(samples, mean_samples)):
            with fixed_seed(seed * 1000 + s), chainer.no_backprop_mode(), \
                    chainer.using_config('train', False):
                images.append(np.clip(chainer.backend.CpuDevice().send(
                    model.generate(x_c, v_c, v_q).array[0]), 0, 1))
        tiles = list(ctx)
        if truth is not None:
            tiles.append(('truth', truth[f]))
        tiles.append(('mean', to_uint8(np.mean(images[:mean_samples], axis=0))))
        tiles += [('sample %d' % (s + 1), to_uint8(images[s])) for s in range(samples)]
        frames.append(tiles)
    return frames


def compose(rows, scale):
    """Frame ``f`` of every scene row → one uint8 image per frame."""
    import numpy as np

    from gqn.data.image_grid import upscale
    out = []
    for f in range(len(rows[0])):
        lines = []
        for frames in rows:
            tiles = []
            for label, img in frames[f]:
                big = upscale(img, scale)
                tiles.append(np.pad(_label(big, label), ((0, 4), (0, 4), (0, 0))))
            lines.append(np.concatenate(tiles, axis=1))
        width = max(line.shape[1] for line in lines)
        out.append(np.concatenate([np.pad(line, ((0, 0), (0, width - line.shape[1]), (0, 0)))
                                   for line in lines], axis=0))
    return out


def save_gif(path, frames, duration):
    """Write uint8 frames as a looping GIF, atomically."""
    from PIL import Image

    from gqn import files
    images = [Image.fromarray(f) for f in frames]
    files.atomic_write(path, lambda f: images[0].save(
        f, format='GIF', save_all=True, append_images=images[1:], loop=0, duration=duration,
        optimize=False))


def ground_truth(root, split, dataset, scene, orbit):
    """Re-render scene ``scene`` of a split from ``orbit``, or ``None`` without a scene spec."""
    from gqn.data import shards
    from gqn.errors import GQNError
    manifest = shards.read_manifest(root)
    s, j = dataset.locate(scene)
    path = os.path.join(root, split, shards.SCENES, dataset.shard_names[s] + '.json')
    if manifest is None or not os.path.exists(path):
        return None
    specs = shards.read_scene_specs(path)
    if j >= len(specs):
        raise GQNError('%s: %d scene specs, scene %d asked for' % (path, len(specs), j))
    import renderer
    return renderer.render_viewpoints(manifest, specs[j], orbit)


def write_rotation_gif(path, model, dataset, root, split, scenes, context=3, frames=36,
                       samples=1, mean_samples=4, sweep_pitch=False, scale=3, duration=100,
                       seed=0, device=None):
    """Write the rotation GIF of ``scenes`` (one row each) to ``path``.

    Args:
        path (str): the GIF.
        model (~gqn.model.gqn.GQN): on ``device``.
        dataset (~gqn.data.shard_dataset.ShardDataset): the ``split`` of ``root``.
        scenes (list of int): scene indices in the split.
        context (int): context views ``K`` (chosen at random per scene from ``seed``).
        frames (int): frames per orbit.
        samples, mean_samples (int): prior samples shown, and averaged into the mean.
        sweep_pitch (bool): also swing the pitch along the orbit.
        scale (int): upscaling factor; ``duration``: ms per frame.

    Raises:
        GQNError: a scene index out of range.
    """
    import numpy as np
    from tqdm import tqdm

    from gqn.errors import GQNError
    rows = []
    for scene in tqdm(scenes, desc='gif', unit='scene'):
        if not 0 <= scene < len(dataset):
            raise GQNError('scene %d out of range: the %s split has %d scenes'
                           % (scene, split, len(dataset)))
        x, v = dataset[scene]
        chosen = context_views(dataset.views, context, seed, scene)
        start = float(np.arctan2(v[chosen[0], 4], v[chosen[0], 3])) if len(chosen) else 0.0
        orbit = orbit_viewpoints(v, frames, start, sweep_pitch)
        truth = ground_truth(root, split, dataset, scene, orbit)
        rows.append(scene_frames(model, x, v, orbit, chosen, samples, mean_samples, seed,
                                 device, truth))
    save_gif(path, compose(rows, scale), duration)
