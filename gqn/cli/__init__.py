"""The ``gqn`` command: one entry point, one subcommand per job.

Each subcommand is a module of this package with a pair of functions
``configure_<name>(parser)`` and ``run_<name>(args)``: the command layer is the
only one that parses arguments; ``run_<name>`` turns them into calls of the
layers below. These modules import nothing heavy at module level, so ``gqn
--help`` stays fast; Chainer and OpenGL are imported inside ``run_<name>``.
"""
import argparse
import errno
import importlib
import sys

from gqn.errors import GQNError
from gqn.processes import Terminated

# (subcommand, module, one-line help)
COMMANDS = [  # in the order a newcomer uses them (gqn --help lists them so)
    ('demo', 'gqn.cli.demo', 'render, train, evaluate and make a GIF, end to end'),
    ('render', 'gqn.cli.render', 'render a scene dataset into .npy shards'),
    ('check', 'gqn.cli.render', 'validate a dataset (shapes, dtypes, counts, viewpoints)'),
    ('preview', 'gqn.cli.render', 'write a PNG grid of scenes x views'),
    ('train', 'gqn.cli.train', 'train a GQN on a shard dataset (Chainer Trainer)'),
    ('eval', 'gqn.cli.eval', 'score a trained model against baselines on a test split'),
    ('gif', 'gqn.cli.gif', 'rotation GIF: context | truth | predictions on a 360-degree orbit'),
    ('view', 'gqn.cli.view', 'a web viewer: move the camera, see the model predict the view'),
    ('import-images', 'gqn.cli.import_images',
     'posed photos (transforms.json or poses.csv per scene) to shards'),
    ('export-nerfstudio', 'gqn.cli.export_nerfstudio',
     "a dataset's scenes as nerfstudio folders (transforms.json + PNGs)"),
    ('import-deepmind', 'gqn.cli.import_deepmind', "convert DeepMind's gqn-datasets TFRecords to shards"),
]


def build_parser():
    parser = argparse.ArgumentParser(
        prog='gqn', description='Render 3D scene datasets and train Generative Query Networks.')
    from gqn import __version__
    parser.add_argument('--version', action='version', version='gqn ' + __version__)
    sub = parser.add_subparsers(dest='command', metavar='COMMAND')
    sub.required = True
    for name, module, help_ in COMMANDS:
        mod = importlib.import_module(module)
        attr = name.replace('-', '_')
        p = sub.add_parser(name, help=help_, description=help_)
        getattr(mod, 'configure_' + attr)(p)
        p.set_defaults(_run=getattr(mod, 'run_' + attr))
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        status = args._run(args)
    except GQNError as e:
        print('gqn %s: error: %s' % (args.command, e), file=sys.stderr)
        return 2
    except OSError as e:
        if e.filename is None and e.errno != errno.ENOSPC:
            raise  # not about a path the user gave: a bug, keep its traceback
        where = '%s: ' % e.filename if e.filename is not None else ''
        print('gqn %s: error: %s%s' % (args.command, where, e.strerror or e), file=sys.stderr)
        return 2
    except KeyboardInterrupt as e:  # SIGINT, or SIGTERM where a command asked for it
        if isinstance(e, Terminated):
            print('gqn %s: terminated' % args.command, file=sys.stderr)
            return 143
        print('gqn %s: interrupted' % args.command, file=sys.stderr)
        return 130
    return status or 0

