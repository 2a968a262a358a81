"""scripts/gpu_check.sh with the CPU playing the GPU: the script and bench/gpu.py work, so the
check is ready to run on a GPU machine (where it measures what this cannot)."""
import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.mark.slow
def test_gpu_check_runs_every_stage_with_numpy_standing_in(tmp_path):
    out = str(tmp_path / 'check')
    env = dict(os.environ, DEVICE='@numpy', PY=sys.executable)
    r = subprocess.run(['bash', os.path.join(ROOT, 'scripts', 'gpu_check.sh'), out], env=env,
                       capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    with open(os.path.join(out, 'summary.txt')) as f:
        stages = [line.split()[0] for line in f if 'rc=0 ' in line]
    assert stages == ['env', 'equality', 'timing', 'cli']

    def stage(name):
        with open(os.path.join(out, name + '.log')) as f:
            text = f.read()
        return json.loads(text[text.index('{'):])
    equality = stage('equality')
    assert equality['ok'] and len(equality['cases']) == 4
    # the CPU against itself: the same step exactly
    assert all(case['grad_rel_err'] == 0 for case in equality['cases'])
    assert stage('timing')['default']['median_s_per_step'] > 0
    cli = stage('cli')
    assert cli['ok'] and [s['rc'] for s in cli['steps']] == [0] * 5
    assert cli['resume_max_param_diff'] == 0  # keyed noise: resume is exact on the CPU
