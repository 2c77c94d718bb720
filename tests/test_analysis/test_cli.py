"""The tools' numeric arguments fail at the command line, naming the value."""
import argparse
import os.path as osp
import subprocess
import sys

import pytest
from dsrl_test_utils import REPO

from mmseg_dsrl.analysis.cli import (hw_size, keep_ratio, label_extra_configs,
                                  non_negative_float, non_negative_int,
                                  positive_float, positive_int)


@pytest.mark.parametrize('fn,good,bad', [
    (positive_int, {'1': 1, '512': 512}, ['0', '-3', '1.5', 'x', '']),
    (non_negative_int, {'0': 0, '7': 7}, ['-1', '2.0', 'seed']),
    (positive_float, {'0.1': 0.1, '3': 3.0}, ['0', '-1', 'nan', 'inf', 'a']),
    (non_negative_float, {'0': 0.0, '2.5': 2.5}, ['-0.1', 'nan', 'inf']),
    (keep_ratio, {'0.5': 0.5, '1': 1.0}, ['0', '1.5', '-0.5', 'nan']),
    (hw_size, {'512x1024': (512, 1024), '8X8': (8, 8)},
     ['0x12', '12', '12x', 'axb', '-1x4']),
])
def test_argument_types(fn, good, bad):
    for text, value in good.items():
        assert fn(text) == value
    for text in bad:
        with pytest.raises(argparse.ArgumentTypeError,
                           match=f'must be .*got {text!r}|got {text}$'):
            fn(text)


DEMO = osp.join('configs', 'dsrl',
                'dsrl_bisenetv1_r18-d32-w0.5_1xb4-400i_dsrl-demo-128x256.py')


@pytest.mark.parametrize('argv,message', [
    (['tools/analysis_tools/get_flops.py', DEMO, '--shape', '0', '512'],
     'argument --shape: must be an integer >= 1, got 0'),
    (['tools/analysis_tools/benchmark.py', DEMO, '--runs', '0'],
     'argument --runs: must be an integer >= 1, got 0'),
    (['tools/compression/prune.py', DEMO, 'x.pth', '--steps', '0.75', '1.5',
      '--work-dir', 'w'], 'argument --steps: must be a keep ratio'),
    (['tools/experiments/camvid_recipe.py', '--seeds', '-1'],
     'argument --seeds: must be an integer >= 0, got -1'),
])
def test_tools_reject_bad_numbers_before_doing_anything(argv, message):
    proc = subprocess.run([sys.executable, *argv], cwd=REPO,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr[-1000:]
    assert message in proc.stderr
    assert 'Traceback' not in proc.stderr


def test_extra_configs_are_labelled_by_file_name_and_labels_stay_unique():
    paths = ['configs/camvid/dsrl-paper_x_camvid.py', 'a/lr-input_y.py']
    assert label_extra_configs(paths, ['LR baseline']) == {
        'dsrl-paper': paths[0], 'lr-input': paths[1]}
    with pytest.raises(ValueError, match="'dsrl-paper' is taken"):
        label_extra_configs(paths[:1], ['dsrl-paper'])
    with pytest.raises(ValueError, match="'lr-input' is taken"):
        label_extra_configs([paths[1], 'b/lr-input_z.py'], [])
