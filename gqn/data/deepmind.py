"""``gqn import-deepmind``: DeepMind's gqn-datasets to our shards, without TensorFlow.

The official data is ``<name>/{train,test}/NNN-of-MMM.tfrecord``, one scene
per record, each a ``tf.train.Example`` with

* ``frames``: ``views`` JPEG strings, ``frame_size`` px square, RGB;
* ``cameras``: float32 ``(views * 5,)``, per view ``(x, y, z, yaw, pitch)``
  in radians.

Each source file becomes one shard, ``<out>/<split>/{images,viewpoints}/NNNN.npy``
with ``NNNN`` the file's position in the sorted listing of its split:
images uint8 ``(scenes, views, size, size, 3)`` resized with a Pillow filter
(``box`` by default: each output pixel is the area-weighted mean of the
source pixels it covers; the exact 2x2 mean for 128 -> 64), viewpoints
float32 ``(scenes, views, 7)`` = ``(x, y, z, cos yaw, sin yaw, cos pitch,
sin pitch)`` (DeepMind's own reader orders them ``sin, cos``; we do not).

Every record's checksums are verified. A corrupt or truncated record (or
one whose Example does not follow the schema) fails the import, naming the
file and byte offset, or with ``--on-corrupt skip`` is reported and left
out; skipped records are listed in ``<out>/manifest.json``.

Records are streamed to temporary files, so memory stays flat in the size
of a source file; a shard appears under its final name only when complete,
so a rerun skips finished files and redoes the rest.
"""
import collections
import os

#: Per published dataset: frame size (px), views per scene, file counts.
DatasetInfo = collections.namedtuple('DatasetInfo', 'frame_size views train_files test_files')
DATASETS = {
    'jaco': DatasetInfo(64, 11, 3600, 400),
    'mazes': DatasetInfo(84, 300, 1080, 120),
    'rooms_free_camera_with_object_rotations': DatasetInfo(128, 10, 2034, 226),
    'rooms_ring_camera': DatasetInfo(64, 10, 2160, 240),
    'rooms_free_camera_no_object_rotations': DatasetInfo(64, 10, 2160, 240),
    'shepard_metzler_5_parts': DatasetInfo(64, 15, 900, 100),
    'shepard_metzler_7_parts': DatasetInfo(64, 15, 900, 100),
}
FILTERS = ('nearest', 'box', 'bilinear', 'hamming', 'bicubic', 'lanczos')
SPLITS = ('train', 'test')
VIEWPOINT_ORDER = ('x', 'y', 'z', 'cos_yaw', 'sin_yaw', 'cos_pitch', 'sin_pitch')
SOURCES = 'sources'  # <out>/<split>/sources/NNNN.json: what became shard NNNN
#: Held (``flock``) by the import that writes a root, so a second one says who has it.
LOCK = 'import.lock'
KIND = 'import-deepmind'


def cameras_to_viewpoints(cameras):
    """DeepMind's ``(x, y, z, yaw, pitch)`` to our 7-d viewpoints.

    Args:
        cameras (numpy.ndarray): ``(..., 5)``, angles in radians.

    Returns:
        numpy.ndarray: float32 ``(..., 7)`` =
        ``(x, y, z, cos yaw, sin yaw, cos pitch, sin pitch)``.
    """
    import numpy as np
    c = np.asarray(cameras, np.float64)
    yaw, pitch = c[..., 3], c[..., 4]
    return np.concatenate([c[..., :3], np.stack(
        [np.cos(yaw), np.sin(yaw), np.cos(pitch), np.sin(pitch)], -1)], -1).astype(np.float32)


def decode_scene(data, dataset, size=64, resample='box'):
    """One record's scene, resized.

    Args:
        data (bytes): A serialized Example in the gqn-datasets schema.
        dataset (str): Key of :data:`DATASETS` (fixes views and frame size).
        size (int): Output image side in pixels.
        resample (str): One of :data:`FILTERS`.

    Returns:
        tuple: ``images`` uint8 ``(views, size, size, 3)`` and
        ``viewpoints`` float32 ``(views, 7)``.

    Raises:
        ValueError: The record does not follow the schema.
    """
    import io

    import numpy as np
    from PIL import Image

    from gqn.data import tfrecord
    info = DATASETS[dataset]
    example = tfrecord.parse_example(data)
    frames, cameras = example.get('frames'), example.get('cameras')
    if not isinstance(frames, list) or not isinstance(cameras, np.ndarray) \
            or cameras.dtype != np.float32:
        raise ValueError('expected features frames (bytes) and cameras (float), found %s' % (
            ', '.join('%s (%s)' % (k, 'bytes' if isinstance(v, list) else v.dtype)
                      for k, v in sorted(example.items())) or 'none'))
    if len(frames) != info.views or cameras.size != 5 * info.views:
        raise ValueError('%d frames and %d camera floats; %s has %d views (%d floats)' % (
            len(frames), cameras.size, dataset, info.views, 5 * info.views))
    images = np.empty((info.views, size, size, 3), np.uint8)
    filter_ = getattr(Image.Resampling, resample.upper())
    for i, jpeg in enumerate(frames):
        try:
            with Image.open(io.BytesIO(jpeg), formats=('JPEG',)) as im:
                if im.size != (info.frame_size, info.frame_size):
                    raise ValueError('%dx%d px; %s frames are %dx%d' % (
                        im.size + (dataset, info.frame_size, info.frame_size)))
                im = im.convert('RGB')
                if im.size != (size, size):
                    im = im.resize((size, size), filter_)
                images[i] = np.asarray(im)
        except (OSError, SyntaxError, ValueError) as e:
            raise ValueError('frame %d: %s' % (i, e)) from e
    return images, cameras_to_viewpoints(cameras.reshape(info.views, 5))


def convert_file(path, root, split, index, dataset, size=64, resample='box',
                 on_corrupt='fail', progress=None, report=None):
    """Convert one TFRecord file into shard ``index`` of ``split``.

    Decoded scenes are appended to temporary files (``*.tmp<pid>``) and
    the shard is written from them with :func:`gqn.data.shards.write_shard`, so
    memory does not grow with the file. ``<root>/<split>/sources/NNNN.json``
    records the source file and any skipped records.

    Args:
        path (str): The TFRecord file.
        root, split, index: Where the shard goes.
        dataset, size, resample: As for :func:`decode_scene`.
        on_corrupt (str): ``'fail'`` or ``'skip'`` (see
            :func:`gqn.data.tfrecord.read_records`).
        progress (callable or None): ``progress(nbytes)`` as the file is read.
        report (callable or None): ``report(err)`` for each skipped record.

    Returns:
        dict: The source record (``file``, ``bytes``, ``scenes``, ``corrupt``).
    """
    import numpy as np

    from gqn import files
    from gqn.data import shards, tfrecord
    info = DATASETS[dataset]
    img_path, vp_path, _ = shards.shard_paths(root, split, index)
    src_path = os.path.join(root, split, SOURCES, shards.shard_name(index) + '.json')
    for p in (img_path, vp_path, src_path):
        os.makedirs(os.path.dirname(p), exist_ok=True)
    raw = [files.temp_name(p[:-len('.npy')] + '.raw') for p in (img_path, vp_path)]
    corrupt = []

    def skipped(err):
        if on_corrupt == 'fail':
            raise err
        corrupt.append({'offset': err.offset, 'reason': err.reason})
        if report:
            report(err)

    size_bytes = os.path.getsize(path)
    scenes, done = 0, 0
    try:
        with open(raw[0], 'wb') as f_img, open(raw[1], 'wb') as f_vp:
            for offset, data in tfrecord.read_records(path, on_corrupt, report=skipped):
                try:
                    images, viewpoints = decode_scene(data, dataset, size, resample)
                except ValueError as e:
                    skipped(tfrecord.CorruptRecordError(path, offset, str(e)))
                else:
                    f_img.write(images.tobytes())
                    f_vp.write(viewpoints.tobytes())
                    scenes += 1
                end = offset + len(data) + tfrecord.HEADER_SIZE + tfrecord.FOOTER_SIZE
                if progress:
                    progress(end - done)
                done = end
        shape = (scenes, info.views)
        if scenes:
            images = np.memmap(raw[0], np.uint8, 'r', shape=shape + (size, size, 3))
            viewpoints = np.fromfile(raw[1], np.float32).reshape(shape + (7,))
        else:
            images = np.zeros(shape + (size, size, 3), np.uint8)
            viewpoints = np.zeros(shape + (7,), np.float32)
        source = {'file': os.path.join(split, os.path.basename(path)), 'bytes': size_bytes,
                  'scenes': scenes, 'corrupt': corrupt}
        files.atomic_write_json(src_path, source)
        shards.write_shard(root, split, index, images, viewpoints)
        del images
    finally:
        for p in raw:
            if os.path.exists(p):
                os.remove(p)
    if progress:
        progress(size_bytes - done)
    return source


def find_dataset(src, dataset=None):
    """``(name, folder)`` of the dataset under ``src``.

    ``src`` is the dataset's folder (``.../shepard_metzler_5_parts``, whose
    name tells the dataset) or its parent (then ``dataset`` names it, or it
    holds exactly one dataset folder).
    """
    from gqn.errors import GQNError
    src = os.path.abspath(src)
    if not os.path.isdir(src):
        raise GQNError('%s: no such directory' % src)
    base = os.path.basename(src)
    if dataset is not None and dataset not in DATASETS:
        raise GQNError('unknown dataset %r (known: %s)' % (dataset, ', '.join(sorted(DATASETS))))
    if base in DATASETS:
        if dataset not in (None, base):
            raise GQNError('%s is the %s folder but --dataset says %s' % (src, base, dataset))
        return base, src
    inside = [n for n in sorted(DATASETS) if os.path.isdir(os.path.join(src, n))]
    if dataset is not None:
        if dataset in inside:
            return dataset, os.path.join(src, dataset)
        return dataset, src
    if len(inside) == 1:
        return inside[0], os.path.join(src, inside[0])
    raise GQNError('cannot tell the dataset from %s; pass --dataset (one of %s)' % (
        src, ', '.join(sorted(DATASETS))))


def list_source_files(folder, split):
    """Sorted paths of ``<folder>/<split>/*.tfrecord``."""
    d = os.path.join(folder, split)
    if not os.path.isdir(d):
        return []
    return [os.path.join(d, f) for f in sorted(os.listdir(d)) if f.endswith('.tfrecord')]


def _manifest(root, dataset, folder, size, resample, pending):
    """The manifest of what is on disk under ``root``."""
    from gqn import files
    from gqn.data import shards
    info = DATASETS[dataset]
    manifest = {
        'kind': KIND,
        'complete': not pending,
        'source': {'dataset': dataset, 'path': folder, 'frame_size': info.frame_size,
                   'views': info.views, 'files': {},
                   'published_files': {'train': info.train_files, 'test': info.test_files}},
        'conversion': {
            'image_size': size, 'resize_filter': resample,
            'resize': 'PIL.Image.resize(filter=%s) of each RGB frame, %d px -> %d px%s' % (
                resample, info.frame_size, size,
                ' (skipped: same size)' if size == info.frame_size else ''),
            'cameras': '(x, y, z, yaw, pitch) radians -> '
                       '(x, y, z, cos yaw, sin yaw, cos pitch, sin pitch)',
            'sharding': 'one shard per source file, in sorted file order'},
        'viewpoint_order': list(VIEWPOINT_ORDER),
        'image_size': size,
        'views': info.views,
        'splits': {},
        'corrupt_records': [],
    }
    for split in shards.list_splits(root):
        src_dir = os.path.join(root, split, SOURCES)
        names = shards.list_shards(root, split)
        converted, scenes, corrupt = [], 0, 0
        for name in names:
            source = files.read_json(os.path.join(src_dir, name + '.json'), 'source record')
            converted.append(source['file'])
            scenes += source['scenes']
            corrupt += len(source['corrupt'])
            manifest['corrupt_records'] += [dict(c, file=source['file'])
                                            for c in source['corrupt']]
        manifest['source']['files'][split] = converted
        manifest['splits'][split] = {'scenes': scenes, 'shards': len(names),
                                     'corrupt_records': corrupt}
    return manifest


def _check_compatible(root, dataset, size, resample):
    from gqn.data import shards
    from gqn.errors import GQNError
    old = shards.read_manifest(root)
    if old is None:
        if shards.list_splits(root):
            raise GQNError('%s already holds shards but no manifest; choose another --out' % root)
        return
    if old.get('kind') != KIND:
        raise GQNError('%s holds another dataset (manifest kind %r); choose another --out'
                       % (root, old.get('kind')))
    was = (old['source']['dataset'], old['image_size'], old['conversion']['resize_filter'])
    if was != (dataset, size, resample):
        raise GQNError('%s holds %s at %d px (filter %s); this import is %s at %d px (filter %s)'
                       '; choose another --out' % ((root,) + was + (dataset, size, resample)))


_queue = None


def _init_worker(queue, parent):
    global _queue
    from gqn import processes
    processes.init_worker(parent)
    _queue = queue


def _convert_task(task):
    """Pool entry point: progress and skipped records go through the queue."""
    pending = [0]

    def progress(n):
        pending[0] += n
        if pending[0] >= 1 << 20:
            _queue.put(('progress', pending[0]))
            pending[0] = 0

    def report(err):
        _queue.put(('corrupt', str(err)))

    source = convert_file(*task, progress=progress, report=report)
    _queue.put(('progress', pending[0]))
    return source


def import_dataset(src, out, dataset=None, size=64, resample='box', splits=None, workers=1,
                   limit_files=None, on_corrupt='fail'):
    """Convert the TFRecords of one DeepMind dataset to shards under ``out`` (``gqn
    import-deepmind``); a rerun resumes.

    Args:
        src (str): the dataset folder (its name tells the dataset) or its parent.
        out (str): the output dataset root.
        dataset (str or None): which of :data:`DATASETS` (default: from the folder name).
        size (int): output image side.
        resample (str): Pillow resize filter, one of :data:`FILTERS`.
        splits (str or None): comma-separated splits (default: those present of train, test).
        workers (int): processes converting files in parallel (1: in this process).
        limit_files (int or None): convert only the first N files of each split.
        on_corrupt (str): ``'fail'`` or ``'skip'`` a corrupt or truncated record.

    Returns:
        int: 0.

    Raises:
        GQNError: for bad arguments, a source without records, an ``out`` holding another
            dataset, or another import writing into ``out`` (``out/import.lock``).
    """
    from gqn import files
    from gqn.errors import GQNError
    dataset, folder = find_dataset(src, dataset)
    if size < 1:
        raise GQNError('--size must be positive, got %d' % size)
    if limit_files is not None and limit_files < 1:
        raise GQNError('--limit-files must be positive, got %d' % limit_files)
    if splits is None:
        splits = [s for s in SPLITS if list_source_files(folder, s)]
    else:
        splits = list(dict.fromkeys(s for s in splits.split(',') if s))
    sources = {s: list_source_files(folder, s)[:limit_files] for s in splits}
    for s in splits:
        if not sources[s]:
            raise GQNError('no %s/*.tfrecord files in %s' % (s, folder))
    if not splits:
        raise GQNError('no train/*.tfrecord or test/*.tfrecord files in %s' % folder)
    _check_compatible(out, dataset, size, resample)  # before the lock touches a foreign folder
    with files.folder_lock(out, LOCK, 'imported into'):
        return _import_locked(out, dataset, folder, size, resample, splits, sources, workers,
                              limit_files, on_corrupt)


def _import_locked(root, dataset, folder, size, resample, splits, sources, workers,
                   limit_files, on_corrupt):
    import multiprocessing
    import queue as queue_lib
    import sys
    from concurrent import futures

    from tqdm import tqdm

    from gqn import files, processes
    from gqn.data import shards
    from gqn.errors import GQNError
    _check_compatible(root, dataset, size, resample)  # again: one may have ended meanwhile
    files.remove_partial_files(root)
    info = DATASETS[dataset]
    tasks = []
    for s in splits:
        published = getattr(info, s + '_files', None)
        if limit_files is None and published and len(sources[s]) != published:
            print('gqn import-deepmind: note: %d %s files in %s; %s was published with %d'
                  % (len(sources[s]), s, folder, dataset, published), file=sys.stderr)
        for i, path in enumerate(sources[s]):
            src_json = os.path.join(root, s, SOURCES, shards.shard_name(i) + '.json')
            if shards.shard_exists(root, s, i) and os.path.exists(src_json):
                done_from = files.read_json(src_json, 'source record')['file']
                if done_from != os.path.join(s, os.path.basename(path)):
                    raise GQNError('%s: shard %s was converted from %s, but file %d is now %s; '
                                   'choose another --out' % (root, shards.shard_name(i),
                                                             done_from, i, path))
                continue
            tasks.append((path, root, s, i, dataset, size, resample, on_corrupt))
    files.atomic_write_json(os.path.join(root, shards.MANIFEST), _manifest(
        root, dataset, folder, size, resample, pending=True))
    total = sum(os.path.getsize(t[0]) for t in tasks)
    with tqdm(total=total, unit='B', unit_scale=True, desc='import %s' % dataset,
              disable=not tasks, file=sys.stderr) as bar:
        def report(message):
            bar.write('gqn import-deepmind: skipped %s' % message, file=sys.stderr)

        def handle(event):
            what, value = event
            if what == 'progress':
                bar.update(value)
            else:
                report(value)

        workers = min(workers, len(tasks))
        if workers <= 1:
            for task in tasks:
                convert_file(*task, progress=bar.update, report=lambda e: report(str(e)))
        else:
            # A worker that dies (killed, out of memory) fails the import
            # (BrokenProcessPool) instead of hanging it, as Pool would.
            ctx = multiprocessing.get_context('spawn')
            q = ctx.Queue()
            others = set(multiprocessing.active_children())
            # Ctrl-C and SIGTERM are raised between the pool's calls, never inside them.
            with processes.signals_deferred() as raise_signal, futures.ProcessPoolExecutor(
                    workers, mp_context=ctx, initializer=_init_worker,
                    initargs=(q, os.getpid())) as pool:
                running = {pool.submit(_convert_task, t) for t in tasks}
                pool_processes = set(multiprocessing.active_children()) - others
                try:
                    while running:
                        raise_signal()
                        try:
                            handle(q.get(timeout=0.2))
                        except queue_lib.Empty:
                            pass
                        done, running = futures.wait(running, timeout=0)
                        for f in done:
                            f.result()  # re-raises a worker's error
                except futures.BrokenExecutor:
                    raise GQNError('a worker process died (killed, or out of memory?); '
                                   'finished shards are kept: rerun to resume') from None
                except BaseException:  # Ctrl-C, SIGTERM, a failed file: stop the others now
                    for p in pool_processes:
                        p.terminate()
                    pool.shutdown(wait=True, cancel_futures=True)
                    raise
            while True:
                try:
                    handle(q.get(timeout=0.1))
                except queue_lib.Empty:
                    break
    manifest = _manifest(root, dataset, folder, size, resample, pending=False)
    files.atomic_write_json(os.path.join(root, shards.MANIFEST), manifest)
    counts = ', '.join('%s %d scenes in %d shards' % (s, c['scenes'], c['shards'])
                       for s, c in sorted(manifest['splits'].items()))
    print('gqn import-deepmind: %s -> %s: %s%s' % (
        dataset, root, counts, '; %d corrupt records skipped' % len(manifest['corrupt_records'])
        if manifest['corrupt_records'] else ''))
    return 0
