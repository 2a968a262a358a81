"""``gqn render``, ``gqn check`` and ``gqn preview``."""
import os


def _cpu_count():
    return len(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity') else os.cpu_count()


def configure_render(parser):
    parser.epilog = 'example: gqn render shepard_matzler_small --workers 2 --set image_size=32'
    parser.add_argument('recipe', help='recipe file, or a name in the project datasets/ folder '
                        '(e.g. shepard_matzler_small)')
    parser.add_argument('--out', help='output root (default: datasets/<recipe name>/ here)')
    parser.add_argument('--workers', type=int, default=_cpu_count(),
                        help='rendering processes (default: %(default)s, all cores)')
    parser.add_argument('--seed', type=int, help='override the recipe seed')
    parser.add_argument('--train-scenes', type=int, help='override train_scenes')
    parser.add_argument('--test-scenes', type=int, help='override test_scenes')
    parser.add_argument('--set', action='append', default=[], metavar='KEY=VALUE',
                        help='override a recipe key, e.g. --set scene.cubes=5 '
                        '--set camera.yfov_deg=40 (repeatable; values are TOML)')
    parser.add_argument('--mnist', metavar='PATH',
                        help='digits for mnist_dice: MNIST IDX files (their folder or the '
                        'train-images file, gzipped or not) or an .npz (same as --set scene.mnist=PATH)')
    parser.add_argument('--no-progress', action='store_true', help='no progress bar')


def run_render(args):
    import json

    from gqn.processes import sigterm_raises
    from renderer.dataset import render_dataset
    from renderer.recipe import load_recipe
    overrides = list(args.set)
    for key in ('seed', 'train_scenes', 'test_scenes'):
        if getattr(args, key) is not None:
            overrides.append('%s=%d' % (key, getattr(args, key)))
    if args.mnist is not None:
        overrides.append('scene.mnist=%s' % json.dumps(os.path.abspath(args.mnist)))
    name, recipe = load_recipe(args.recipe, overrides)
    root = args.out or os.path.join('datasets', name)
    with sigterm_raises():  # the pool is stopped on the way out, then one line
        render_dataset(name, recipe, root, workers=args.workers,
                       progress=not args.no_progress, comm=mpi_communicator())
    return 0


#: Environment variables MPI launchers set to the job's size.
_MPI_SIZE_VARIABLES = ('OMPI_COMM_WORLD_SIZE', 'PMI_SIZE', 'PMIX_SIZE', 'MPI_LOCALNRANKS')


def mpi_communicator():
    """``MPI.COMM_WORLD`` when started by ``mpiexec -n N`` with ``N > 1``, else ``None``."""
    if not any(int(os.environ.get(v, '1') or 1) > 1 for v in _MPI_SIZE_VARIABLES):
        return None
    from gqn.errors import GQNError
    try:
        from mpi4py import MPI
    except ImportError as e:
        raise GQNError('started under MPI but mpi4py is missing (pip install mpi4py): %s' % e) from None
    return MPI.COMM_WORLD


def configure_check(parser):
    parser.epilog = 'example: gqn check datasets/shepard_matzler_small'
    parser.add_argument('root', help='dataset root (holding <split>/images/)')


def run_check(args):
    from gqn.data.shards import check_dataset, read_manifest
    from renderer.scene_spec import object_ids, recipe_mesh_files, validate_spec
    mesh_files = recipe_mesh_files(read_manifest(args.root))
    summary = check_dataset(args.root, check_spec=lambda spec, where: validate_spec(
        spec, where=where, mesh_files=mesh_files),
        max_object_id=lambda spec: max(object_ids(spec), default=0))
    for split, info in summary['splits'].items():
        print('%s: %s: %d scenes in %d shards, %d views of %dx%d' % (
            args.root, split, info['scenes'], info['shards'], summary['views'],
            summary['height'], summary['width']))
    print('%s: OK' % args.root)
    return 0


def configure_preview(parser):
    parser.epilog = 'example: gqn preview datasets/rooms_32 --masks'
    parser.add_argument('root', help='dataset root')
    parser.add_argument('--out', help='PNG path (default: <root>/preview.png)')
    parser.add_argument('--split', help='split to show (default: train)')
    parser.add_argument('--scenes', type=int, default=8, help='rows (default: %(default)s)')
    parser.add_argument('--views', type=int, help='columns (default: all views)')
    parser.add_argument('--scale', type=int, default=2, help='pixel zoom (default: %(default)s)')
    parser.add_argument('--masks', action='store_true',
                        help='tint each object of the instance masks with its own colour '
                        '(default --out: <root>/preview-masks.png); an error without masks')


def run_preview(args):
    from renderer.preview import write_preview
    path = write_preview(args.root, args.out, scale=args.scale, split=args.split,
                         scenes=args.scenes, views=args.views, masks=args.masks)
    print(path)
    return 0
