"""The README's main command, end to end at a tiny schedule."""
import json
import os.path as osp
import subprocess

import pytest

from dsrl_test_utils import REPO


@pytest.mark.integration
def test_run_demo_prints_its_table_and_writes_its_record(
        tmp_path, demo_data_root, python_env):
    env, python = python_env
    work_dir = tmp_path / 'demo'
    out = subprocess.run(
        [python, osp.join(REPO, 'tools', 'run_demo.py'), '--iters', '2',
         '--data-root', demo_data_root, '--work-dir', str(work_dir)],
        env=env, cwd=REPO, capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stderr[-3000:]
    lines = out.stdout.splitlines()
    # One progress line per model, then the table: the console stays short
    # (the training logs go to each model's console.log).
    for i in (1, 2, 3):
        assert any(x.startswith(f'[{i}/3] ') for x in lines), out.stdout
    assert len(lines) < 20, out.stdout
    assert 'mIoU' in out.stdout and 'Iter(train)' not in out.stdout
    rows = json.loads((work_dir / 'demo_results.json').read_text())
    assert [r['config'] for r in rows] == [
        'configs/dsrl/lr-input_bisenetv1_r18-d32-w0.5_1xb4-400i_dsrl-demo-'
        '128x256.py',
        'configs/dsrl/dsrl_bisenetv1_r18-d32-w0.5_1xb4-400i_dsrl-demo-'
        '128x256.py',
        'configs/dsrl/dsrl-paper_bisenetv1_r18-d32-w0.5_1xb4-400i_dsrl-demo-'
        '128x256.py'
    ]
    for row in rows:
        assert row['iters'] == 2 and row['seed'] == 0
        assert 0 <= row['mIoU'] <= 100
        assert f'{row["mIoU"]:6.2f}' in out.stdout
        assert row['provenance'].get('commit')
        console = work_dir / osp.splitext(osp.basename(
            row['config']))[0] / 'console.log'
        assert 'Iter(train)' in console.read_text()
