"""Rendering speed: views/s at 64x64 on all cores, Shepard-Matzler against naive pyrender,
plus rooms and dice.

Prints one JSON object. Each measurement runs one process per core
(``multiprocessing`` spawn, ``LP_NUM_THREADS=1``), each drawing scenes and
rendering their 15 views for a fixed time after a warm-up; views/s is summed
over processes. Measured in the same run:

* ``fast``: the dataset path (sample the scene, one merged mesh, all views in
  one framebuffer row, one readback; PyOpenGL error checking off), with the
  recipe's settings (antialias off) and with antialias on;
* ``naive``: stock pyrender - one ``Mesh`` per cube, one
  ``OffscreenRenderer.render`` per view, default PyOpenGL settings (error
  checking on), stock 4x MSAA;
* ``families``: the dataset path for ``rooms_ring_camera``,
  ``rooms_free_camera`` and ``mnist_dice_ring_camera`` (10 views per scene,
  textured room, recipe settings), and the same recipes' views/s with the
  Shepard-Matzler baseline's ratio ``<family> / fast`` (same run, same load);
* ``masks``: what the instance masks cost (the recipes' ``masks = true``, the
  default): each process renders the same pre-sampled scenes without and with
  masks, alternating which goes first, and sums the time of the
  ``ViewRenderer.render`` calls of each; ``<recipe>_masks_ratio`` is the time
  with masks over the time without (the goal: at most 1.3), ``..._ms_per_scene``
  the two times per scene of one process, for Shepard-Matzler and each family.

* ``objects``: the ``objects`` family with mesh files that carry their own looks (made
  by :func:`renderer.testing.write_mesh_assets`: a textured OBJ and GLB, a vertex-coloured
  PLY, an uncoloured sphere, a z-up bottle), 64 px: views/s with ``materials = "file"``
  (textures and colours of the files) and ``"palette"``, and the share of views whose
  objects cover at least 2 % of the pixels (the instance masks of 30 scenes x 10 views,
  default ``frame`` camera; the goal: at least 0.95).

Usage: python bench/render.py [--seconds 8] [--workers N] [--families-only] [--masks-only]
       [--objects-only]
"""
import argparse
import json
import multiprocessing
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


#: Recipes of the other built-in families measured with the dataset path.
FAMILY_RECIPES = ['rooms_ring_camera', 'rooms_free_camera', 'mnist_dice_ring_camera']


def _fast(args):
    recipe, seconds, antialias = args
    from renderer import platform
    platform.worker_environment()
    from renderer.dataset import SceneSampler, make_manifest, open_view_renderer
    recipe = dict(recipe, antialias=antialias)
    vr = open_view_renderer(make_manifest('bench', recipe))
    sampler = SceneSampler(recipe)
    try:
        return _loop(lambda i: vr.render(*sampler.sample('train', i)), recipe['views'], seconds)
    finally:
        vr.close()


def _masks(args):
    """Seconds spent in ``render`` without and with masks over the same scenes, and the
    scene count, in one process."""
    recipe, seconds = args
    from renderer import platform
    platform.worker_environment()
    from renderer.dataset import SceneSampler, make_manifest, open_view_renderer
    vr = open_view_renderer(make_manifest('bench', recipe))
    sampler = SceneSampler(recipe)
    scenes = [sampler.sample('train', i) for i in range(32)]
    try:
        for spec, v in scenes[:3]:  # warm-up: both programs compiled, first allocations
            vr.render(spec, v)
            vr.render(spec, v, masks=True)
        spent = {False: 0.0, True: 0.0}
        n, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds:
            spec, v = scenes[n % len(scenes)]
            for masks in ((False, True) if n % 2 == 0 else (True, False)):
                t = time.perf_counter()
                vr.render(spec, v, masks=masks)
                spent[masks] += time.perf_counter() - t
            n += 1
        return spent[False], spent[True], n
    finally:
        vr.close()


def _masks_figures(args):
    """:func:`_measure_masks` of Shepard-Matzler and every family recipe, keys prefixed by
    the recipe's name, and the load average."""
    from renderer.recipe import load_recipe
    out = {}
    for name in ['shepard_matzler_7'] + FAMILY_RECIPES:
        _, recipe = load_recipe(name)
        out.update(('%s_%s' % (name, k), v)
                   for k, v in _measure_masks(recipe, args.seconds, args.workers).items())
    out['load_average'] = round(os.getloadavg()[0], 2)
    return out


def _measure_masks(recipe, seconds, workers):
    """``{ms_per_scene_without, ms_per_scene_with, ratio}`` over ``workers`` processes."""
    with multiprocessing.get_context('spawn').Pool(workers) as pool:
        runs = pool.map(_masks, [(recipe, seconds)] * workers)
    plain, with_masks, n = (sum(r[k] for r in runs) for k in range(3))
    return {'ms_per_scene_without_masks': round(1000 * plain / n, 2),
            'ms_per_scene_with_masks': round(1000 * with_masks / n, 2),
            'masks_ratio': round(with_masks / plain, 3)}


def _objects_recipe(folder, materials):
    from renderer.recipe import resolve
    from renderer.testing import write_mesh_assets
    return resolve({'family': 'objects', 'image_size': 64, 'views': 10,
                    'scene': {'meshes': write_mesh_assets(folder), 'materials': materials,
                              'max_objects': 3}})


def _objects_figures(args):
    """Views/s of textured mesh files against palette colours, and the framing."""
    import tempfile

    import numpy as np

    from renderer import platform
    platform.worker_environment()
    from renderer.dataset import SceneSampler, make_manifest, open_view_renderer
    out = {}
    with tempfile.TemporaryDirectory() as folder:
        for materials in ('file', 'palette'):
            recipe = _objects_recipe(folder, materials)
            out['objects_%s_views_per_s' % materials] = round(
                _measure(_fast, (recipe, args.seconds, recipe['antialias']), args.workers), 1)
        recipe = _objects_recipe(folder, 'file')
        vr = open_view_renderer(make_manifest('bench', recipe))
        sampler = SceneSampler(recipe)
        try:
            coverage = np.concatenate([
                (vr.render(*sampler.sample('train', i), masks=True)[1] > 0).mean(axis=(1, 2))
                for i in range(30)])
        finally:
            vr.close()
    out['objects_file_vs_palette'] = round(
        out['objects_file_views_per_s'] / out['objects_palette_views_per_s'], 3)
    out['objects_views_covered_2pct'] = round(float((coverage >= 0.02).mean()), 3)
    out['objects_coverage_median'] = round(float(np.median(coverage)), 4)
    return out


def _naive(args):
    recipe, seconds = args
    from renderer import platform
    platform.worker_environment()
    pyrender = platform.load_pyrender(error_checking=True)
    import numpy as np
    import trimesh

    from renderer import camera
    from renderer.dataset import SceneSampler
    sampler = SceneSampler(recipe)
    intr = camera.intrinsics(recipe['camera'], recipe['image_size'])
    offscreen = pyrender.OffscreenRenderer(intr['width'], intr['height'])

    def one_scene(i):
        spec, viewpoints = sampler.sample('train', i)
        scene = pyrender.Scene(bg_color=spec['background'] + [1.0], ambient_light=spec['ambient'])
        for m in spec['meshes']:
            box = trimesh.creation.box(extents=m['extents'], transform=np.array(m['pose']))
            box.visual.face_colors = [int(c * 255) for c in m['color']] + [255]
            scene.add(pyrender.Mesh.from_trimesh(box, smooth=False))
        light = spec['lights'][0]
        pose = np.eye(4)
        pose[:3, :3] = camera.rotation(*camera.yaw_pitch(-np.array(light['direction'])))
        scene.add(pyrender.DirectionalLight(color=light['color'], intensity=light['intensity']),
                  pose=pose)
        node = scene.add(pyrender.PerspectiveCamera(yfov=intr['yfov'], znear=intr['znear'],
                                                    zfar=intr['zfar']))
        for p in camera.pose_from_viewpoint(viewpoints):
            scene.set_pose(node, p)
            offscreen.render(scene)

    try:
        return _loop(one_scene, recipe['views'], seconds)
    finally:
        offscreen.delete()


def _loop(render_scene, views, seconds):
    for i in range(3):  # warm-up: shader compilation, first allocations
        render_scene(i)
    i, start = 3, time.perf_counter()
    while time.perf_counter() - start < seconds:
        render_scene(i)
        i += 1
    return (i - 3) * views / (time.perf_counter() - start)


def _measure(fn, args, workers):
    with multiprocessing.get_context('spawn').Pool(workers) as pool:
        return sum(pool.map(fn, [args] * workers))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--seconds', type=float, default=8.0)
    parser.add_argument('--workers', type=int, default=len(os.sched_getaffinity(0)))
    parser.add_argument('--families-only', action='store_true',
                        help='skip the antialias and naive Shepard-Matzler measurements')
    parser.add_argument('--masks-only', action='store_true',
                        help='only what the instance masks cost, for every recipe')
    parser.add_argument('--objects-only', action='store_true',
                        help='only the objects family with textured mesh files')
    args = parser.parse_args()
    from renderer.recipe import load_recipe
    _, recipe = load_recipe('shepard_matzler_7')
    if args.objects_only:
        print(json.dumps({'benchmark': 'render_objects', 'workers': args.workers,
                          **_objects_figures(args)}))
        return
    if args.masks_only:
        out = {'benchmark': 'render_masks', 'workers': args.workers}
        out.update(_masks_figures(args))
        print(json.dumps(out))
        return
    fast = _measure(_fast, (recipe, args.seconds, recipe['antialias']), args.workers)
    out = {'benchmark': 'render', 'recipe': 'shepard_matzler_7', 'image_size': recipe['image_size'],
           'views_per_scene': recipe['views'], 'workers': args.workers,
           'fast_views_per_s': round(fast, 1), 'fast_antialias': recipe['antialias']}
    if not args.families_only:
        fast_aa = _measure(_fast, (recipe, args.seconds, True), args.workers)
        naive = _measure(_naive, (recipe, args.seconds), args.workers)
        out.update({
            'fast_antialias_on_views_per_s': round(fast_aa, 1),
            'naive_views_per_s': round(naive, 1),
            'speedup': round(fast / naive, 2), 'speedup_antialias_on': round(fast_aa / naive, 2),
            'target_views_per_s': 2000, 'target_speedup': 3.0})
    for name in FAMILY_RECIPES:
        _, family_recipe = load_recipe(name)
        views = _measure(_fast, (family_recipe, args.seconds, family_recipe['antialias']),
                         args.workers)
        out[name + '_views_per_s'] = round(views, 1)
        out[name + '_vs_shepard_matzler'] = round(views / fast, 3)
    out.update(_masks_figures(args))
    out.update(_objects_figures(args))
    print(json.dumps(out))


if __name__ == '__main__':
    main()
