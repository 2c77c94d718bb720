"""Loss-curve reading and comparison, the Markdown table writer, and the GPU
check's command line (the parts of tools/analysis_tools/gpu_check.py that
run without a GPU)."""
import json
import os
import os.path as osp
import subprocess
import sys

import pytest
import torch
from dsrl_test_utils import REPO

from mmseg_dsrl.analysis.training_logs import (compare_loss_curves, loss_curve,
                                            markdown_table, read_scalars)

GPU_CHECK = osp.join(REPO, 'tools', 'analysis_tools', 'gpu_check.py')


def _write_scalars(work_dir, records, stamp='20261129_000000'):
    folder = osp.join(work_dir, stamp, 'vis_data')
    os.makedirs(folder)
    with open(osp.join(folder, 'scalars.json'), 'w') as f:
        for r in records:
            f.write(json.dumps(r) + '\n')


def test_read_scalars_takes_the_newest_log_and_loss_curve_the_train_steps(
        tmp_path):
    _write_scalars(str(tmp_path), [dict(lr=0.1, loss=9.0, step=10)],
                   '20261128_000000')
    _write_scalars(str(tmp_path), [
        dict(lr=0.1, loss=2.5, step=10),
        dict(lr=0.05, loss=1.5, step=20),
        dict(mIoU=40.0, step=20),  # a validation record
    ])
    records = read_scalars(str(tmp_path))
    assert len(records) == 3
    assert loss_curve(records) == {10: 2.5, 20: 1.5}


def test_read_scalars_names_the_folder_without_a_log(tmp_path):
    with pytest.raises(FileNotFoundError, match='no mmengine scalars log'):
        read_scalars(str(tmp_path))


def test_compare_loss_curves_by_hand():
    ref = {10: 2.0, 20: 1.0, 30: 1.0}
    other = {10: 2.2, 20: 0.9, 30: 1.1, 40: 5.0}  # step 40 not in ref
    cmp = compare_loss_curves(ref, other, tail=2)
    assert cmp['steps'] == 3
    assert cmp['final_ref'] == pytest.approx(1.0)
    assert cmp['final'] == pytest.approx(1.0)  # mean of 0.9 and 1.1
    assert cmp['final_rel_diff'] == pytest.approx(0.0)
    assert cmp['median_rel_diff'] == pytest.approx(0.1)  # 0.1, 0.1, 0.1
    assert cmp['all_finite'] == 1.0


def test_compare_loss_curves_flags_non_finite_and_disjoint_curves():
    cmp = compare_loss_curves({10: 1.0}, {10: float('nan')})
    assert cmp['all_finite'] == 0.0
    with pytest.raises(ValueError, match='share no logged step'):
        compare_loss_curves({10: 1.0}, {20: 1.0})
    with pytest.raises(ValueError, match='tail must be >= 1'):
        compare_loss_curves({10: 1.0}, {10: 1.0}, tail=0)


def test_markdown_table_escapes_pipes_and_checks_row_lengths():
    table = markdown_table(['a', 'b'], [[1, 'x|y'], ['2', 3.5]])
    assert table.splitlines() == [
        '| a | b |', '|---|---|', '| 1 | x\\|y |', '| 2 | 3.5 |'
    ]
    with pytest.raises(ValueError, match='row 1 has 1 cells'):
        markdown_table(['a', 'b'], [[1, 2], [3]])


def _gpu_check(*args):
    env = dict(os.environ)
    env['PYTHONPATH'] = REPO + os.pathsep + env.get('PYTHONPATH', '')
    return subprocess.run([sys.executable, GPU_CHECK, *args],
                          capture_output=True,
                          text=True,
                          env=env,
                          cwd=REPO,
                          timeout=120)


@pytest.mark.skipif(torch.cuda.is_available(), reason='checks the CPU path')
def test_gpu_check_refuses_a_machine_without_cuda(tmp_path):
    out = _gpu_check('--out-dir', str(tmp_path))
    assert out.returncode == 2
    assert 'no CUDA device is visible' in out.stderr
    assert not os.listdir(tmp_path)  # nothing written


def test_gpu_check_rejects_unknown_sections_and_bad_iterations(tmp_path):
    out = _gpu_check('--allow-cpu', '--sections', 'fa', 'nonsense')
    assert out.returncode == 2 and "invalid choice: 'nonsense'" in out.stderr
    out = _gpu_check('--allow-cpu', '--iters', '0')
    assert out.returncode == 2 and '--iters' in out.stderr


def test_gpu_check_fa_section_writes_its_table_and_record(tmp_path):
    """The FA section on the CPU, quick: the table row and the JSON record
    agree, and the bound is the FLOP count over the measured rate."""
    out = _gpu_check('--allow-cpu', '--quick', '--sections', 'fa',
                     '--out-dir', str(tmp_path))
    assert out.returncode == 0, out.stdout + out.stderr
    with open(tmp_path / 'gpu_check.json') as f:
        raw = json.load(f)
    fa = raw['fa']
    n, batch = fa['n'], fa['batch']
    assert n == 64 * 128 and batch == 2
    assert fa['bound_s'] == pytest.approx(3 * 2 * batch * n * n * 22 /
                                          fa['fp32_matmul_flops'])
    table = (tmp_path / 'gpu_check.md').read_text()
    for block, entry in fa['blocks'].items():
        assert f'block {block} rows' in table
        assert f"{entry['seconds'] * 1e3:.1f} ms" in table
