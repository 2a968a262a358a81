import copy
import json
import os
import shutil

import pytest

from gqn.cli import main
from gqn.data.shard_dataset import ShardDataset
from gqn.errors import GQNError
from renderer.scene_spec import check_scene_spec


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
    check_scene_spec(spec)
    with pytest.raises(GQNError, match="missing 'background'"):
        check_scene_spec({})
    broken = copy.deepcopy(spec)
    del broken['meshes'][1]['metallic']
    with pytest.raises(GQNError, match="mesh 1: missing 'metallic'"):
        check_scene_spec(broken)
    broken = copy.deepcopy(spec)
    broken['lights'][0]['intensity'] = 'bright'
    with pytest.raises(GQNError, match="light 0: 'intensity' must be a number"):
        check_scene_spec(broken)
    with pytest.raises(GQNError, match='must be a JSON object'):
        check_scene_spec([])


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
        check_scene_spec(spec, mesh_files=frozenset())
    check_scene_spec(spec)  # a family's own spec: any file
    check_scene_spec(spec, mesh_files=frozenset(['/etc/hostname']))  # the recipe lists it
    root = str(tmp_path / 'copy')
    shutil.copytree(rendered, root)
    with open(os.path.join(root, 'test', 'scenes', '0000.json'), 'w') as f:
        json.dump([spec, spec], f)
    capsys.readouterr()
    assert main(['check', root]) == 2
    assert 'refusing to load it' in capsys.readouterr().err
