import pytest
import torch
import torch.nn.functional as F
from dsrl_test_utils import seg_batch
from mmseg.registry import MODELS

from mmseg_dsrl.models.functional import downsample_label


def _head(**kw):
    cfg = dict(
        type='CascadeGuidanceHead',
        in_channels=8,
        in_index=0,
        num_classes=5,
        loss_decode=dict(type='CrossEntropyLoss', loss_weight=0.4))
    cfg.update(kw)
    return MODELS.build(cfg)


def test_loss_uses_label_downsampled_to_the_logits():
    head = _head()
    _, samples = seg_batch(h=32, w=48, ignore_frac=0.3)
    feats = [torch.randn(2, 8, 8, 12)]
    loss = head.loss(feats, samples, {})['loss_ce']
    logits = head(feats)
    label = torch.stack([s.gt_sem_seg.data for s in samples])
    small = downsample_label(label, (8, 12))[:, 0]
    # mmseg's CrossEntropyLoss averages over all pixels (avg_non_ignore=False)
    expected = 0.4 * F.cross_entropy(
        logits, small, ignore_index=255, reduction='sum') / small.numel()
    torch.testing.assert_close(loss, expected)
    # mmseg's way (logits upsampled to the label) gives another number.
    up = F.interpolate(
        logits, size=(32, 48), mode='bilinear', align_corners=False)
    other = 0.4 * F.cross_entropy(
        up, label[:, 0], ignore_index=255, reduction='sum') / label.numel()
    assert not torch.allclose(loss, other)


def test_all_ignored_label_gives_no_gradient():
    head = _head()
    _, samples = seg_batch(h=32, w=48)
    for s in samples:
        s.gt_sem_seg.data[:] = 255
    loss = head.loss([torch.randn(2, 8, 8, 12)], samples, {})['loss_ce']
    loss.backward()
    assert head.conv_seg.weight.grad.abs().sum() == 0


def test_final_head_upsamples_x2_then_classifies():
    head = _head(upsample_factor=2).eval()
    x = torch.randn(1, 8, 5, 7)
    out = head([x])
    assert out.shape == (1, 5, 10, 14)
    up = F.interpolate(x, scale_factor=2, mode='bilinear', align_corners=False)
    torch.testing.assert_close(out, head.conv_seg(up))


def test_channels_must_match_in_channels():
    with pytest.raises(
            ValueError, match=r'channels \(4\) must equal '
            r'in_channels \(8\)'):
        _head(channels=4)
