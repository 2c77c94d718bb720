"""tools/analysis_tools/benchmark.py's paths and profile_training_step.py's
module-group ranges."""
import importlib.util
import os.path as osp
import re

import pytest
import torch
from dsrl_test_utils import REPO
from torch import nn

LR = osp.join(
    REPO, 'configs/dsrl/'
    'lr-input_bisenetv1_r18-d32-w0.5_1xb4-400i_dsrl-demo-128x256.py')


def load(rel, name):
    spec = importlib.util.spec_from_file_location(name, osp.join(REPO, rel))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def benchmark():
    return load('tools/analysis_tools/benchmark.py', 'dsrl_benchmark')


@pytest.mark.parametrize('argv, match', [
    (['--precision', 'fp16', '--device', 'cpu'], 'fp16 needs a CUDA'),
    (['--backend', 'onnxruntime', '--mode', 'predict'], 'use --mode tensor'),
    (['--backend', 'onnxruntime', '--channels-last'], 'PyTorch options'),
])
def test_benchmark_refuses_impossible_paths(argv, match, capsys):
    with pytest.raises(SystemExit):
        benchmark().parse_args([LR, *argv])
    assert re.search(match, capsys.readouterr().err)


@pytest.mark.integration
def test_benchmark_checks_the_path_against_eager(capsys):
    pytest.importorskip('onnxruntime')
    benchmark().main([
        LR, '--shape', '64', '128', '--runs', '1', '--warmup', '0',
        '--backend', 'onnxruntime', '--device', 'cpu'
    ])
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
    tool = load('tools/analysis_tools/profile_training_step.py',
                'dsrl_profile_step')
    model = nn.Module()
    model.decode_head = Head()
    x = torch.randn(1, 3, 4, 4)
    with tool.labelled_groups(model), torch.profiler.profile() as prof:
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
