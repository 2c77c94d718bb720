"""tools/experiments/icnet_camvid_compression.py: the arms it compares."""
import importlib.util
import os.path as osp

import pytest
from dsrl_test_utils import REPO
from mmseg.registry import MODELS


def tool():
    spec = importlib.util.spec_from_file_location(
        'icnet_camvid_compression',
        osp.join(REPO, 'tools', 'experiments',
                 'icnet_camvid_compression.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_narrower_model_builds_with_the_pruned_width():
    """The from-scratch arm is the CamVid ICNet at half width: it must
    build (head inputs follow the backbone) and be as wide as keep 0.5."""
    from mmseg_dsrl.analysis.configs import load_config
    t = tool()
    cfg = load_config(t.CONFIG, t.narrower(load_config(t.CONFIG), 0.5))
    model = MODELS.build(cfg.model)
    assert cfg.model.backbone.width_multiplier == 0.25
    assert model.decode_head.in_channels == 32
    assert [h.in_channels for h in model.auxiliary_head] == [64, 32]


def test_arms_pair_each_schedule_with_each_learning_rate():
    t = tool()
    args = t.parse_args(['--data-root', 'x', '--extra-lr-scales', '1.0'])
    assert t.pruning_arms(args) == [
        ('progressive 0.75 -> 0.5', [0.75, 0.5], 0.1),
        ('one-shot 0.5', [0.5], 0.1),
        ('progressive 0.75 -> 0.5, fine-tune LR x1', [0.75, 0.5], 1.0),
        ('one-shot 0.5, fine-tune LR x1', [0.5], 1.0),
    ]


def test_progressive_steps_must_end_at_keep(capsys):
    with pytest.raises(SystemExit):
        tool().parse_args(
            ['--data-root', 'x', '--progressive-steps', '0.75', '0.4'])
    assert 'must end at --keep 0.5' in capsys.readouterr().err
