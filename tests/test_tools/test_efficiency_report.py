"""tools/analysis_tools/efficiency_report.py: table and PNG from a benchmark's results."""
import json
import subprocess

import cv2
from dsrl_test_utils import REPO


def run_report(python_env, *args, timeout=300):
    """tools/analysis_tools/efficiency_report.py with ``args``."""
    env, python = python_env
    return subprocess.run(
        [python, 'tools/analysis_tools/efficiency_report.py', *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout)


def test_report_from_results_json(tmp_path, python_env):
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
    proc = run_report(python_env, '--results', str(results), '--out',
                      str(out))
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
    proc = run_report(python_env, '--entry', 'configs/x.py', '--out',
                      str(tmp_path / 'r'))
    assert proc.returncode != 0
    assert "CONFIG[:CHECKPOINT]=MIOU" in proc.stderr
    assert "'configs/x.py'" in proc.stderr


def test_report_rejects_labels_that_do_not_match_the_entries(
        tmp_path, python_env):
    proc = run_report(python_env, '--entry', 'configs/a.py=40',
                      'configs/b.py=41', '--labels', 'only one', '--out',
                      str(tmp_path / 'r'))
    assert proc.returncode != 0
    assert '--labels gives 1 names for 2 --entry rows' in proc.stderr
    assert not (tmp_path / 'r.md').exists()


def test_report_measures_labelled_entries_in_one_call(tmp_path, python_env):
    """--entry rows are built and measured here; --labels names them, and
    the per-seed mIoUs become mean ± std."""
    demo = 'configs/dsrl/{}_bisenetv1_r18-d32-w0.5_1xb4-400i_dsrl-demo-128x256.py'
    out = tmp_path / 'r'
    proc = run_report(
        python_env, '--entry', demo.format('lr-input') + '=40,42',
        demo.format('dsrl') + '=45', '--labels', 'LR baseline', 'DSRL',
        '--shape', '256', '512', '--runs', '1', '--out', str(out),
        timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = {
        line.split(' | ')[0][2:]: line.split(' | ')[1:]
        for line in (tmp_path / 'r.md').read_text().splitlines()[2:]
    }
    assert set(rows) == {'LR baseline', 'DSRL'}
    assert rows['LR baseline'][2] == '41.00 ± 1.41'
    assert rows['DSRL'][2] == '45.00'
    # DSRL's inference graph costs what its LR baseline costs, within the
    # SSSR deconvolutions.
    lr, dsrl = float(rows['LR baseline'][0]), float(rows['DSRL'][0])
    assert lr > 0 and 1.0 <= dsrl / lr < 1.1
