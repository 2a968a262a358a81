"""Records/s of ``gqn import-deepmind`` on synthetic Shepard-Metzler-like TFRecords.

Writes ``--files`` files of ``--records`` scenes (15 views, 64 px JPEG
frames: coloured blocks on black) to a temporary folder, then times, in
one run:

* ``read_crc``: framing and both CRC-32C checks only (the floor);
* ``decode``: plus Example parsing and JPEG decoding (no output);
* ``import_1``: the full import in this process (``--workers 1``);
* ``import_N``: the full import with ``--workers N`` (spawned processes).

Prints one JSON object; ``ratio_*`` compare against ``import_1``.
"""
import argparse
import contextlib
import json
import os
import shutil
import sys
import tempfile
import time

import gqn  # noqa: F401  (first: picks NumPy's BLAS kernels, see gqn.kernels.blas)

# isort: split
import numpy as np

from gqn.data import deepmind, tfrecord
from gqn.testing.records import encode_scene, write_records

DATASET = 'shepard_metzler_5_parts'


def synthetic_scene(rng, views=15, size=64):
    images = np.zeros((views, size, size, 3), np.uint8)
    for image in images:
        for _ in range(rng.randint(3, 8)):
            x, y = rng.randint(8, size - 16, 2)
            w, h = rng.randint(6, 14, 2)
            image[y:y + h, x:x + w] = rng.randint(40, 256, 3)
    cameras = rng.uniform(-3, 3, (views, 5)).astype(np.float32)
    return images, cameras


def timed(fn):
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--files', type=int, default=4)
    parser.add_argument('--records', type=int, default=250, help='scenes per file')
    parser.add_argument('--workers', type=int, default=2)
    args = parser.parse_args()

    tmp = tempfile.mkdtemp(prefix='bench_import_')
    try:
        rng = np.random.RandomState(0)
        folder = os.path.join(tmp, DATASET)
        os.makedirs(os.path.join(folder, 'train'))
        paths = []
        for i in range(args.files):
            path = os.path.join(folder, 'train', '%03d-of-%03d.tfrecord' % (i, args.files))
            write_records(path, [encode_scene(*synthetic_scene(rng))
                                          for _ in range(args.records)])
            paths.append(path)
        n = args.files * args.records
        mb = sum(os.path.getsize(p) for p in paths) / 1e6

        def read_crc():
            for p in paths:
                for _ in tfrecord.read_records(p):
                    pass

        def decode():
            for p in paths:
                for _, data in tfrecord.read_records(p):
                    deepmind.decode_scene(data, DATASET)

        def run_import(workers):
            def fn():
                out = os.path.join(tmp, 'out%d' % workers)
                with contextlib.redirect_stdout(sys.stderr):  # stdout: JSON only
                    deepmind.import_dataset(folder, out, workers=workers)
            return fn

        read_crc()  # warm the page cache
        seconds = {'read_crc': timed(read_crc), 'decode': timed(decode),
                   'import_1': timed(run_import(1)),
                   'import_%d' % args.workers: timed(run_import(args.workers))}
    finally:
        shutil.rmtree(tmp)
    rate = {k: n / s for k, s in seconds.items()}
    result = {
        'benchmark': 'import',
        'dataset_like': DATASET,
        'records': n,
        'files': args.files,
        'source_mb': round(mb, 2),
        'cpu_count': os.cpu_count(),
        'records_per_s': {k: round(v, 1) for k, v in rate.items()},
        'read_crc_mb_per_s': round(mb / seconds['read_crc'], 1),
        'ratio_import_1_to_decode': round(rate['import_1'] / rate['decode'], 3),
        'ratio_import_%d_to_import_1' % args.workers:
            round(rate['import_%d' % args.workers] / rate['import_1'], 3),
    }
    print(json.dumps(result))


if __name__ == '__main__':
    main()
