"""tools/analysis_tools/benchmark.py's paths (run as a program), the
profiling helpers of profile_training_step.py and the iteration timing of
compare_training_time.py."""
import json
import os.path as osp
import re

import pytest
import torch
from dsrl_test_utils import REPO, run_script
from torch import nn

from mmseg_dsrl.analysis.measurement import seconds_per_iteration
from mmseg_dsrl.analysis.profiling import (
    labelled_groups,
    operator_difference,
)

LR = osp.join(
    REPO, 'configs/dsrl/'
    'lr-input_bisenetv1_r18-d32-w0.5_1xb4-400i_dsrl-demo-128x256.py')


BENCHMARK = 'tools/analysis_tools/benchmark.py'
COMPARE_TRAINING_TIME = 'tools/analysis_tools/compare_training_time.py'


@pytest.mark.parametrize('argv, match', [
    (['--precision', 'fp16', '--device', 'cpu'], 'fp16 needs a CUDA'),
    (['--backend', 'onnxruntime', '--mode', 'predict'], 'use --mode tensor'),
    (['--backend', 'onnxruntime', '--channels-last'], 'PyTorch options'),
])
def test_benchmark_refuses_impossible_paths(argv, match, capsys):
    assert run_script(BENCHMARK, [LR, *argv]) == 2  # argparse's error
    assert re.search(match, capsys.readouterr().err)


@pytest.mark.integration
def test_benchmark_checks_the_path_against_eager(capsys):
    pytest.importorskip('onnxruntime')
    assert run_script(BENCHMARK, [
        LR, '--shape', '64', '128', '--runs', '1', '--warmup', '0',
        '--backend', 'onnxruntime', '--device', 'cpu'
    ]) == 0
    out = capsys.readouterr().out
    agree = re.search(r'labels agree on (\S+) % of pixels', out)
    assert agree and float(agree.group(1)) >= 99.9, out
    assert 'onnxruntime fp32 (tensor mode)' in out


class Head(nn.Module):
    """A head whose ``loss`` calls ``forward`` (like mmseg's heads)."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 3, 1)

    def forward(self, x):
        return self.conv(x)

    def loss(self, x):
        return self.forward(x).sum()


def test_profile_groups_count_nested_calls_once_and_are_removed():
    model = nn.Module()
    model.decode_head = Head()
    x = torch.randn(1, 3, 4, 4)
    with labelled_groups(model), torch.profiler.profile() as prof:
        model.decode_head.loss(x)
        model.decode_head(x)
    counts = {
        e.key: e.count
        for e in prof.key_averages() if e.key.startswith('group::')
    }
    assert counts == {'group::decode_head': 2}  # loss (+ its forward), call
    assert 'forward' not in vars(model.decode_head)
    assert 'loss' not in vars(model.decode_head)
    assert model.decode_head.loss(x).requires_grad


def test_operator_difference_lists_what_the_second_profile_adds_first():
    lr = {'aten::conv': 10.0, 'aten::topk': 5.0, 'aten::resize': 4.0}
    dsrl = {'aten::conv': 16.0, 'aten::topk': 4.5, 'fa_kernel': 3.0}
    assert operator_difference(lr, dsrl) == [
        ('aten::conv', 10.0, 16.0, 6.0),
        ('fa_kernel', 0.0, 3.0, 3.0),
        ('aten::topk', 5.0, 4.5, -0.5),
        ('aten::resize', 4.0, 0.0, -4.0),
    ]


def test_seconds_per_iteration_skips_the_first_iterations():
    ends = [0.0, 1.0, 3.0, 6.0, 10.0, 15.0]  # iterations 2..6 take 1..5 s
    assert seconds_per_iteration(ends, skip=2) == 3.5  # 2, 3, 4, 5
    assert seconds_per_iteration(ends, skip=0) == 3.0  # 1 .. 5
    with pytest.raises(ValueError, match='no duration'):
        seconds_per_iteration(ends, skip=6)


@pytest.mark.integration
def test_compare_training_time_pairs_real_runs_round_by_round(
        demo_data_root, tmp_path):
    dsrl = LR.replace('lr-input_', 'dsrl_')
    work_dir, out = tmp_path / 'runs', tmp_path / 'times.json'
    argv = [
        dsrl, '--baseline', LR, '--data-root', demo_data_root, '--iters',
        '4', '--skip', '1', '--rounds', '2', '--work-dir',
        str(work_dir), '--out',
        str(out)
    ]
    assert run_script(COMPARE_TRAINING_TIME, argv) == 0
    result = json.loads(out.read_text())
    rows = result['rows']
    seconds = result['seconds_per_iter']
    assert {k: len(v) for k, v in seconds.items()} == {
        'LR baseline': 2, 'DSRL (config)': 2}
    per_round = [d / b for d, b in zip(seconds['DSRL (config)'],
                                       seconds['LR baseline'])]
    assert rows[1]['name'] == 'DSRL (config)'
    assert rows[1]['ratio'] == pytest.approx(sum(per_round) / 2)
    assert sorted(p.name for p in work_dir.iterdir()) == [
        'DSRL-config_round0', 'DSRL-config_round1', 'LR-baseline_round0',
        'LR-baseline_round1']
    # Validation and checkpoints are off: the runs leave logs only.
    assert not list(work_dir.rglob('*.pth'))
    # It never reuses (or overwrites) a run folder.
    with pytest.raises(FileExistsError, match='LR-baseline_round0'):
        run_script(COMPARE_TRAINING_TIME, argv)


TEACHER = osp.join(
    REPO, 'configs/camvid/'
    'dsrl-teacher_bisenetv1_r18-d32-w0.5_1xb4-1000i_camvid-180x240.py')


def test_compare_training_time_needs_the_teachers_weights(tmp_path):
    """A config with an HR teacher is refused, before any run, unless the
    teacher's weights are given (or a fresh teacher is asked for)."""
    argv = [TEACHER, '--baseline', LR, '--work-dir', tmp_path / 'runs']
    with pytest.raises(ValueError,
                       match=r'dsrl-teacher_.*trains with an HR teacher.*'
                       r'--teacher-checkpoint PATH or --random-teacher'):
        run_script(COMPARE_TRAINING_TIME, argv)
    assert not (tmp_path / 'runs').exists()


def test_initialised_teacher_loads_strictly_into_the_teacher(tmp_path):
    """--random-teacher's checkpoint is the teacher config's own model
    (every key and shape, as HRTeacher loads it: strictly), initialised."""
    from mmengine.runner import load_checkpoint
    from mmseg.registry import MODELS

    from mmseg_dsrl.analysis.configs import (has_hr_teacher, load_config,
                                             save_initialised_teacher,
                                             use_bn_without_cuda)
    cfg = load_config(TEACHER)
    assert has_hr_teacher(cfg) and not has_hr_teacher(load_config(LR))
    path = save_initialised_teacher(cfg, str(tmp_path / 't.pth'))
    teacher_cfg = load_config(cfg.model.hr_teacher.config)
    use_bn_without_cuda(teacher_cfg)
    model = MODELS.build(teacher_cfg.model)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    load_checkpoint(model, path, map_location='cpu', strict=True)
    saved = torch.load(path)['state_dict']
    assert saved.keys() == before.keys()
    assert all(torch.equal(saved[k], v) for k, v in model.state_dict().items())
    # initialised, not left at zeros: the convolutions carry weights
    conv = [v for k, v in saved.items() if k.endswith('conv.weight')]
    assert conv and all(v.abs().sum() > 0 for v in conv)
