"""Every config of the project loads (mmseg:: bases resolved) and builds."""
import glob
import os.path as osp

import pytest
from dsrl_test_utils import REPO
from mmengine.config import Config
from mmseg.registry import MODELS

CONFIGS = sorted(
    p for p in glob.glob(
        osp.join(REPO, 'configs', '**', '*.py'), recursive=True)
    if '_base_' not in p)


def _name(path):
    return osp.relpath(path, osp.join(REPO, 'configs'))


def test_configs_exist():
    names = {osp.basename(p) for p in CONFIGS}
    for arch in ('deeplabv3plus_r18-d8', 'deeplabv3plus_r50-d8',
                 'deeplabv3plus_r101-d8', 'pspnet_r18-d8', 'pspnet_r50-d8',
                 'fcn_r18-d8', 'fcn_r50-d8', 'bisenetv1_r18-d32',
                 'icnet_r18-d8', 'icnet_r50-d8'):
        for method in ('dsrl', 'lr-input'):
            assert any(
                n.startswith(f'{method}_{arch}_') and 'cityscapes' in n
                for n in names), (method, arch)


@pytest.mark.parametrize('path', CONFIGS, ids=_name)
def test_config_builds(path):
    cfg = Config.fromfile(path)
    assert cfg.custom_imports['imports'] == ['mmseg_dsrl']
    model = MODELS.build(cfg.model)
    # x0.5 throughout, but the CamVid rows at 90x120 (x0.25).
    scale = 0.25 if path.endswith('-90x120.py') else 0.5
    if osp.basename(path).startswith(('dsrl_', 'dsrl-paper_')):
        assert type(model).__name__ == 'DSRLEncoderDecoder'
        assert model.input_scale == scale
        assert model.sisr_head is not None
        # The shipped default trains FA into the SR side only; the paper
        # setting (into both) is one config away.
        paper = osp.basename(path).startswith('dsrl-paper_')
        assert model.fa_loss.gradient_to == ('both' if paper else 'sr')
    elif osp.basename(path).startswith('lr-input_'):
        assert type(model).__name__ == 'LRInputEncoderDecoder'
        assert model.input_scale == scale


@pytest.mark.parametrize(
    'path', [
        p for p in CONFIGS
        if osp.basename(p).startswith('dsrl_') and 'cityscapes' in p
        and '/dsrl/' in p
    ],
    ids=_name)
def test_dsrl_cityscapes_config_is_a_short_delta(path):
    """The DSRL override of a stock mmseg Cityscapes config."""
    with open(path) as f:
        lines = [
            ln for ln in f if ln.strip() and not ln.lstrip().startswith('#')
        ]
    assert len(lines) <= 16, len(lines)
    cfg = Config.fromfile(path)
    # Network input 512x1024 of a 1024x2048 HR crop.
    assert tuple(cfg.model.data_preprocessor['size']) == (1024, 2048)


FA_PRESETS = Config.fromfile(
    osp.join(REPO, 'configs', '_base_', 'dsrl', 'fa_loss.py'))


@pytest.mark.parametrize(
    'path', [p for p in CONFIGS if osp.basename(p).startswith('dsrl-paper_')],
    ids=_name)
def test_paper_config_is_the_default_plus_the_paper_fa(path):
    """A ``dsrl-paper_*`` config is its ``dsrl_*`` config with the preset
    ``dsrl_fa_loss_paper`` as FA and nothing else changed."""
    paper = Config.fromfile(path)
    default = Config.fromfile(
        osp.join(
            osp.dirname(path),
            osp.basename(path).replace('dsrl-paper_', 'dsrl_', 1)))
    assert default.model.fa_loss == FA_PRESETS.dsrl_fa_loss
    assert paper.model.fa_loss == FA_PRESETS.dsrl_fa_loss_paper
    paper.model.fa_loss = default.model.fa_loss
    assert paper.to_dict() == default.to_dict()


def test_fa_presets_are_the_paper_and_the_paper_into_sr():
    from mmseg_dsrl.models.losses import FeatureAffinityLoss
    paper = MODELS.build(FA_PRESETS.dsrl_fa_loss_paper)
    # The paper's Eq. 5-6 (and the class defaults): cosine, q=1, subsample 8,
    # its gradient into both branches.
    assert isinstance(paper, FeatureAffinityLoss)
    assert (paper.p, paper.q, paper.subsample, paper.loss_weight,
            paper.gradient_to) == (2, 1, 8, 1.0, 'both')
    # The default differs in exactly one thing: where the gradient goes.
    default = dict(FA_PRESETS.dsrl_fa_loss)
    assert default.pop('gradient_to') == 'sr'
    assert default == FA_PRESETS.dsrl_fa_loss_paper
