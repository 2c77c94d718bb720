"""A class count that disagrees with the dataset stops the run before any
step, naming the head, both counts and the fix."""
import os
import os.path as osp
import subprocess

import pytest
from mmengine.config import Config
from mmseg.registry import MODELS

from dsrl_test_utils import REPO
from mmseg_dsrl.engine import ClassCountCheckHook
from mmseg_dsrl.engine.hooks import class_count_mismatches

DSRL = osp.join(REPO, 'configs', 'dsrl',
                'dsrl_bisenetv1_r18-d32-w0.5_1xb4-400i_dsrl-demo-128x256.py')


def test_every_head_of_another_class_count_is_found():
    cfg = Config.fromfile(DSRL)
    model = MODELS.build(cfg.model)
    assert class_count_mismatches(model, 7) == []
    names = [n for n, _ in class_count_mismatches(model, 19)]
    # The head SSSR wraps, and every auxiliary head.
    assert 'decode_head.head' in names
    assert any(n.startswith('auxiliary_head') for n in names)


@pytest.mark.integration
def test_train_tool_refuses_before_any_step(tmp_path, demo_data_root,
                                            python_env):
    env, python = python_env
    work_dir = tmp_path / 'w'
    out = subprocess.run([
        python, osp.join(REPO, 'tools', 'train.py'), DSRL, '--work-dir',
        str(work_dir), '--cfg-options',
        f'train_dataloader.dataset.data_root={demo_data_root}',
        f'val_dataloader.dataset.data_root={demo_data_root}',
        'train_dataloader.num_workers=0',
        'train_dataloader.persistent_workers=False',
        'model.decode_head.num_classes=19'
    ], env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode != 0
    assert ('decode_head.head has num_classes=19, but the train dataset '
            'DSRLDemoDataset has 7 classes') in out.stderr
    assert 'set num_classes=7 in model.decode_head' in out.stderr
    assert 'Iter(train)' not in out.stdout + out.stderr
    assert not [f for _, _, files in os.walk(work_dir) for f in files
                if f.endswith('.pth')]


def test_hook_is_registered_for_configs():
    from mmseg.registry import HOOKS
    assert HOOKS.get('ClassCountCheckHook') is ClassCountCheckHook
