"""Every DSRL config starts where its low-resolution baseline is: before any
step, with the baseline's weights, its HR prediction is the baseline's
(SSSR's upsampling initialised to the resize it replaces), so fine-tuning a
pretrained model starts from that model's function."""
import copy
import glob
import os.path as osp

import pytest
import torch
import torch.nn.functional as F
from dsrl_test_utils import REPO
from mmengine.config import Config
from mmseg.registry import MODELS

from mmseg_dsrl.analysis.configs import use_bn_without_cuda

DSRL_CONFIGS = sorted(
    p for p in glob.glob(osp.join(REPO, 'configs', '**', '*.py'),
                         recursive=True)
    if '_base_' not in p and osp.basename(p).startswith(('dsrl_',
                                                         'dsrl-paper_')))
_DSRL_ONLY = ('sssr_head', 'sisr_head', 'fa_loss', 'hr_teacher',
              'probe_size', 'sssr_stage')
# A transposed convolution cannot copy the clamped border of an
# align_corners=False resize through x2 steps exactly (values differ
# slightly between input samples); align_corners=True hosts match exactly.
MIN_AGREEMENT = 0.995


def _smooth_image(h, w, seed=0):
    """A natural-looking test frame: low-frequency noise, so class regions
    are blobs with boundaries, not per-pixel noise."""
    g = torch.Generator().manual_seed(seed)
    coarse = torch.randn(1, 3, max(2, h // 16), max(2, w // 16), generator=g)
    return F.interpolate(coarse, (h, w), mode='bicubic',
                         align_corners=False) * 2


def _name(path):
    return osp.relpath(path, osp.join(REPO, 'configs'))


@pytest.mark.slow
@pytest.mark.parametrize('path', DSRL_CONFIGS, ids=_name)
def test_dsrl_predicts_what_its_lr_baseline_predicts_at_init(path):
    cfg = Config.fromfile(path)
    use_bn_without_cuda(cfg)
    lr_cfg = copy.deepcopy(cfg.model)
    dsrl = MODELS.build(cfg.model).eval()
    for key in _DSRL_ONLY:
        lr_cfg.pop(key, None)
    lr_cfg['type'] = 'LRInputEncoderDecoder'
    lr = MODELS.build(lr_cfg).eval()
    # The baseline's weights in DSRL (its decode head is SSSR's wrapped
    # head; a cascade wraps one stage).
    own = dsrl.state_dict()
    moved = {}
    for key, value in lr.state_dict().items():
        target = key
        if key not in own:
            parts = key.split('.')
            for i in range(len(parts), 0, -1):
                cand = '.'.join(parts[:i] + ['head'] + parts[i:])
                if cand in own:
                    target = cand
                    break
        assert target in own, key
        moved[target] = value
    dsrl.load_state_dict(moved, strict=False)
    size = tuple(cfg.model.data_preprocessor.get('size') or (256, 512))
    h, w = (min(size[0], 256), min(size[1], 512))
    x = _smooth_image(h, w)
    metas = [dict(img_shape=(h, w), ori_shape=(h, w), pad_shape=(h, w))]
    with torch.no_grad():
        ours = dsrl.encode_decode(x, metas).argmax(1)
        ref = lr.encode_decode(x, metas).argmax(1)
    agreement = (ours == ref).float().mean().item()
    assert agreement >= MIN_AGREEMENT, agreement
