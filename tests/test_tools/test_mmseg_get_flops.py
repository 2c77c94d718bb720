"""mmseg's own packaged ``tools/analysis_tools/get_flops.py`` (broken on
mmengine 0.10.x) gives the same FLOPs as ``tools/analysis_tools/get_flops.py`` for a DSRL
config and its LR baseline, once a config imports the plugin."""
import os
import os.path as osp
import re
import subprocess
import sys

import mmseg
import pytest
from dsrl_test_utils import REPO, run_script
from mmengine.analysis.print_helper import _format_size

from mmseg_dsrl.analysis.measurement import (build_inference_model,
                                       inference_complexity)
from mmseg_dsrl.analysis.configs import load_config

MMSEG_TOOL = osp.join(
    osp.dirname(mmseg.__file__), '.mim', 'tools', 'analysis_tools',
    'get_flops.py')
CONFIGS = {
    'dsrl': 'dsrl_bisenetv1_r18-d32-w0.5_1xb4-400i_dsrl-demo-128x256.py',
    'lr': 'lr-input_bisenetv1_r18-d32-w0.5_1xb4-400i_dsrl-demo-128x256.py',
}
SHAPE = (128, 256)


def _ours(config):
    model = build_inference_model(load_config(config))
    return _format_size(inference_complexity(model, SHAPE)['flops'])


@pytest.mark.parametrize('kind', sorted(CONFIGS))
def test_same_flops_in_process(kind, capsys):
    """Run in a process that imported the plugin first (a notebook, a
    script calling the tool after ``import mmseg_dsrl``)."""
    config = osp.join(REPO, 'configs', 'dsrl', CONFIGS[kind])
    assert run_script(MMSEG_TOOL, [config, '--shape', *SHAPE]) == 0
    flops = re.search(r'^Flops: (\S+)$', capsys.readouterr().out, re.M)
    assert flops and flops.group(1) == _ours(config)


def test_mmseg_tool_as_a_user_runs_it():
    """As a script: the tool binds mmengine's function before the config
    (and so the plugin) is imported."""
    config = osp.join(REPO, 'configs', 'dsrl', CONFIGS['dsrl'])
    env = dict(os.environ, PYTHONPATH=REPO)
    proc = subprocess.run(
        [sys.executable, MMSEG_TOOL, config, '--shape', *map(str, SHAPE)],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    flops = re.search(r'^Flops: (\S+)$', proc.stdout, re.M)
    assert flops and flops.group(1) == _ours(config)


# mmengine's FlopAnalyzer run on EdgeNets' own ESPNetv2Segmentation(s=2.0,
# 20 classes) at 512x256 (W x H): 753.2 M multiply-adds, 0.789 M parameters
# (EdgeNets' counter, convolutions only: 674.78 M, DSRL's table).
ESPNETV2_MMENGINE_FLOPS = 753.2e6
ESPNETV2_PARAMS = 0.789e6


def test_mmseg_tool_counts_espnetv2_as_mmengine_counts_edgenets_model():
    """mmseg's tensor mode stops before EdgeNets' final x2 resize to the
    input, which mmengine counts (10.5 M at 256x512): within 1.5 %."""
    config = osp.join(REPO, 'configs', 'espnetv2',
                      'espnetv2_s2.0_4xb8-80k_cityscapes-256x512.py')
    env = dict(os.environ, PYTHONPATH=REPO)
    proc = subprocess.run(
        [sys.executable, MMSEG_TOOL, config, '--shape', '256', '512'],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    flops = float(re.search(r'^Flops: (\S+)G$', proc.stdout, re.M).group(1))
    params = float(re.search(r'^Params: (\S+)M$', proc.stdout, re.M).group(1))
    assert abs(flops * 1e9 / ESPNETV2_MMENGINE_FLOPS - 1) <= 0.015
    assert abs(params * 1e6 / ESPNETV2_PARAMS - 1) <= 0.002
