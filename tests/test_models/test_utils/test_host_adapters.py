"""What DSRL knows about mmseg's heads and segmentors
(``mmseg_dsrl.models.utils.host_adapters``), checked against mmseg's own
classes, and the two ways SSSR runs a wrapped head (mmseg's
``loss_by_feat`` / ``predict_by_feat`` split, and the forward-replacing
fallback) agreeing."""
import pytest
import torch
from dsrl_test_utils import seg_batch, tiny_head
from mmseg.registry import MODELS
from torch import nn

from mmseg_dsrl.models.decode_heads import sssr_head as sssr_module
from mmseg_dsrl.models.utils import host_adapters as ha


def _head(type_, **kwargs):
    cfg = tiny_head(type=type_, **kwargs)
    return MODELS.build(cfg)


def test_default_split_and_features_of_mmseg_heads():
    fcn = _head('FCNHead')
    assert ha.keeps_default_loss(fcn) and ha.keeps_default_predict(fcn)
    assert ha.keeps_default_label_resize(fcn)
    assert ha.exposes_features(fcn)
    from mmseg.models.decode_heads import DepthwiseSeparableASPPHead
    assert 'forward' in vars(DepthwiseSeparableASPPHead)
    dsaspp = DepthwiseSeparableASPPHead.__new__(DepthwiseSeparableASPPHead)
    assert not ha.exposes_features(dsaspp)  # forward adds a decoder


def test_own_label_handling_is_respected():
    """ICNet's cascade guidance heads keep mmseg's ``loss`` but downsample
    the label in their own ``loss_by_feat``: SSSR resizes their scores to
    the HR label itself; OCR's stage loss is its own."""
    cls = MODELS.get('CascadeGuidanceHead')
    head = cls.__new__(cls)
    assert ha.keeps_default_loss(head)
    assert not ha.keeps_default_label_resize(head)
    ocr = MODELS.get('OCRHead')
    assert not ha.keeps_default_loss(ocr.__new__(ocr))
    assert not ha.keeps_default_loss(nn.Conv2d(1, 1, 1))


def test_point_heads_and_data_sample_heads_are_recognised():
    assert ha.is_point_head_class(MODELS.get('PointHead'))
    assert not ha.is_point_head_class(MODELS.get('FCNHead'))
    assert not ha.is_point_head_class(None)

    class QueryHead(nn.Module):

        def forward(self, x, batch_data_samples):
            return x

    assert ha.needs_data_samples(QueryHead())
    assert not ha.needs_data_samples(_head('FCNHead'))


def test_stochastic_layers_include_drop_path_by_name():
    from mmcv.cnn.bricks import DropPath
    assert ha.is_stochastic_or_stateful(nn.BatchNorm2d(3))
    assert ha.is_stochastic_or_stateful(nn.Dropout2d())
    assert ha.is_stochastic_or_stateful(DropPath(0.1))
    assert not ha.is_stochastic_or_stateful(nn.Conv2d(3, 3, 1))
    assert not ha.is_stochastic_or_stateful(nn.LayerNorm(3))


def test_cascade_config_and_fixed_pooling():
    assert ha.is_cascade_config(dict(num_stages=2, decode_head=[]))
    assert not ha.is_cascade_config(dict(decode_head={}))
    model = nn.Sequential(nn.AvgPool2d(49), nn.AvgPool2d(2), nn.MaxPool2d(
        (8, 3)))
    assert ha.fixed_size_pooling(model) == [('0', 49), ('2', (8, 3))]


def test_forward_replaced_restores_the_class_forward():
    head = _head('FCNHead')
    x = [torch.randn(1, c, 4, 4) for c in (16, 32, 64, 128)]
    with ha.forward_replaced(head, lambda inputs: 'replaced'):
        assert head(x) == 'replaced'
        assert ha.class_forward(head, x).shape == (1, head.out_channels, 4, 4)
    assert 'forward' not in vars(head)
    assert head(x).shape == (1, head.out_channels, 4, 4)


def test_psa_mask_shape_substitute_matches_mmcv_and_is_removed():
    from mmcv.ops import PSAMask
    mask = PSAMask('collect', (5, 5))
    x = torch.randn(2, 25, 6, 7)
    real = mask(x)
    model = nn.Sequential(mask)
    with ha.shape_only_ops(model):
        assert mask(x).shape == real.shape
        assert not mask(x).any()
    torch.testing.assert_close(mask(x), real)


def test_psanet_geometry_is_probed_without_running_psa_mask(monkeypatch):
    """PSANet's PSAMask is a compiled op fake tensors cannot trace; the
    probe uses its shape instead of a real run (minutes on a CPU at the
    config's 512x512). Its kernel is made to fail: the build must not need
    it."""
    import os.path as osp

    from mmcv.ops import psa_mask

    from mmseg_dsrl.analysis.zoo_check import (apply_dsrl_override,
                                               load_config_quietly,
                                               mmseg_config_root)

    def refuse(*args, **kwargs):
        raise AssertionError('the PSAMask kernel ran during the build')

    monkeypatch.setattr(psa_mask.PSAMaskFunction, 'forward', refuse)
    cfg = load_config_quietly(
        osp.join(mmseg_config_root(), 'psanet',
                 'psanet_r50-d8_4xb4-80k_ade20k-512x512.py'))
    model = MODELS.build(apply_dsrl_override(cfg, (512, 512)))
    assert model.sisr_head.upscale_factor == 16  # d8 at input_scale 0.5


def _sssr(with_fa=True):
    torch.manual_seed(0)
    return MODELS.build(
        dict(
            type='SSSRHead',
            head=tiny_head(),
            with_fa_transform=with_fa,
            fa_transform_channels=8)).train()


def test_loss_by_feat_path_equals_the_forward_replacing_fallback(
        monkeypatch):
    """For a head that keeps mmseg's split, SSSR calls ``loss_by_feat``
    on its HR outputs (no forward replaced); forcing the fallback (the
    head's own ``loss`` with ``forward`` replaced) gives the same losses,
    FA features and gradients."""
    _, samples = seg_batch(h=32, w=48)
    x = [torch.randn(2, c, 8, 12) for c in (16, 32, 64, 128)]

    def run():
        head = _sssr()
        seen = []
        original = head.head.loss_by_feat

        def loss_by_feat(*args):
            seen.append('forward' in vars(head.head))
            return original(*args)

        head.head.loss_by_feat = loss_by_feat
        losses, (fa, _) = head.loss_and_features(x, samples, {})
        (losses['loss_ce'] + fa.mean()).backward()
        grads = {n: p.grad.clone() for n, p in head.named_parameters()}
        return losses, fa, grads, seen

    losses, fa, grads, seen = run()
    assert seen == [False]  # the split: nothing replaced
    monkeypatch.setattr(sssr_module, 'keeps_default_loss', lambda h: False)
    f_losses, f_fa, f_grads, f_seen = run()
    assert f_seen == [True]  # the fallback: forward replaced
    torch.testing.assert_close(losses['loss_ce'], f_losses['loss_ce'],
                               rtol=0, atol=0)
    torch.testing.assert_close(fa, f_fa, rtol=0, atol=0)
    for name in grads:
        torch.testing.assert_close(grads[name], f_grads[name], rtol=0,
                                   atol=0)


def test_predict_by_feat_path_equals_the_fallback(monkeypatch):
    x = [torch.randn(1, c, 8, 12) for c in (16, 32, 64, 128)]
    metas = [dict(img_shape=(30, 45), ori_shape=(30, 45), pad_shape=(30,
                                                                     45))]
    head = _sssr(with_fa=False).eval()
    with torch.no_grad():
        direct = head.predict(x, metas, {})
        monkeypatch.setattr(sssr_module, 'keeps_default_predict',
                            lambda h: False)
        fallback = head.predict(x, metas, {})
    assert direct.shape == (1, head.out_channels, 30, 45)
    torch.testing.assert_close(direct, fallback, rtol=0, atol=0)
