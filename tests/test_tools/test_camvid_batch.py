"""camvid_batch.py end to end on a tiny CamVid-shaped folder: the probe, the
planned schedule capped by --max-iters, one recipe record per run."""
import json
import os
import os.path as osp
import subprocess

import cv2
import numpy as np
import pytest

from dsrl_test_utils import REPO


@pytest.fixture
def tiny_camvid(tmp_path):
    rng = np.random.default_rng(0)
    root = tmp_path / 'camvid'
    for img_dir, ann_dir, n in (('train', 'trainannot', 4),
                                ('val', 'valannot', 2)):
        os.makedirs(root / img_dir)
        os.makedirs(root / ann_dir)
        for i in range(n):
            img = rng.integers(0, 255, (360, 480, 3), dtype=np.uint8)
            label = rng.integers(0, 12, (360, 480), dtype=np.uint8)
            cv2.imwrite(str(root / img_dir / f'0001TP_{i:06d}.png'), img)
            cv2.imwrite(str(root / ann_dir / f'0001TP_{i:06d}.png'), label)
    return str(root)


@pytest.mark.slow
@pytest.mark.integration
def test_probe_plan_and_waves(tmp_path, tiny_camvid, python_env):
    env, python = python_env
    env = dict(env, OMP_NUM_THREADS='1')
    records, summary = tmp_path / 'records', tmp_path / 'batch.json'
    out = subprocess.run(
        [python, osp.join(REPO, 'tools', 'experiments', 'camvid_batch.py'),
         '--data-root', tiny_camvid, '--models', 'lr', '--seeds', '0', '1',
         '--parallel', '2', '--probe-iters', '2', '--val-interval', '2',
         '--budget-s', '100000', '--min-iters', '2', '--max-iters', '4',
         '--records', str(records), '--work-dir', str(tmp_path / 'work'),
         '--summary', str(summary)],
        env=env, cwd=REPO, capture_output=True, text=True, timeout=1200)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    batch = json.loads(summary.read_text())
    assert batch['probe']['model'] == 'lr' and batch['probe']['s_per_iter'] > 0
    assert batch['plan']['iters'] >= 4 and batch['iters'] == 4
    assert [(r['model'], r['seed'], r['returncode']) for r in batch['runs']
            ] == [('lr', 0, 0), ('lr', 1, 0)]
    for seed in (0, 1):
        record = json.loads((records / f'lr_seed{seed}.json').read_text())
        assert record['iters'] == 4 and record['seed'] == seed
        assert f'lr seed {seed}: mIoU {record["mIoU"]:.2f}' in out.stdout
