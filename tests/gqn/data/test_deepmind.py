import argparse
import io
import os
import tracemalloc

import numpy as np
import pytest
from PIL import Image

from gqn.cli import import_deepmind
from gqn.data import deepmind, shards, tfrecord
from gqn.errors import GQNError
from gqn.testing.records import encode_example, encode_scene, frame_record, write_records


def make_scenes(n, dataset, seed):
    """Smooth random frames (4x4 blocks of colour) and cameras, as written."""
    info = deepmind.DATASETS[dataset]
    rng = np.random.RandomState(seed)
    k = info.frame_size // 4
    images = rng.randint(0, 256, (n, info.views, 4, 4, 3)).astype(np.uint8)
    images = images.repeat(k, 2).repeat(k, 3)
    cameras = rng.uniform(-3, 3, (n, info.views, 5)).astype(np.float32)
    return images, cameras


def write_dataset(src, dataset, counts, seed=0):
    """``counts``: ``{split: [scenes per file]}``; returns the scenes written."""
    written = {}
    for split, per_file in counts.items():
        d = os.path.join(str(src), dataset, split)
        os.makedirs(d)
        written[split] = []
        for i, n in enumerate(per_file):
            images, cameras = make_scenes(n, dataset, seed + 100 * i + len(split))
            records = [encode_scene(im, cam) for im, cam in zip(images, cameras)]
            path = os.path.join(d, '%03d-of-%03d.tfrecord' % (i, len(per_file)))
            write_records(path, records)
            written[split].append((path, images, cameras, records))
    return os.path.join(str(src), dataset), written


def run(*argv):
    """``gqn import-deepmind ARGV`` in this process (the command's own parser)."""
    parser = argparse.ArgumentParser()
    import_deepmind.configure_import_deepmind(parser)
    return import_deepmind.run_import_deepmind(parser.parse_args([str(a) for a in argv]))


def decoded(record, size=None, resample=Image.Resampling.BOX):
    out = []
    for jpeg in tfrecord.parse_example(record)['frames']:
        im = Image.open(io.BytesIO(jpeg)).convert('RGB')
        if size is not None:
            im = im.resize((size, size), resample)
        out.append(np.asarray(im))
    return np.stack(out)


def expected_viewpoints(cameras):
    c = cameras.astype(np.float64)
    return np.concatenate([c[..., :3], np.cos(c[..., 3:4]), np.sin(c[..., 3:4]),
                           np.cos(c[..., 4:5]), np.sin(c[..., 4:5])], -1).astype(np.float32)


def test_cameras_to_viewpoints_order():
    v = deepmind.cameras_to_viewpoints(np.array([[1, 2, 3, 0, np.pi / 2]], np.float32))
    assert v.dtype == np.float32 and v.shape == (1, 7)
    np.testing.assert_allclose(v[0], [1, 2, 3, 1, 0, 0, 1], atol=1e-7)


def test_import_round_trip(tmp_path, capsys):
    name = 'shepard_metzler_5_parts'
    folder, written = write_dataset(tmp_path / 'src', name, {'train': [3, 2], 'test': [2]})
    out = tmp_path / 'out'
    assert run(folder, '--out', out, '--workers', 1) == 0
    assert '%s -> %s: test 2 scenes in 1 shards, train 5 scenes in 2 shards' % (name, out) \
        in capsys.readouterr().out
    for split, files in written.items():
        assert shards.list_shards(str(out), split) == ['%04d' % i for i in range(len(files))]
        for i, (_, images, cameras, records) in enumerate(files):
            x, v = shards.open_shard(str(out), split, '%04d' % i)
            assert x.dtype == np.uint8 and x.shape == (len(records), 15, 64, 64, 3)
            assert v.dtype == np.float32 and v.shape == (len(records), 15, 7)
            np.testing.assert_array_equal(v, expected_viewpoints(cameras))
            for s, record in enumerate(records):
                np.testing.assert_array_equal(x[s], decoded(record))
            # the right frame in the right place: close to what was encoded
            assert np.abs(x.astype(int) - images).mean() < 4
    manifest = shards.read_manifest(str(out))
    assert manifest['kind'] == 'import-deepmind' and manifest['complete']
    assert manifest['source']['dataset'] == name
    assert manifest['source']['files'] == {'train': ['train/000-of-002.tfrecord',
                                                     'train/001-of-002.tfrecord'],
                                           'test': ['test/000-of-001.tfrecord']}
    assert manifest['viewpoint_order'] == ['x', 'y', 'z', 'cos_yaw', 'sin_yaw',
                                           'cos_pitch', 'sin_pitch']
    assert manifest['conversion']['resize_filter'] == 'box'
    assert manifest['image_size'] == 64 and manifest['views'] == 15
    assert manifest['splits'] == {'train': {'scenes': 5, 'shards': 2, 'corrupt_records': 0},
                                  'test': {'scenes': 2, 'shards': 1, 'corrupt_records': 0}}
    assert manifest['corrupt_records'] == []


def test_resize_128_box_is_2x2_mean_and_84_px_mazes(tmp_path):
    name = 'rooms_free_camera_with_object_rotations'
    folder, written = write_dataset(tmp_path / 'src', name, {'train': [2]})
    run(folder, '--out', tmp_path / 'rooms', '--workers', 1)
    x, _ = shards.open_shard(str(tmp_path / 'rooms'), 'train', '0000')
    assert x.shape == (2, 10, 64, 64, 3)
    for s, record in enumerate(written['train'][0][3]):
        full = decoded(record).astype(np.float64)
        mean = full.reshape(10, 64, 2, 64, 2, 3).mean((2, 4))
        assert np.abs(x[s] - mean).max() <= 1

    folder, written = write_dataset(tmp_path / 'src', 'mazes', {'test': [1]})
    run(folder, '--out', tmp_path / 'mazes', '--size', 32, '--filter', 'bilinear',
        '--workers', 1)
    x, v = shards.open_shard(str(tmp_path / 'mazes'), 'test', '0000')
    assert x.shape == (1, 300, 32, 32, 3) and v.shape == (1, 300, 7)
    record = written['test'][0][3][0]
    np.testing.assert_array_equal(x[0], decoded(record, 32, Image.Resampling.BILINEAR))
    manifest = shards.read_manifest(str(tmp_path / 'mazes'))
    assert manifest['image_size'] == 32 and manifest['conversion']['resize_filter'] == 'bilinear'
    assert manifest['source']['frame_size'] == 84


def flip_byte(path, offset):
    with open(path, 'r+b') as f:
        f.seek(offset)
        b = f.read(1)
        f.seek(offset)
        f.write(bytes([b[0] ^ 0x10]))


def test_corrupt_record_fails_or_is_skipped(tmp_path, capsys):
    folder, written = write_dataset(tmp_path / 'src', 'shepard_metzler_7_parts',
                                    {'train': [3, 2]})
    path, _, cameras, records = written['train'][0]
    offset = 16 + len(records[0])  # the second record
    flip_byte(path, offset + 12 + 100)  # inside a JPEG
    out = tmp_path / 'out'
    with pytest.raises(GQNError, match='%s: record at byte offset %d: data checksum mismatch'
                       % (path, offset)):
        run(folder, '--out', out, '--workers', 1)
    assert not shards.shard_exists(str(out), 'train', 0)
    assert not [f for _, _, fs in os.walk(str(out)) for f in fs if '.tmp' in f]

    run(folder, '--out', out, '--workers', 1, '--on-corrupt', 'skip')
    assert 'skipped %s: record at byte offset %d' % (path, offset) in capsys.readouterr().err
    x, v = shards.open_shard(str(out), 'train', '0000')
    assert x.shape[0] == 2
    np.testing.assert_array_equal(v, expected_viewpoints(cameras[[0, 2]]))
    np.testing.assert_array_equal(x[1], decoded(records[2]))
    manifest = shards.read_manifest(str(out))
    assert manifest['splits']['train'] == {'scenes': 4, 'shards': 2, 'corrupt_records': 1}
    (bad,) = manifest['corrupt_records']
    assert bad['file'] == 'train/000-of-002.tfrecord' and bad['offset'] == offset
    assert 'checksum' in bad['reason']


def test_truncated_file_and_off_schema_record(tmp_path):
    name = 'jaco'
    folder, written = write_dataset(tmp_path / 'src', name, {'test': [3]})
    path, images, cameras, records = written['test'][0]
    # a well-framed record with too few frames, appended before a cut-off one
    short = encode_scene(images[0][:4], cameras[0][:4])
    with open(path, 'ab') as f:
        f.write(frame_record(short))
        f.write(frame_record(records[0])[:-3])
    off_schema = sum(16 + len(r) for r in records)
    truncated = off_schema + 16 + len(short)
    with pytest.raises(GQNError, match='byte offset %d: 4 frames and 20 camera floats; '
                       'jaco has 11 views' % off_schema):
        run(folder, '--out', tmp_path / 'fail', '--workers', 1)
    run(folder, '--out', tmp_path / 'skip', '--workers', 1, '--on-corrupt', 'skip')
    x, v = shards.open_shard(str(tmp_path / 'skip'), 'test', '0000')
    assert x.shape == (3, 11, 64, 64, 3)
    np.testing.assert_array_equal(v, expected_viewpoints(cameras))
    bad = shards.read_manifest(str(tmp_path / 'skip'))['corrupt_records']
    assert [b['offset'] for b in bad] == [off_schema, truncated]
    assert bad[1]['reason'].startswith('truncated record')


def test_memory_flat_in_file_size(tmp_path):
    name = 'shepard_metzler_5_parts'
    peaks = []
    for n in (4, 24):
        folder, written = write_dataset(tmp_path / str(n), name, {'train': [n]})
        tracemalloc.start()
        deepmind.convert_file(written['train'][0][0], str(tmp_path / str(n) / 'out'),
                              'train', 0, name)
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
    scene = 15 * 64 * 64 * 3
    assert peaks[1] - peaks[0] < 4 * scene  # an in-memory shard would add 20 scenes


def test_resume_skips_finished_files(tmp_path):
    name = 'rooms_ring_camera'
    folder, written = write_dataset(tmp_path / 'src', name, {'train': [2, 1, 2]})
    out = str(tmp_path / 'out')
    run(folder, '--out', out, '--workers', 1, '--limit-files', 1)
    assert shards.list_shards(out, 'train') == ['0000']
    assert shards.read_manifest(out)['complete']
    first = os.stat(shards.shard_paths(out, 'train', 0)[0])
    leftover = os.path.join(out, 'train', 'images', '0001.raw.tmp999')
    open(leftover, 'wb').close()
    with pytest.raises(GQNError, match='holds rooms_ring_camera at 64 px'):
        run(folder, '--out', out, '--size', 32)
    run(folder, '--out', out, '--workers', 1)
    assert not os.path.exists(leftover)
    again = os.stat(shards.shard_paths(out, 'train', 0)[0])
    assert (again.st_ino, again.st_mtime_ns) == (first.st_ino, first.st_mtime_ns)
    fresh = str(tmp_path / 'fresh')
    run(folder, '--out', fresh, '--workers', 1)
    for i in range(3):
        for a, b in zip(shards.shard_paths(out, 'train', i)[:2],
                        shards.shard_paths(fresh, 'train', i)[:2]):
            with open(a, 'rb') as fa, open(b, 'rb') as fb:
                assert fa.read() == fb.read()
    manifest = shards.read_manifest(out)
    assert manifest['splits']['train']['scenes'] == 5 and manifest['complete']
    # the source folder changed under a finished shard: refuse to mix
    os.rename(written['train'][0][0], os.path.join(folder, 'train', 'zzz.tfrecord'))
    with pytest.raises(GQNError, match='shard 0000 was converted from train/000-of-003'):
        run(folder, '--out', out, '--workers', 1)


@pytest.mark.slow
def test_parallel_workers_match_one_process(tmp_path, capsys):
    name = 'shepard_metzler_5_parts'
    folder, written = write_dataset(tmp_path / 'src', name, {'train': [2, 3, 1], 'test': [2]})
    path = written['train'][1][0]
    flip_byte(path, 12 + 50)
    run(folder, '--out', tmp_path / 'one', '--workers', 1, '--on-corrupt', 'skip')
    capsys.readouterr()
    run(folder, '--out', tmp_path / 'two', '--workers', 2, '--on-corrupt', 'skip')
    assert 'skipped %s: record at byte offset 0' % path in capsys.readouterr().err
    for split in ('train', 'test'):
        names = shards.list_shards(str(tmp_path / 'one'), split)
        assert names == shards.list_shards(str(tmp_path / 'two'), split)
        for n in names:
            for sub in ('images', 'viewpoints'):
                with open(str(tmp_path / 'one' / split / sub / (n + '.npy')), 'rb') as a, \
                        open(str(tmp_path / 'two' / split / sub / (n + '.npy')), 'rb') as b:
                    assert a.read() == b.read()
    one, two = (shards.read_manifest(str(tmp_path / d)) for d in ('one', 'two'))
    assert one['splits'] == two['splits'] and one['corrupt_records'] == two['corrupt_records']
    with pytest.raises(GQNError, match='byte offset 0: data checksum'):
        run(folder, '--out', tmp_path / 'three', '--workers', 2)


def test_dataset_from_folder_name(tmp_path):
    folder, _ = write_dataset(tmp_path / 'src', 'mazes', {'train': [0]})
    parent = str(tmp_path / 'src')
    assert deepmind.find_dataset(folder) == ('mazes', folder)
    assert deepmind.find_dataset(parent) == ('mazes', folder)
    assert deepmind.find_dataset(parent, 'mazes') == ('mazes', folder)
    with pytest.raises(GQNError, match='is the mazes folder but --dataset says jaco'):
        deepmind.find_dataset(folder, 'jaco')
    with pytest.raises(GQNError, match="unknown dataset 'shepard'"):
        deepmind.find_dataset(parent, 'shepard')
    os.makedirs(str(tmp_path / 'src' / 'jaco'))
    with pytest.raises(GQNError, match='cannot tell the dataset'):
        deepmind.find_dataset(parent)
    with pytest.raises(GQNError, match='no test/\\*.tfrecord files'):
        run(folder, '--out', tmp_path / 'out', '--splits', 'train,test')
    # an empty file still becomes a (zero-scene) shard, marking it done
    run(folder, '--out', tmp_path / 'out', '--workers', 1)
    x, v = shards.open_shard(str(tmp_path / 'out'), 'train', '0000')
    assert x.shape == (0, 300, 64, 64, 3) and v.shape == (0, 300, 7)


def test_decode_scene_rejects_off_schema_records():
    name = 'shepard_metzler_5_parts'
    images, cameras = make_scenes(1, name, 0)
    good = tfrecord.parse_example(encode_scene(images[0], cameras[0]))
    png = io.BytesIO()
    Image.fromarray(images[0, 0]).save(png, 'PNG')
    small = io.BytesIO()
    Image.fromarray(images[0, 0, :32, :32]).save(small, 'JPEG')
    cases = {
        'frame 0: cannot identify': dict(good, frames=[png.getvalue()] + good['frames'][1:]),
        'frame 3: 32x32 px; shepard_metzler_5_parts frames are 64x64':
            dict(good, frames=good['frames'][:3] + [small.getvalue()] + good['frames'][4:]),
        'frame 1: ': dict(good, frames=good['frames'][:1] + [b'\xff\xd8junk']
                          + good['frames'][2:]),
        r'expected features frames \(bytes\) and cameras \(float\), found frames \(bytes\)':
            {'frames': good['frames']},
        r'found cameras \(int64\), frames': dict(good, cameras=np.arange(75)),
    }
    for message, features in cases.items():
        with pytest.raises(ValueError, match=message):
            deepmind.decode_scene(encode_example(features), name)


def test_imported_dataset_passes_check_and_loads(tmp_path):
    from gqn.data.shard_dataset import ShardDataset
    folder, written = write_dataset(tmp_path / 'src', 'jaco', {'train': [2, 3]})
    out = str(tmp_path / 'out')
    run(folder, '--out', out, '--workers', 1)
    summary = shards.check_dataset(out)
    assert summary['splits'] == {'train': {'shards': 2, 'scenes': 5}}
    assert (summary['views'], summary['height'], summary['width']) == (11, 64, 64)
    data = ShardDataset(out, 'train')
    assert len(data) == 5 and data.assumptions == []
    x, v = data.get_example(3)  # second file, second scene
    assert x.shape == (11, 3, 64, 64) and x.dtype == np.float32
    np.testing.assert_array_equal(v, expected_viewpoints(written['train'][1][2][1]))
    np.testing.assert_allclose(x, decoded(written['train'][1][3][1]).transpose(0, 3, 1, 2) / 255,
                               rtol=1e-6)


def test_a_second_import_into_the_same_folder_says_who_holds_it(tmp_path, capsys):
    from gqn import files
    from gqn.cli import main
    folder, _ = write_dataset(tmp_path / 'src', 'shepard_metzler_5_parts', {'train': [1]})
    out = str(tmp_path / 'out')
    argv = ['import-deepmind', folder, '--out', out, '--workers', '1']
    with files.folder_lock(out, deepmind.LOCK, 'imported into'):
        capsys.readouterr()
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert err.count('\n') == 1 and 'is being imported into by process %d' % os.getpid() in err
        assert os.listdir(out) == [deepmind.LOCK]  # nothing written, no temporary file removed
    assert main(argv) == 0  # once it is released, the import goes ahead
    assert deepmind.LOCK not in os.listdir(out)
