"""``gqn import-images``: folders of posed photos to shards (:mod:`renderer.posed_images`)."""
import argparse


def configure_import_images(p):
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.description = (
        'Import posed images into a dataset: SRC holds one folder per scene, each with its '
        'images and a\ntransforms.json (nerfstudio, instant-ngp: camera-to-world matrices, '
        'OpenGL camera) or a\nposes.csv (file,x,y,z,yaw,pitch; this project\'s convention, '
        'degrees). Images are cropped to a\nsquare and resized (Lanczos); a pose\'s roll is '
        'reported and dropped.')
    p.epilog = 'example: gqn import-images captures/ --out datasets/mine --image-size 64 --up +z'
    p.add_argument('src', metavar='SRC_DIR', help='folder of scene folders')
    p.add_argument('--out', required=True, metavar='ROOT', help='the dataset folder to create')
    p.add_argument('--image-size', type=int, default=64, help='(default: %(default)s)')
    p.add_argument('--views', type=int,
                   help='views per scene (default: the fewest any scene has); a scene with '
                        'fewer is named and skipped')
    p.add_argument('--pick', choices=('random', 'first'), default='random',
                   help='which views a scene with more keeps (default: %(default)s, from --seed)')
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--test-scenes', type=int, default=0,
                   help='the last N scenes (sorted by folder name) form the test split '
                        '(default: 0)')
    p.add_argument('--up', help='the world up axis of transforms.json files without "up": '
                   '+z (nerfstudio, Blender), +y, -y, ..., or a,b,c')
    p.add_argument('--crop', metavar='X0,Y0,X1,Y1',
                   help='a square box in source pixels (default: the centred square)')
    p.add_argument('--scenes-per-shard', type=int, default=100, help='(default: %(default)s)')


def run_import_images(args):
    from gqn.errors import GQNError
    from renderer.posed_images import import_images
    crop = None
    if args.crop:
        try:
            crop = tuple(int(c) for c in args.crop.split(','))
        except ValueError:
            crop = ()
        if len(crop) != 4:
            raise GQNError('--crop must be four integers X0,Y0,X1,Y1, got %r' % args.crop)
    import_images(args.src, args.out, args.image_size, args.views, args.pick, args.seed,
                  args.test_scenes, args.up, crop, args.scenes_per_shard)
