"""``gqn export-nerfstudio``: a dataset's scenes as nerfstudio folders
(:func:`renderer.posed_images.export_nerfstudio`)."""


def configure_export_nerfstudio(p):
    p.epilog = 'example: gqn export-nerfstudio datasets/shepard_matzler_small --out ns/ --scene 0'
    p.add_argument('dataset', metavar='DATASET', help='dataset root')
    p.add_argument('--out', required=True, help='folder for <split>_<scene>/ folders')
    p.add_argument('--split', default='test', help='(default: %(default)s)')
    p.add_argument('--scene', type=int, action='append',
                   help='scene index in the split; repeat for several (default: all)')


def run_export_nerfstudio(args):
    from renderer.posed_images import export_nerfstudio
    export_nerfstudio(args.dataset, args.out, args.split, args.scene)
