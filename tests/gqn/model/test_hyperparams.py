import json

import numpy
import pytest

from gqn.errors import GQNError
from gqn.model.hyperparams import HyperParameters, position_scale_for


def test_defaults_are_the_papers():
    hp = HyperParameters()
    assert (hp.image_size, hp.r_channels, hp.h_channels, hp.u_channels, hp.z_channels,
            hp.generation_steps, hp.shared_core, hp.lstm_kernel_size, hp.representation) == \
        (64, 256, 128, 128, 3, 12, False, 5, 'tower')
    assert hp.h_size == 16 and hp.r_size == 16 and hp.num_cores == 12


@pytest.mark.parametrize('rep,r_size', [('tower', 8), ('pool', 1), ('pyramid', 1), ('attention', 8)])
def test_derived_sizes(rep, r_size):
    hp = HyperParameters(image_size=32, representation=rep, shared_core=True)
    assert hp.h_size == 8 and hp.r_size == r_size and hp.num_cores == 1
    assert 'h_size' not in hp.to_dict() and 'r_size' not in hp.to_dict()


@pytest.mark.parametrize('kw,needle', [
    (dict(image_size=40), 'multiple of 16'),
    (dict(image_size=0), 'image_size'),
    (dict(z_channels=-1), 'z_channels'),
    (dict(generation_steps=2.0), 'generation_steps'),
    (dict(representation='pond'), 'pond'),
    (dict(shared_core='yes'), 'shared_core'),
    (dict(lstm_kernel_size=4), 'odd'),
    (dict(position_scale=0), 'position_scale'),
    (dict(position_scale=True), 'position_scale'),
    (dict(position_scale=float('nan')), 'position_scale'),
    (dict(viewpoint_frame='camera'), 'viewpoint_frame'),
])
def test_validation(kw, needle):
    with pytest.raises(GQNError, match=needle):
        HyperParameters(**kw)


def test_frozen():
    with pytest.raises(AttributeError):
        HyperParameters().z_channels = 64


def test_dict_and_json_round_trip(tmp_path):
    hp = HyperParameters(representation='pyramid', z_channels=64, shared_core=True)
    assert HyperParameters.from_dict(hp.to_dict()) == hp
    path = str(tmp_path / 'hp.json')
    hp.to_json(path)
    assert json.load(open(path))['z_channels'] == 64
    assert HyperParameters.from_json(path) == hp
    assert not [p for p in tmp_path.iterdir() if '.tmp' in p.name]


def test_unknown_keys_are_named():
    with pytest.raises(GQNError, match='h_size, zeta'):
        HyperParameters.from_dict({'zeta': 1, 'h_size': 16, 'image_size': 64})


def test_bad_json_file(tmp_path):
    path = tmp_path / 'hp.json'
    with pytest.raises(GQNError, match='cannot read'):
        HyperParameters.from_json(str(path))
    path.write_text('{"image_size": 64,')
    with pytest.raises(GQNError, match='not valid JSON'):
        HyperParameters.from_json(str(path))
    path.write_text('{"image_size": 65}')
    with pytest.raises(GQNError, match='hp.json.*multiple of 16'):
        HyperParameters.from_json(str(path))


def test_position_scale_gives_unit_rms_camera_distance():
    v = numpy.zeros((2, 3, 7), numpy.float32)
    v[..., 0] = 6.5                      # every camera at distance 6.5
    assert position_scale_for(v) == 0.1538
    v[1, :, 0], v[1, :, 1] = 0, 13.0     # half at 6.5, half at 13: RMS sqrt((42.25 + 169) / 2)
    assert position_scale_for(v) == float('%.4g' % (1 / numpy.sqrt((42.25 + 169) / 2)))
    assert position_scale_for(numpy.zeros((4, 7))) == 1.0
    assert HyperParameters().position_scale == 1.0  # the paper's networks read raw positions
