"""``gqn view``'s latency: how fast a camera change becomes a prediction on its way to
the browser, per preset model.

For each preset (default ``cpu_small``, the demo's model, and ``cpu_hour`` at 32 px,
``paper_64`` at 64 px) a model with the preset's hyperparameters is built (random
weights: the time does not depend on their values) and a few scenes of the preset's
image size are rendered with the default Shepard-Matzler recipe (with scene specs,
so the ground truth is re-rendered as in the viewer). Then, as when a user drags the
camera, a stream of cameras on an orbit is served one after another by the
viewer's own code path: the camera pose to a viewpoint
(:func:`gqn.evaluation.viewer.viewpoint_from_camera`),
:meth:`SceneViewer.frame <gqn.evaluation.viewer.SceneViewer.frame>` (the model's
prediction, one prior sample, K = 3, and the truth re-rendered), enlarging both to
the panel's size and the prediction to the 3D view's background (a 16:9 window), and
encoding the three as the PNGs viser sends. Measured for the
preset's viewpoint frame (``query``: ``r`` recomputed per camera) and the
``world`` frame (``r`` computed once per scene, the tower idle while the camera
moves). Per row: predictions per second (1 / median latency), the median and 90th
percentile latency, and the median time of each part (predict, truth, encode).

The websocket transfer to the browser is not included (local, a few kB per
frame). Prints one JSON object. Timed figures are valid only when nothing else
runs on the machine.

Usage: python bench/view.py [--presets cpu_small,cpu_hour,paper_64] [--frames 60]
       [--device @numpy]
"""
import argparse
import json
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def encode_png(image):
    import io

    from PIL import Image
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format='PNG')
    return buffer.getvalue()


def measure(preset, model_fields, frame, root, frames, device_name):
    import numpy as np

    from gqn.cuda import get_device
    from gqn.data import shards
    from gqn.data.image_grid import to_uint8
    from gqn.data.shard_dataset import ShardDataset
    from gqn.evaluation.gif import orbit_viewpoints
    from gqn.evaluation.view_server import backdrop, enlarge
    from gqn.evaluation.viewer import SceneViewer, camera_from_viewpoint, viewpoint_from_camera
    from gqn.model.gqn import GQN
    from gqn.model.hyperparams import HyperParameters
    dataset = ShardDataset(root, 'test')
    hp = HyperParameters(**dict(model_fields, image_size=dataset.image_size,
                                viewpoint_frame=frame))
    device = get_device(device_name)
    model = GQN(hp)
    model.to_device(device)
    viewer = SceneViewer(model, dataset, shards.read_manifest(root), device)
    parts = {'predict': [], 'truth': [], 'encode': []}
    total = []
    try:
        viewer.open_scene(0, 3)
        orbit = orbit_viewpoints(viewer.viewpoints, frames, sweep_pitch=True)
        cameras = [camera_from_viewpoint(v) for v in orbit]
        for i, (rotation, position) in enumerate([cameras[0]] * 3 + cameras):
            start = time.perf_counter()
            v = viewpoint_from_camera(rotation, position)
            t0 = time.perf_counter()
            prediction = viewer.predict(v)
            t1 = time.perf_counter()
            truth = viewer.truth(v)
            t2 = time.perf_counter()
            shown = to_uint8(prediction)
            encode_png(enlarge(shown))
            encode_png(enlarge(truth))
            encode_png(backdrop(shown, 16 / 9))
            end = time.perf_counter()
            if i >= 3:  # after a warm-up
                total.append(end - start)
                parts['predict'].append(t1 - t0)
                parts['truth'].append(t2 - t1)
                parts['encode'].append(end - t2)
    finally:
        viewer.close()
    total = np.array(total)
    return {
        'preset': preset, 'viewpoint_frame': frame, 'image_size': dataset.image_size,
        'predictions_per_s': round(1 / float(np.median(total)), 1),
        'median_ms': round(1000 * float(np.median(total)), 1),
        'p90_ms': round(1000 * float(np.percentile(total, 90)), 1),
        **{part + '_ms': round(1000 * float(np.median(t)), 1) for part, t in parts.items()},
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--presets', default='cpu_small,cpu_hour,paper_64')
    parser.add_argument('--frames', type=int, default=60)
    parser.add_argument('--device', default='@numpy')
    args = parser.parse_args()

    from gqn.model.hyperparams import HyperParameters
    from gqn.training.config import TrainConfig, find_preset
    from renderer import render_dataset
    from renderer.recipe import resolve
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        roots = {}
        for preset in args.presets.split(','):
            model = TrainConfig.from_toml(find_preset(preset)).model
            size = model.get('image_size', HyperParameters().image_size)
            if size not in roots:
                roots[size] = os.path.join(tmp, str(size))
                render_dataset('view_bench', resolve({
                    'train_scenes': 2, 'test_scenes': 2, 'scenes_per_shard': 2, 'views': 10,
                    'image_size': size}), roots[size], workers=1, progress=False,
                    log=lambda s: None)
            frames = [model.get('viewpoint_frame', 'world')]
            frames += [f for f in ('query', 'world') if f not in frames]
            for frame in frames:
                rows.append(measure(preset, model, frame, roots[size], args.frames, args.device))
                print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    import chainer
    import numpy
    print(json.dumps({'bench': 'view', 'device': args.device, 'frames': args.frames,
                      'cpus': os.cpu_count(), 'numpy': numpy.__version__,
                      'chainer': chainer.__version__, 'rows': rows}, indent=1))


if __name__ == '__main__':
    main()
