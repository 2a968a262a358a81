"""``gqn gif``: a rotation GIF of a trained run's predictions (:mod:`gqn.evaluation.gif`)."""


def configure_gif(p):
    p.epilog = 'example: gqn gif runs/mine --scene 0 --scene 5 --context 3'
    p.add_argument('run', help='run directory, its model/ folder, a snapshot .npz, or '
                   'pretrained:NAME (a model shipped in the package; then pass --dataset)')
    p.add_argument('--dataset', help="dataset root (default: the run's dataset)")
    p.add_argument('--split', default='test', help='(default: %(default)s)')
    p.add_argument('--scene', type=int, action='append',
                   help='scene index in the split; repeat for several rows (default: 0)')
    p.add_argument('--context', type=int, default=3, help='context views K (default: %(default)s)')
    p.add_argument('--frames', type=int, default=36, help='frames per orbit (default: %(default)s)')
    p.add_argument('--samples', type=int, default=1, help='prior samples shown (default: 1)')
    p.add_argument('--mean-samples', type=int, default=4,
                   help='prior samples averaged into the mean column (default: %(default)s)')
    p.add_argument('--sweep-pitch', action='store_true', help='also swing the pitch')
    p.add_argument('--scale', type=int, default=3, help='upscaling factor (default: %(default)s)')
    p.add_argument('--duration', type=int, default=100, help='ms per frame (default: %(default)s)')
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--device', default='@numpy')
    p.add_argument('--out', help='GIF path (default: <run>/rotation.gif)')


def run_gif(args):
    import os

    from gqn import files
    from gqn.errors import GQNError
    from gqn.evaluation.gif import write_rotation_gif
    from gqn.evaluation.run import load_run

    run = load_run(args.run, args.dataset)
    for name in ('frames', 'scale', 'duration', 'mean_samples'):
        if getattr(args, name) <= 0:
            raise GQNError('--%s must be positive' % name.replace('_', '-'))
    out = args.out or os.path.join(run.run_dir or '.', 'rotation.gif')
    folder = os.path.dirname(os.path.abspath(out))
    files.writable_folder(folder)
    files.remove_partial_files(folder, names=[os.path.basename(out)])  # of killed runs
    device, dataset = run.open(args.device, args.split)
    if not 0 <= args.context <= dataset.views or args.samples < 0:
        raise GQNError('--context must be in 0..%d' % dataset.views)
    write_rotation_gif(out, run.model, dataset, run.root, args.split, args.scene or [0],
                       args.context, args.frames, args.samples, args.mean_samples,
                       args.sweep_pitch, args.scale, args.duration, args.seed, device)
    print('wrote %s (%d frames)' % (out, args.frames))
