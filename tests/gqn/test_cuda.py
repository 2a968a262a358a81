"""gqn.cuda without a GPU: device specifiers, rank-to-GPU mapping, one-line errors."""
import pytest

from gqn.cli import main
from gqn.cuda import describe_unusable, gpu_index, wheel_library_dirs
from gqn.errors import GQNError
from gqn.testing.datasets import TINY_MODEL
from gqn.training.config import TrainConfig
from gqn.training.trainer import train


@pytest.mark.parametrize('spec, rank, index', [
    ('@numpy', 0, None), ('@numpy', 3, None),
    ('@cupy', 0, 0), ('@cupy', 2, 2),
    ('@cupy:0', 0, 0), ('@cupy:0', 1, 1), ('@cupy:2', 1, 3),
])
def test_each_rank_uses_its_node_local_gpu(spec, rank, index):
    assert gpu_index(spec, rank) == index


@pytest.mark.parametrize('spec', ['@cupy:', '@cupy:x', '@cupy0', '@cupy:-1'])
def test_malformed_gpu_specifiers(spec):
    with pytest.raises(GQNError, match='bad --device'):
        gpu_index(spec)


@pytest.mark.skipif(describe_unusable() is None, reason='a usable GPU is here')
@pytest.mark.parametrize('command', ['train', 'eval', 'gif'])
def test_cupy_device_without_a_usable_gpu_is_one_line(command, synthetic_dataset, tmp_path,
                                                      capsys):
    run = str(tmp_path / 'run')
    if command != 'train':
        train(TrainConfig(dataset=synthetic_dataset, model=TINY_MODEL, batch_size=4,
                          iterations=2, sigma_steps=2), run, quiet=True)
    argv = {'train': ['train', '--dataset', synthetic_dataset, '--out', run, '--iterations', '1',
                      '--set', 'model.representation="pool"'],
            'eval': ['eval', run, '--scenes', '2'],
            'gif': ['gif', run, '--frames', '2']}[command]
    assert main(argv + ['--device', '@cupy:0']) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and '--device @cupy:0: ' in err[0], err
    assert 'make install-cuda' in err[0] or 'nvidia-smi' in err[0]


def test_unknown_device_is_one_line(synthetic_dataset, tmp_path, capsys):
    assert main(['train', '--dataset', synthetic_dataset, '--out', str(tmp_path / 'r'),
                 '--device', '@tpu', '--iterations', '1']) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "bad --device '@tpu'" in err[0]


def test_wheel_library_dirs_are_lib_folders_of_nvidia_packages():
    for d in wheel_library_dirs():
        assert d.endswith('lib') and '/nvidia/' in d


@pytest.mark.parametrize('value, device, name', [
    ('auto', '@numpy', 'naive'), ('auto', '@cupy', 'pure_nccl'), ('auto', '@cupy:1', 'pure_nccl'),
    ('flat', '@cupy:0', 'flat'), ('naive', '@cupy', 'naive'),
])
def test_communicator_for_the_device(value, device, name):
    from gqn.training.trainer import communicator_name
    assert communicator_name(value, device) == name


def test_unknown_communicator_is_refused():
    with pytest.raises(GQNError, match='communicator must be one of'):
        TrainConfig(communicator='nccl')
