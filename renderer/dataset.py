"""Rendering recipes into shards, and re-rendering stored scenes.

Every scene draws its random numbers from its own generator seeded with
``(seed, split, scene index)``, and shards are independent units of work
identified by ``(split, index)``; the bytes of a dataset therefore depend on
the recipe alone, not on the number of workers or the order shards finish in.
A shard is written atomically (:func:`gqn.data.shards.write_shard`), so a killed run
leaves only temporary files, removed by the next run, which renders the
missing shards.

This module does not import OpenGL at import time; rendering workers do.
"""
import contextlib
import math
import multiprocessing
import os
import shutil
import time

import numpy as np

from gqn import files, processes
from gqn.data import shards
from gqn.errors import GQNError
from renderer import camera
from renderer.families import get_family
from renderer.scene_spec import recipe_mesh_files, validate_spec

#: Split names and their stream ids (part of every scene's seed).
SPLITS = {'train': 0, 'test': 1}


def scene_rng(seed, split, index):
    """The ``numpy.random.Generator`` of scene ``index`` of ``split``."""
    return np.random.default_rng(np.random.SeedSequence([seed, SPLITS[split], index]))


def split_sizes(recipe):
    """``{split: scenes}`` of the splits a recipe renders (empty ones left out)."""
    sizes = {'train': recipe['train_scenes'], 'test': recipe['test_scenes']}
    return {s: n for s, n in sizes.items() if n > 0}


def shard_count(scenes, scenes_per_shard):
    """Number of shards holding ``scenes`` scenes (the last one may be short)."""
    return math.ceil(scenes / scenes_per_shard)


def make_manifest(name, recipe):
    """The ``manifest.json`` dict of a resolved recipe."""
    from importlib.metadata import version

    from gqn import __version__
    per_shard = recipe['scenes_per_shard']
    return {
        'name': name,
        'family': recipe['family'],
        'recipe': recipe,
        'image_size': recipe['image_size'],
        'views': recipe['views'],
        'scenes_per_shard': per_shard,
        'seed': recipe['seed'],
        'splits': {s: {'scenes': n, 'shards': shard_count(n, per_shard)}
                   for s, n in split_sizes(recipe).items()},
        'intrinsics': camera.intrinsics(recipe['camera'], recipe['image_size']),
        'axis_convention': camera.AXIS_CONVENTION,
        'family_info': get_family(recipe['family'])(recipe['scene']).manifest_info(),
        'version': __version__,
        'pyrender_version': version('pyrender'),
    }


class SceneSampler:
    """Draws scene specs and viewpoints of a recipe.

    Args:
        recipe (dict): a resolved recipe (:func:`renderer.recipe.resolve`).
    """

    def __init__(self, recipe):
        self.recipe = recipe
        self.family = get_family(recipe['family'])(recipe['scene'])
        self.camera = camera.get_sampler(recipe['camera'])

    def sample(self, split, index):
        """Scene spec (dict) and viewpoints float32 ``(views, 7)`` of one scene.

        Raises:
            GQNError: naming the recipe's family and the key, for a malformed spec
                (:func:`renderer.scene_spec.validate_spec`).
        """
        rng = scene_rng(self.recipe['seed'], split, index)
        spec = self.family.sample(rng)
        validate_spec(spec, family=self.recipe['family'])
        return spec, self.camera.sample(rng, self.recipe['views'], spec)


def open_view_renderer(manifest):
    """A :class:`renderer.draw.ViewRenderer` with a manifest's settings."""
    from renderer.draw import ViewRenderer
    recipe = manifest['recipe']
    return ViewRenderer(manifest['intrinsics'], manifest['views'],
                        antialias=recipe['antialias'], shadows=recipe['shadows'])


def render_viewpoints(manifest, scene_spec, viewpoints, view_renderer=None, masks=False):
    """Render a stored scene spec from arbitrary viewpoints.

    Uses the manifest's intrinsics and settings; rendering a scene's own
    viewpoints reproduces its shard images (and masks) byte for byte.

    Args:
        manifest (dict): the dataset's manifest (:func:`gqn.data.shards.read_manifest`).
        scene_spec (dict): one entry of ``<split>/scenes/NNNN.json`` (or a changed copy,
            e.g. :func:`renderer.scene_spec.without_objects` for the empty scene).
        viewpoints (array): float ``(N, 7)`` viewpoints.
        view_renderer: an open renderer from :func:`open_view_renderer` to
            reuse across calls; by default one is opened and closed.
        masks (bool): also return the instance masks (whatever the recipe says).

    Returns:
        numpy.ndarray or tuple: images uint8 ``(N, H, W, 3)``; with ``masks``,
        ``(images, masks)``, masks uint8 ``(N, H, W)`` object ids
        (:func:`renderer.scene_spec.object_ids`, 0 the background).

    Raises:
        GQNError: for a malformed spec, or one naming a mesh file the recipe does not list.
    """
    validate_spec(scene_spec, mesh_files=recipe_mesh_files(manifest))
    own = view_renderer is None
    if own:
        view_renderer = open_view_renderer(manifest)
    try:
        return view_renderer.render(scene_spec, viewpoints, masks=masks)
    finally:
        if own:
            view_renderer.close()


def render_shard(manifest, root, split, index, view_renderer, sampler=None):
    """Render and atomically write shard ``index`` of ``split``, with its instance masks when
    the recipe's ``masks`` is on; returns its scene count."""
    sampler = sampler or SceneSampler(manifest['recipe'])
    with_masks = shards.manifest_masks(manifest)
    per_shard = manifest['scenes_per_shard']
    first = index * per_shard
    count = min(per_shard, manifest['splits'][split]['scenes'] - first)
    size = manifest['image_size']
    views = manifest['views']
    images = np.empty((count, views, size, size, 3), dtype=np.uint8)
    masks = np.empty((count, views, size, size), dtype=np.uint8) if with_masks else None
    viewpoints = np.empty((count, views, 7), dtype=np.float32)
    specs = []
    for i in range(count):
        spec, viewpoints[i] = sampler.sample(split, first + i)
        if with_masks:
            images[i], masks[i] = view_renderer.render(spec, viewpoints[i], masks=True)
        else:
            images[i] = view_renderer.render(spec, viewpoints[i])
        spec['camera_poses'] = camera.pose_from_viewpoint(viewpoints[i]).tolist()
        specs.append(spec)
    shards.write_shard(root, split, index, images, viewpoints, specs, masks=masks)
    return count


_WORKER = {}


def _init_worker(parent):
    from renderer import platform
    processes.init_worker(parent)
    platform.worker_environment()


def _render_task(task):
    manifest, root, split, index = task
    if _WORKER.get('manifest') != manifest:
        if 'renderer' in _WORKER:
            _WORKER['renderer'].close()
        _WORKER.update(manifest=manifest, renderer=open_view_renderer(manifest),
                       sampler=SceneSampler(manifest['recipe']))
    return render_shard(manifest, root, split, index, _WORKER['renderer'], _WORKER['sampler'])


def _recipe_diff(a, b, prefix=''):
    keys = []
    for k in sorted(set(a) | set(b)):
        va, vb = a.get(k), b.get(k)
        if isinstance(va, dict) and isinstance(vb, dict):
            keys += _recipe_diff(va, vb, prefix + k + '.')
        elif va != vb:
            keys.append(prefix + k)
    return keys


#: Held (``flock``) by the render that writes a root, so a second one says who has it.
LOCK = 'render.lock'


def render_lock(root):
    """Hold ``<root>/render.lock`` while rendering into ``root`` (a context manager,
    :func:`gqn.files.folder_lock`).

    Raises:
        GQNError: when another process holds it (a second ``gqn render`` into the same
            folder would render every shard twice).
    """
    return files.folder_lock(root, LOCK, 'rendered')


def prepare_root(root, manifest):
    """Check ``root`` can hold this dataset, clean partial files, mark the render as started.

    A root holding the same recipe's dataset, complete (``manifest.json``) or
    interrupted (``render-in-progress.json``), is resumed; any other
    non-empty root is refused.
    """
    existing = shards.read_manifest(root)
    marker = os.path.join(root, shards.IN_PROGRESS)
    if existing is None and os.path.exists(marker):
        existing = files.read_json(marker, 'render marker')
        if not isinstance(existing, dict):
            raise GQNError('%s: not a render marker (a JSON object)' % marker)
    if existing is not None:
        recipe = existing.get('recipe', {})
        if isinstance(recipe, dict) and 'masks' not in recipe:
            recipe = dict(recipe, masks=False)  # rendered before masks existed: none
        diff = _recipe_diff(recipe, manifest['recipe'])
        if diff:
            hint = ' (it was rendered without masks: --set masks=false resumes it)' \
                if diff == ['masks'] and not recipe['masks'] else ''
            raise GQNError('%s holds a dataset with a different recipe (differs in: %s)%s; '
                           'choose another --out or delete it' % (root, ', '.join(diff), hint))
    elif os.path.isdir(root) and set(os.listdir(root)) - {LOCK}:
        raise GQNError('%s is not empty and has no %s; refusing to render into it'
                       % (root, shards.MANIFEST))
    os.makedirs(root, exist_ok=True)
    files.remove_partial_files(root)
    if shards.read_manifest(root) != manifest:
        files.atomic_write_json(marker, manifest)


def finish_root(root, manifest):
    """Write ``manifest.json`` once every shard exists; drop the in-progress marker."""
    missing = pending_shards(manifest, root)
    if missing:
        raise GQNError('%s: %d shard(s) missing after rendering, e.g. %s/%s'
                       % (root, len(missing), missing[0][0], shards.shard_name(missing[0][1])))
    files.atomic_write_json(os.path.join(root, shards.MANIFEST), manifest)
    marker = os.path.join(root, shards.IN_PROGRESS)
    if os.path.exists(marker):
        os.remove(marker)


def _existing_parent(path):
    path = os.path.abspath(path)
    while not os.path.exists(path):
        path = os.path.dirname(path)
    return path


def _scene_bytes(manifest):
    """About how many bytes of disk (and of memory while it renders) one scene takes: its
    images, viewpoints, spec and (when the recipe has them) instance masks."""
    size, views = manifest['image_size'], manifest['views']
    pixel = 3 + (1 if shards.manifest_masks(manifest) else 0)
    return views * (size * size * pixel + shards.VIEWPOINT_SIZE * 4) + 1000  # + its spec


def check_resources(manifest, root, workers=1):
    """Raise :class:`GQNError` before rendering when the dataset cannot fit: the disk space
    its shards need (less what ``root`` already holds), or the memory one shard takes
    while it is rendered, in each of ``workers`` processes."""
    size, views = manifest['image_size'], manifest['views']
    per_scene = _scene_bytes(manifest)
    scenes = sum(info['scenes'] for info in manifest['splits'].values())
    try:
        memory = os.sysconf('SC_PHYS_PAGES') * os.sysconf('SC_PAGE_SIZE')
    except (ValueError, OSError, AttributeError):
        memory = None
    per_shard = min(manifest['scenes_per_shard'], scenes) * per_scene
    if memory is not None and per_shard * workers > memory:
        raise GQNError('%s: a shard of %d scenes of %d views at %dx%d takes %s of memory '
                       'while it renders (x %d workers), the machine has %s: lower '
                       'scenes_per_shard or image_size'
                       % (root, manifest['scenes_per_shard'], views, size, size,
                          files.format_size(per_shard), workers, files.format_size(memory)))
    have = 0
    if os.path.isdir(root):
        have = sum(os.path.getsize(os.path.join(d, f)) for d, _, names in os.walk(root)
                   for f in names)
    need = scenes * per_scene - have
    free = shutil.disk_usage(_existing_parent(root)).free
    if need > free:
        raise GQNError('%s: %d scenes of %d views at %dx%d need %s of disk, %s is free there'
                       % (root, scenes, views, size, size, files.format_size(need), files.format_size(free)))


def pending_shards(manifest, root):
    """``(split, index)`` of the shards not written yet, in order: a shard misses when any of
    its files does (its mask file too, when the recipe has masks)."""
    with_masks = shards.manifest_masks(manifest)
    return [(split, i) for split, info in manifest['splits'].items()
            for i in range(info['shards'])
            if not shards.shard_exists(root, split, i, with_scenes=True, with_masks=with_masks)]


def render_dataset(name, recipe, root, workers=1, progress=True, log=print, comm=None):
    """Render every missing shard of a recipe into ``root``.

    Args:
        name (str): the recipe's name (stored in the manifest).
        recipe (dict): a resolved recipe.
        root (str): output folder; created if needed; must be empty or hold
            the same recipe's (possibly partial) dataset.
        workers (int): rendering processes; ``1`` renders in this process.
        progress (bool): show a progress bar (scenes/s and views/s).
        log (callable): where one-line status messages go.
        comm: an mpi4py communicator to split the missing shards across its
            ranks (rank ``r`` of ``n`` takes every ``n``-th one), each rank
            rendering with its own ``workers``; rank 0 checks the root first
            and writes ``manifest.json`` after every rank has finished. The
            bytes written do not depend on the number of ranks.

    Returns:
        dict: ``scenes`` and ``shards`` rendered by this call (this rank),
        ``seconds``.
    """
    if workers < 1:
        raise GQNError('--workers must be positive, got %d' % workers)
    rank, size = (comm.Get_rank(), comm.Get_size()) if comm is not None else (0, 1)
    manifest = make_manifest(name, recipe)
    _collective(comm, lambda: check_resources(manifest, root, workers) if rank == 0 else None)
    with contextlib.ExitStack() as held:
        _collective(comm, lambda: held.enter_context(render_lock(root)) if rank == 0 else None)
        return _render_locked(name, manifest, root, workers, progress, log, comm, rank, size)


def _render_locked(name, manifest, root, workers, progress, log, comm, rank, size):
    _collective(comm, lambda: prepare_root(root, manifest) if rank == 0 else None)
    todo = pending_shards(manifest, root)
    total = sum(info['shards'] for info in manifest['splits'].values())
    if not todo:
        if rank == 0:
            finish_root(root, manifest)
            log('%s: complete (%d shards), nothing to do' % (root, total))
        return {'scenes': 0, 'shards': 0, 'seconds': 0.0}
    if len(todo) < total and rank == 0:
        log('%s: resuming, %d of %d shards left' % (root, len(todo), total))
    mine = todo[rank::size]
    result = _collective(comm, lambda: _render_tasks(
        name, manifest, root, mine, workers, progress and rank == 0,
        log if rank == 0 else (lambda message: None)))
    if rank == 0:
        finish_root(root, manifest)
        if size > 1:
            log('%s: %d ranks rendered %d shards' % (root, size, len(todo)))
    return result


def _collective(comm, work):
    """Run ``work`` on every rank; if it fails on any rank, raise on all of them."""
    error, result = None, None
    try:
        result = work()
    except GQNError as e:
        error = str(e)
    if comm is not None:
        errors = [e for e in comm.allgather(error) if e]
        error = errors[0] if errors else None
    if error:
        raise GQNError(error)
    return result


def _render_tasks(name, manifest, root, todo, workers, progress, log):
    """Render shards ``todo`` (``(split, index)`` pairs) with ``workers`` processes."""
    if not todo:
        return {'scenes': 0, 'shards': 0, 'seconds': 0.0}
    scenes = _scene_count(manifest, todo)
    tasks = [(manifest, root, split, i) for split, i in todo]
    from tqdm import tqdm
    bar = tqdm(total=scenes, unit='scene', desc='render %s' % name, disable=not progress,
               dynamic_ncols=True)
    start = time.time()
    done = 0
    pool = None
    # With a pool, Ctrl-C and SIGTERM are raised between its calls, never inside them.
    deferred = processes.signals_deferred() if workers > 1 else contextlib.nullcontext(lambda: None)
    with deferred as raise_signal:
        if workers == 1:
            results = _render_serial(tasks)
        else:
            ctx = multiprocessing.get_context('spawn')
            pool = ctx.Pool(min(workers, len(tasks)), initializer=_init_worker,
                            initargs=(os.getpid(),))
            results = _pool_results(pool.imap_unordered(_render_task, tasks), raise_signal)
        try:
            for n in results:
                done += n
                bar.update(n)
                bar.set_postfix_str('%.0f views/s' % (
                    done * manifest['views'] / (time.time() - start)))
        except files.NoSpaceError as e:  # the disk filled up after check_resources
            left = pending_shards(manifest, root)
            raise files.NoSpaceError('%s; the %d shards not written yet need about %s more' % (
                e, len(left), files.format_size(
                    _scene_count(manifest, left) * _scene_bytes(manifest)))) from None
        finally:
            bar.close()
            if pool is not None:
                pool.terminate()
                pool.join()
    seconds = time.time() - start
    log('%s: rendered %d scenes (%d views) in %d shards, %.1f s, %.0f views/s' % (
        root, done, done * manifest['views'], len(todo), seconds,
        done * manifest['views'] / max(seconds, 1e-9)))
    return {'scenes': done, 'shards': len(todo), 'seconds': seconds}


def _scene_count(manifest, todo):
    """Scenes in shards ``todo`` (``(split, index)`` pairs; a split's last shard may be short)."""
    per_shard = manifest['scenes_per_shard']
    return sum(min(per_shard, manifest['splits'][s]['scenes'] - i * per_shard) for s, i in todo)


def _pool_results(results, raise_signal):
    """The items of a pool's ``imap_unordered`` iterator ``results``, calling
    ``raise_signal`` (:func:`gqn.processes.signals_deferred`) at least every 0.2 s."""
    while True:
        raise_signal()
        try:
            yield results.next(timeout=0.2)
        except multiprocessing.TimeoutError:
            continue
        except StopIteration:
            return


def _render_serial(tasks):
    view_renderer = open_view_renderer(tasks[0][0])
    sampler = SceneSampler(tasks[0][0]['recipe'])
    try:
        for manifest, root, split, index in tasks:
            yield render_shard(manifest, root, split, index, view_renderer, sampler)
    finally:
        view_renderer.close()
