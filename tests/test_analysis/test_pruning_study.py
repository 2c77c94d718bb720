"""The arms of the ICNet CamVid compression study."""
import os.path as osp

import pytest
from dsrl_test_utils import REPO, run_script
from mmseg.registry import MODELS

from mmseg_dsrl.analysis.pruning_study import (
    narrower_width_options,
    pruning_arms,
)

TOOL = 'tools/experiments/icnet_camvid_compression.py'
CONFIG = osp.join(REPO, 'configs', 'camvid',
                  'icnet-cascade_r18-d8-w0.5_1xb4-1000i_camvid-360x480.py')


def test_narrower_model_builds_with_the_pruned_width():
    """The from-scratch arm is the CamVid ICNet at half width: it must
    build (head inputs follow the backbone) and be as wide as keep 0.5."""
    from mmseg_dsrl.analysis.configs import load_config
    cfg = load_config(CONFIG,
                      narrower_width_options(load_config(CONFIG), 0.5))
    model = MODELS.build(cfg.model)
    assert cfg.model.backbone.width_multiplier == 0.25
    assert model.decode_head.in_channels == 32
    assert [h.in_channels for h in model.auxiliary_head] == [64, 32]


def test_arms_pair_each_schedule_with_each_learning_rate():
    assert pruning_arms([0.75, 0.5], 0.5, 0.1, [1.0]) == [
        ('progressive 0.75 -> 0.5', [0.75, 0.5], 0.1),
        ('one-shot 0.5', [0.5], 0.1),
        ('progressive 0.75 -> 0.5, fine-tune LR x1', [0.75, 0.5], 1.0),
        ('one-shot 0.5, fine-tune LR x1', [0.5], 1.0),
    ]
    with pytest.raises(ValueError, match='must end at keep 0.5'):
        pruning_arms([0.75, 0.4], 0.5, 0.1)


def test_progressive_steps_must_end_at_keep(capsys):
    assert run_script(TOOL, [
        '--data-root', 'x', '--progressive-steps', '0.75', '0.4'
    ]) == 2
    assert 'must end at --keep 0.5' in capsys.readouterr().err
