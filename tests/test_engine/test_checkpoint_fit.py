"""A checkpoint that only partly fits the model: what the user is told."""
import hashlib
import os.path as osp
import subprocess

import pytest
import torch
from mmengine.config import Config
from mmseg.registry import MODELS

from dsrl_test_utils import REPO
from mmseg_dsrl.engine.checkpoint_fit import checkpoint_fit

DEMO = 'configs/dsrl/{}bisenetv1_r18-d32-w0.5_1xb4-400i_dsrl-demo-128x256.py'


def _model(prefix: str, **decode_head):
    cfg = Config.fromfile(osp.join(REPO, DEMO.format(prefix)))
    head = cfg.model.decode_head
    head.update(decode_head)
    return MODELS.build(cfg.model)


def test_an_lr_baseline_checkpoint_under_a_dsrl_config_is_named():
    fit = checkpoint_fit(_model('dsrl_'), _model('lr-input_').state_dict())
    assert fit.mismatched == {} and fit.unexpected == []
    assert fit.missing_for_inference and all(
        '.upsample.' in k for k in fit.missing_for_inference)
    # SISR is training-only: unset, but not what predictions use.
    assert any(k.startswith('sisr_head.') for k in fit.missing)
    assert not fit.complete_for_inference
    text = fit.describe()
    assert f'{len(fit.loaded)} keys loaded' in text
    assert 'probably an LR-baseline checkpoint' in text
    assert 'SSSR deconvolutions are not in it' in text


def test_a_checkpoint_for_another_class_count_is_named():
    model = _model('lr-input_')
    other = _model('lr-input_', num_classes=19).state_dict()
    fit = checkpoint_fit(model, other)
    assert sorted(fit.mismatched) == ['decode_head.conv_seg.bias',
                                      'decode_head.conv_seg.weight']
    n = model.decode_head.num_classes
    assert (f'a checkpoint for 19 classes; the model has {n}'
            in fit.describe())


def test_a_dsrl_checkpoint_in_a_plain_model_is_named():
    """Its decode head sits under decode_head.head.: a model without DSRL
    would evaluate an unloaded head."""
    fit = checkpoint_fit(_model('lr-input_'), _model('dsrl_').state_dict())
    assert not fit.complete_for_inference
    assert 'decode_head.conv_seg.weight' in fit.missing_for_inference
    assert 'decode_head.head.conv_seg.weight' in fit.unexpected
    assert ("a DSRL checkpoint loaded into a model without DSRL: its decode "
            "head is stored under 'decode_head.head.'") in fit.describe()


def _sha(path) -> str:
    return hashlib.sha256(open(path, 'rb').read()).hexdigest()


@pytest.mark.integration
def test_tools_test_refuses_a_partial_checkpoint_unless_asked(
        tmp_path, demo_data_root, python_env):
    env, python = python_env
    ckpt = tmp_path / 'lr.pth'
    torch.save(dict(state_dict=_model('lr-input_').state_dict(), meta={}),
               ckpt)
    before = _sha(ckpt)
    command = [
        python, osp.join(REPO, 'tools', 'test.py'),
        osp.join(REPO, DEMO.format('dsrl_')), str(ckpt), '--work-dir',
        str(tmp_path / 'w'), '--cfg-options',
        f'test_dataloader.dataset.data_root={demo_data_root}'
    ]
    out = subprocess.run(command, env=env, capture_output=True, text=True,
                         timeout=600)
    assert out.returncode == 1
    assert 'does not fit this model' in out.stderr
    assert 'probably an LR-baseline checkpoint' in out.stderr
    assert '--allow-partial' in out.stderr
    assert 'Iter(test)' not in out.stdout + out.stderr
    assert _sha(ckpt) == before
    out = subprocess.run(command + ['--allow-partial'], env=env,
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    assert 'Iter(test)' in out.stdout + out.stderr


def test_init_model_says_what_the_checkpoint_leaves_unset(tmp_path):
    """mmseg's init_model loads through mmengine: the plugin's summary of a
    partial fit reaches the user's log with the likely cause."""
    import logging

    from mmengine.logging import MMLogger
    from mmseg.apis import init_model
    ckpt = tmp_path / 'lr.pth'
    torch.save(dict(state_dict=_model('lr-input_').state_dict(), meta={}),
               ckpt)
    records = []

    class Keep(logging.Handler):

        def emit(self, record):
            records.append(record.getMessage())

    logger = MMLogger.get_current_instance()
    handler = Keep(level=logging.WARNING)
    logger.addHandler(handler)
    try:
        init_model(osp.join(REPO, DEMO.format('dsrl_')), str(ckpt),
                   device='cpu')
    finally:
        logger.removeHandler(handler)
    said = '\n'.join(records)
    assert 'probably an LR-baseline checkpoint' in said
    assert 'used by inference' in said
