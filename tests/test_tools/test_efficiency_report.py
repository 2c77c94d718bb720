"""tools/analysis_tools/efficiency_report.py: table and PNG from a benchmark's results."""
import json
import subprocess

import cv2
from dsrl_test_utils import REPO


def test_report_from_results_json(tmp_path, python_env):
    env, python = python_env
    rows = [
        dict(
            name='big',
            gflops=8.0,
            latency_ms=90.0,
            miou_mean=50.0,
            miou_std=0.0,
            seeds=1),
        dict(
            name='small',
            gflops=2.0,
            latency_ms=30.5,
            miou_mean=44.25,
            miou_std=1.5,
            seeds=3),
    ]
    results = tmp_path / 'results.json'
    results.write_text(json.dumps(rows))
    out = tmp_path / 'report' / 'camvid'
    proc = subprocess.run([
        python, 'tools/analysis_tools/efficiency_report.py', '--results',
        str(results), '--out',
        str(out)
    ],
                          cwd=REPO,
                          env=env,
                          capture_output=True,
                          text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    table = (tmp_path / 'report' / 'camvid.md').read_text().splitlines()
    # Sorted by computation, with the values, and spreads where there are
    # several seeds.
    assert table[2] == '| small | 2.00 | 30.5 | 44.25 ± 1.50 | 3 |'
    assert table[3] == '| big | 8.00 | 90.0 | 50.00 | 1 |'
    image = cv2.imread(str(tmp_path / 'report' / 'camvid.png'))
    assert image is not None and image.shape[1] > image.shape[0] > 300
    # Two panels of points: the plot is not blank.
    assert (image < 250).mean() > 0.01


def test_report_rejects_malformed_entry(tmp_path, python_env):
    env, python = python_env
    proc = subprocess.run([
        python, 'tools/analysis_tools/efficiency_report.py', '--entry', 'configs/x.py',
        '--out',
        str(tmp_path / 'r')
    ],
                          cwd=REPO,
                          env=env,
                          capture_output=True,
                          text=True,
                          timeout=300)
    assert proc.returncode != 0
    assert "CONFIG[:CHECKPOINT]=MIOU" in proc.stderr
    assert "'configs/x.py'" in proc.stderr
