import shutil

import pytest
import torch
from mmseg.registry import MODELS

from mmseg_dsrl.models.decode_heads.espnetv2_head import (
    EfficientPyramidPooling,
    channel_shuffle,
)

_IN = (16, 32, 64, 128)


def _head(**kw):
    cfg = dict(
        type='ESPNetV2Head',
        in_channels=_IN,
        in_index=(0, 1, 2, 3),
        channels=10,
        num_classes=7,
        dropout_ratio=0.0,
        align_corners=True)
    cfg.update(kw)
    return MODELS.build(cfg)


def _levels(b=2, h=32, w=48):
    return [
        torch.randn(b, c, h // 2**(i + 1), w // 2**(i + 1))
        for i, c in enumerate(_IN)
    ]


def test_channel_shuffle_interleaves_groups():
    x = torch.arange(6.).view(1, 6, 1, 1)
    assert channel_shuffle(x, 3).flatten().tolist() == [0, 2, 4, 1, 3, 5]


def test_output_is_class_scores_at_level1_size():
    out = _head()(_levels())
    assert out.shape == (2, 7, 16, 24)


def test_sizes_no_stride_divides_are_resized_to_each_level():
    """An input side that is no multiple of 16 (here levels of 45x61)
    still decodes: each x2 resizes to the encoder level's size."""
    levels = [
        torch.randn(1, c, *s) for c, s in zip(_IN, [(23, 31), (12, 16), (
            6, 8), (3, 4)])
    ]
    assert _head()(levels).shape == (1, 7, 23, 31)


def test_pyramid_branches_match_a_naive_computation():
    import math
    import torch.nn.functional as F
    ppm = EfficientPyramidPooling(8, 4, (2.0, 1.0, 0.5), True,
                                  dict(type='BN')).eval()
    x = torch.randn(1, 8, 7, 9)
    p = ppm.project(x)
    up = F.interpolate(p, (14, 18), mode='bilinear', align_corners=True)
    b0 = F.adaptive_avg_pool2d(ppm.branches[0](up), (7, 9))
    b1 = ppm.branches[1](p)
    small = (max(5, math.ceil(3.5)), max(5, math.ceil(4.5)))
    b2 = F.interpolate(
        ppm.branches[2](F.adaptive_avg_pool2d(p, small)), (7, 9),
        mode='bilinear',
        align_corners=True)
    merged = channel_shuffle(
        ppm.merge_act(ppm.merge_norm(torch.cat([b0, b1, b2], 1))), 3)
    torch.testing.assert_close(ppm(x), ppm.fuse(merged))


def test_loss_backward_reaches_every_parameter():
    from mmengine.structures import PixelData
    from mmseg.structures import SegDataSample
    head = _head()
    samples = []
    for _ in range(2):
        s = SegDataSample()
        s.gt_sem_seg = PixelData(data=torch.randint(0, 7, (1, 32, 48)))
        samples.append(s)
    losses = head.loss_by_feat(head(_levels()), samples)
    assert torch.isfinite(losses['loss_ce'])
    losses['loss_ce'].backward()
    for name, p in head.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_features_feed_conv_seg():
    head = _head()
    levels = _levels()
    torch.testing.assert_close(
        head(levels), head.conv_seg(head._forward_feature(levels)))


@pytest.mark.parametrize('kw, match', [
    (dict(in_channels=(16, 32, 64), in_index=(0, 1, 2)),
     r'in_channels needs 4 values and decoder_channels 3'),
    (dict(decoder_channels=(64, 48)),
     r'in_channels needs 4 values and decoder_channels 3'),
    (dict(pyramid_scales=(0.5, 1.0)), r'positive and descending'),
])
def test_bad_layouts_are_refused(kw, match):
    with pytest.raises(ValueError, match=match):
        _head(**kw)


class _StridedLevels(torch.nn.Module):
    """The head on four strided-conv levels, called like a segmentor."""

    def __init__(self):
        super().__init__()
        channels = (3, ) + _IN
        self.levels = torch.nn.ModuleList(
            torch.nn.Conv2d(a, b, 3, stride=2, padding=1)
            for a, b in zip(channels, channels[1:]))
        self.head = _head()

    def forward(self, x, mode='tensor'):
        feats = []
        for conv in self.levels:
            x = conv(x)
            feats.append(x)
        return self.head(feats)


@pytest.mark.slow
@pytest.mark.skipif(shutil.which('g++') is None, reason='inductor needs g++')
def test_head_runs_compiled_with_inductor():
    # The pyramid pools at several sizes in one graph; with automatic
    # dynamic shapes inductor failed to lower its adaptive pooling.
    from mmseg_dsrl.analysis.inference_backends import (InferencePath,
                                                        build_runner)
    torch.manual_seed(0)
    model = _StridedLevels().eval()
    x = torch.randn(1, 3, 64, 96)
    run = build_runner(model, InferencePath(compile=True), x)
    with torch.no_grad():
        expected = model(x)
    torch.testing.assert_close(run(x), expected, atol=1e-4, rtol=0)
