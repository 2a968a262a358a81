import copy
import json
import os
import shutil

import numpy as np
import pytest

from gqn.cli import main
from gqn.data.shard_dataset import ShardDataset
from gqn.errors import GQNError
from renderer import scene_spec
from renderer.scene_spec import validate_spec


@pytest.fixture(scope='module')
def rendered(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('spec') / 'data')
    assert main(['render', 'shepard_matzler_demo', '--out', root, '--train-scenes', '2',
                 '--test-scenes', '2', '--set', 'views=3', '--set', 'image_size=8',
                 '--set', 'scenes_per_shard=2', '--workers', '1', '--no-progress']) == 0
    return root


def _specs(root):
    with open(os.path.join(root, 'test', 'scenes', '0000.json')) as f:
        return json.load(f)


def test_rendered_specs_pass_and_broken_ones_are_named(rendered):
    spec = _specs(rendered)[0]
    validate_spec(spec)
    with pytest.raises(GQNError, match="missing 'background'"):
        validate_spec({})
    broken = copy.deepcopy(spec)
    del broken['meshes'][1]['metallic']
    with pytest.raises(GQNError, match="mesh 1: missing 'metallic'"):
        validate_spec(broken)
    broken = copy.deepcopy(spec)
    broken['lights'][0]['intensity'] = 'bright'
    with pytest.raises(GQNError, match="light 0: 'intensity' must be a number"):
        validate_spec(broken)
    with pytest.raises(GQNError, match='must be a JSON object'):
        validate_spec([])


def _box_spec():
    return scene_spec.scene('mine', [0, 0, 0], 0.5,
                            [scene_spec.mesh('box', np.eye(4), [1, 0, 0], extents=[1, 1, 1])],
                            [scene_spec.directional_light([0, -1, 0], 3)])


def test_builders_make_plain_json_entries_that_validate():
    spec = _box_spec()
    assert spec == json.loads(json.dumps(spec))
    assert spec['meshes'][0] == {'shape': 'box', 'extents': [1.0, 1.0, 1.0],
                                 'pose': np.eye(4).tolist(), 'color': [1.0, 0.0, 0.0],
                                 'metallic': 0.0, 'roughness': 1.0}
    assert spec['lights'] == [{'type': 'directional', 'direction': [0.0, -1.0, 0.0],
                               'color': [1.0, 1.0, 1.0], 'intensity': 3.0}]
    validate_spec(spec)
    spec['room'] = scene_spec.room([4, 4], 2.5, [[0, 0, 0.5]])
    validate_spec(spec)
    textured = scene_spec.mesh('quad', np.eye(4), texture={'kind': 'checker'},
                               extents=[2, 1, 2], uv_repeat=[2, 2])
    assert 'color' not in textured and textured['uv_repeat'] == [2.0, 2.0]
    validate_spec(dict(spec, meshes=[textured]))


@pytest.mark.parametrize('change, message', [
    (lambda s: s['meshes'][0].pop('extents'), "mesh 0: missing 'extents' (3 numbers)"),
    (lambda s: s['meshes'][0].update(shape='teapot'), "mesh 0: 'shape' must be a shape name"),
    (lambda s: s['meshes'][0].update(shape=['box']), "mesh 0: 'shape' must be a shape name"),
    (lambda s: s['meshes'][0].update(shape='file'), "mesh 0: missing 'path'"),
    (lambda s: s['meshes'][0].update(shape='sphere', texture={'kind': 'noise'}),
     'mesh 0: a sphere cannot carry a texture'),
    (lambda s: s['meshes'][0].update(texture='wood'), "'texture' must be a texture table"),
    (lambda s: s['meshes'][0].update(uv_repeat=3), "'uv_repeat' must be 2 numbers"),
    (lambda s: s['lights'][0].update(type='spot'), "light 0: 'type' must be 'directional'"),
    (lambda s: s.update(room={'size': [4, 4]}), "room: missing 'height'"),
    (lambda s: s.update(room=[4, 4]), "'room' must be a table"),
], ids=['extents', 'unknown shape', 'unhashable shape', 'file path', 'texture on a sphere',
        'texture', 'uv_repeat', 'light type', 'room height', 'room'])
def test_validate_spec_names_the_family_and_the_key(change, message):
    spec = _box_spec()
    change(spec)
    with pytest.raises(GQNError) as e:
        validate_spec(spec)
    assert str(e.value).startswith("scene family 'mine'") and message in str(e.value)
    with pytest.raises(GQNError, match="^scene family 'mypkg:Kitchen'[,:] "):
        validate_spec(spec, family='mypkg:Kitchen')  # the recipe's name wins


def test_the_validator_knows_every_shape_the_renderer_draws():
    from renderer.draw import SHAPES
    assert set(SHAPES) == set(scene_spec.SHAPE_KEYS)
    assert set(scene_spec.TEXTURED) < set(SHAPES)


@pytest.mark.parametrize('content', ['[{}, {}]', '{not json', '"a string"'],
                         ids=['empty specs', 'invalid JSON', 'not a list'])
def test_check_and_gif_name_bad_scene_files(rendered, tmp_path, capsys, content):
    from gqn.evaluation.gif import ground_truth
    root = str(tmp_path / 'copy')
    shutil.copytree(rendered, root)
    with open(os.path.join(root, 'test', 'scenes', '0000.json'), 'w') as f:
        f.write(content)
    capsys.readouterr()
    assert main(['check', root]) == 2
    err = capsys.readouterr().err
    assert '0000.json' in err and err.count('\n') == 1
    with pytest.raises(GQNError, match='0000.json|background'):
        ground_truth(root, 'test', ShardDataset(root, 'test'), 0, [[0, 0, 6, 1, 0, 1, 0]])


def test_a_manifest_that_is_a_list_is_named_by_check(rendered, tmp_path, capsys):
    root = str(tmp_path / 'copy')
    shutil.copytree(rendered, root)
    with open(os.path.join(root, 'manifest.json'), 'w') as f:
        f.write('[1, 2]')
    assert main(['check', root]) == 2
    assert 'not a dataset manifest' in capsys.readouterr().err


def test_a_stored_spec_cannot_name_a_mesh_file_the_recipe_does_not_list(rendered, tmp_path,
                                                                       capsys):
    spec = _specs(rendered)[0]
    spec['meshes'][0].update(shape='file', path='/etc/hostname')
    with pytest.raises(GQNError, match="mesh 0: mesh file '/etc/hostname' is not one of"):
        validate_spec(spec, mesh_files=frozenset())
    validate_spec(spec)  # a family's own spec: any file
    validate_spec(spec, mesh_files=frozenset(['/etc/hostname']))  # the recipe lists it
    root = str(tmp_path / 'copy')
    shutil.copytree(rendered, root)
    with open(os.path.join(root, 'test', 'scenes', '0000.json'), 'w') as f:
        json.dump([spec, spec], f)
    capsys.readouterr()
    assert main(['check', root]) == 2
    assert 'refusing to load it' in capsys.readouterr().err
