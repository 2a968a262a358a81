"""``gqn import-deepmind``: DeepMind's gqn-datasets TFRecords to shards (:mod:`gqn.data.deepmind`)."""
import argparse
import os

from gqn.data import deepmind


def configure_import_deepmind(parser):
    parser.epilog = ('example: gqn import-deepmind gqn-datasets/shepard_metzler_7_parts '
                     '--out datasets/sm7_deepmind')
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.description = (
        "Convert DeepMind's gqn-datasets TFRecords (<name>/{train,test}/*.tfrecord) to "
        "shards, without TensorFlow.\nOne shard per source file; every record's "
        "checksums are verified; a rerun resumes.\nDatasets: " + ', '.join(sorted(deepmind.DATASETS)))
    parser.add_argument('src', metavar='SRC_DIR',
                        help='the dataset folder (its name tells the dataset) or its parent')
    parser.add_argument('--out', required=True, metavar='ROOT', help='output dataset folder')
    parser.add_argument('--dataset', choices=sorted(deepmind.DATASETS), metavar='NAME',
                        help='which dataset (default: from the folder name)')
    parser.add_argument('--size', type=int, default=64, help='output image side (default 64)')
    parser.add_argument('--filter', default='box', choices=deepmind.FILTERS,
                        help='Pillow resize filter (default box: area average)')
    parser.add_argument('--splits', default=None,
                        help='comma-separated splits (default: those present of train,test)')
    parser.add_argument('--workers', type=int, default=os.cpu_count() or 1,
                        help='processes converting files in parallel (default: CPU count; '
                             '1 converts in this process)')
    parser.add_argument('--limit-files', type=int, default=None, metavar='N',
                        help='convert only the first N files of each split')
    parser.add_argument('--on-corrupt', choices=('fail', 'skip'), default='fail',
                        help='a corrupt or truncated record fails the import (default) '
                             'or is reported and skipped')


def run_import_deepmind(args):
    from gqn.processes import sigterm_raises
    with sigterm_raises():  # the pool is stopped on the way out, then one line
        return deepmind.import_dataset(args.src, args.out, args.dataset, args.size,
                                       args.filter, args.splits, args.workers,
                                       args.limit_files, args.on_corrupt)
