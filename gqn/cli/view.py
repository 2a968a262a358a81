"""``gqn view``: a web viewer that predicts the view from wherever you drag the camera
(:mod:`gqn.evaluation.view_server`)."""


def configure_view(p):
    p.add_argument('run', help='run directory, its model/ folder, a snapshot .npz, or '
                   'pretrained:NAME (a model shipped in the package; then pass --dataset)')
    p.add_argument('--dataset', help="dataset root (default: the run's dataset)")
    p.add_argument('--split', default='test', help='(default: %(default)s)')
    p.add_argument('--context', type=int, default=3,
                   help='context views K a new browser tab starts with (default: %(default)s)')
    p.add_argument('--host', default='127.0.0.1',
                   help='address to listen on (default: %(default)s, this machine only)')
    p.add_argument('--port', type=int, default=8080, help='(default: %(default)s)')
    p.add_argument('--device', default='@numpy', help="'@numpy' or '@cupy:0' (default: %(default)s)")
    p.add_argument('--out', help="folder for saved PNGs and GIFs (default: <run>/view)")
    p.add_argument('--open', action='store_true', help="also open the page in this machine's "
                   'web browser')
    p.epilog = 'example: gqn view runs/demo   (then open http://127.0.0.1:8080)'


def port_free(host, port):
    """Whether ``host:port`` can be listened on (viser would take the next free port
    silently; the viewer says so instead)."""
    import socket
    with socket.socket(socket.AF_INET6 if ':' in host else socket.AF_INET) as s:
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def run_view(args):
    import os
    import sys
    import time

    from gqn.data import shards
    from gqn.errors import GQNError
    from gqn.evaluation.gif import write_rotation_gif
    from gqn.evaluation.run import load_run
    from gqn.evaluation.view_server import ViewServer
    from gqn.evaluation.viewer import SceneViewer
    from gqn.processes import sigterm_raises

    if not 1 <= args.port <= 65535:
        raise GQNError('--port must be in 1..65535')
    if not port_free(args.host, args.port):
        raise GQNError('port %d on %s is in use: pass another --port' % (args.port, args.host))
    browser = None
    if args.open:
        import webbrowser
        try:
            browser = webbrowser.get()
        except webbrowser.Error:
            raise GQNError('--open: no web browser found on this machine; open the URL '
                           'yourself') from None
    run = load_run(args.run, args.dataset)
    device, dataset = run.open(args.device, args.split)
    if len(dataset) == 0:
        raise GQNError('the %s split of %s has no scenes' % (args.split, run.root))
    if not 0 <= args.context <= dataset.views:
        raise GQNError('--context must be in 0..%d' % dataset.views)
    manifest = shards.read_manifest(run.root)
    out = args.out or os.path.join(run.run_dir or '.', 'view')
    yfov = (manifest or {}).get('intrinsics', {}).get('yfov', 0.87)

    def write_gif(path, scene, context, samples, seed):
        write_rotation_gif(path, run.model, dataset, run.root, args.split, [scene], context,
                           samples=samples, seed=seed, device=device)

    server = ViewServer(lambda: SceneViewer(run.model, dataset, manifest, device),
                        len(dataset), dataset.views, yfov, args.host, args.port, out,
                        write_gif, context=args.context)
    url = 'http://%s:%d' % ('127.0.0.1' if args.host in ('127.0.0.1', 'localhost')
                            else args.host, server.port)
    if args.host not in ('127.0.0.1', 'localhost', '::1'):
        print('gqn view: warning: listening on %s: anyone who can reach this machine can use '
              'the viewer' % args.host, file=sys.stderr)
    print('gqn view: %s (%d scenes of %s/%s); Ctrl-C stops it'
          % (url, len(dataset), run.root, args.split), flush=True)
    print('on a remote machine, forward the port first:  ssh -N -L %d:localhost:%d USER@HOST'
          % (server.port, server.port), flush=True)
    if browser is not None:
        browser.open(url)
    try:
        with sigterm_raises():
            while True:
                time.sleep(3600)
    except KeyboardInterrupt:  # Ctrl-C or SIGTERM: the normal way to stop a server
        print('gqn view: stopped', file=sys.stderr)
    finally:
        server.stop()
