import pytest
import torch
from dsrl_icnet_utils import NUM_CLASSES, tiny_icnet_cfg
from dsrl_test_utils import seg_batch
from mmseg.registry import MODELS


def _calls(model):
    """Forward-call counters on the parts an early exit may skip."""
    parts = dict(
        sub1=model.backbone.sub1,
        cff_24=model.backbone.cff_24,
        cff_124=model.backbone.cff_124,
        layer4=model.backbone.trunk.layer4)
    counts = {k: 0 for k in parts}
    handles = []
    for name, module in parts.items():

        def hook(*_, name=name):
            counts[name] += 1

        handles.append(module.register_forward_hook(hook))
    return counts, handles


def test_three_guidance_losses_named_and_everything_trained():
    model = MODELS.build(tiny_icnet_cfg())
    losses = model.loss(*seg_batch(h=64, w=96, num_classes=NUM_CLASSES))
    assert {'decode.loss_sub124', 'aux_0.loss_sub4',
            'aux_1.loss_sub24'} <= set(losses)
    sum(v for k, v in losses.items() if 'loss' in k).backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_loss_weights_are_applied():
    torch.manual_seed(0)
    weighted = MODELS.build(tiny_icnet_cfg(weights=(0.16, 0.4, 1.0)))
    unit = MODELS.build(tiny_icnet_cfg(weights=(1.0, 1.0, 1.0)))
    unit.load_state_dict(weighted.state_dict())
    batch = seg_batch(h=64, w=96, num_classes=NUM_CLASSES)
    weighted.eval(), unit.eval()  # same BN statistics for both
    a, b = weighted.loss(*batch), unit.loss(*batch)
    for key, w in (('aux_0.loss_sub4', 0.16), ('aux_1.loss_sub24', 0.4),
                   ('decode.loss_sub124', 1.0)):
        torch.testing.assert_close(a[key], w * b[key])


@pytest.mark.parametrize('exit, ran, stride', [
    ('sub4', dict(sub1=0, cff_24=0, cff_124=0, layer4=1), 16),
    ('sub24', dict(sub1=0, cff_24=1, cff_124=0, layer4=1), 8),
    ('sub124', dict(sub1=1, cff_24=1, cff_124=1, layer4=1), 4),
])
def test_early_exit_skips_unused_branches(exit, ran, stride):
    model = MODELS.build(tiny_icnet_cfg(exit=exit)).eval()
    counts, handles = _calls(model)
    inputs, samples = seg_batch(h=64, w=96, num_classes=NUM_CLASSES)
    with torch.no_grad():
        logits = model(inputs, mode='tensor')
        assert counts == ran
        out = model.predict(inputs, samples)
    for h in handles:
        h.remove()
    assert logits.shape == (2, NUM_CLASSES, 64 // stride, 96 // stride)
    assert out[0].seg_logits.data.shape == (NUM_CLASSES, 64, 96)


def test_exit_switchable_on_a_built_model():
    model = MODELS.build(tiny_icnet_cfg()).eval()
    inputs, _ = seg_batch(h=64, w=96)
    with torch.no_grad():
        full = model(inputs, mode='tensor')
        model.test_cfg['exit'] = 'sub4'
        early = model(inputs, mode='tensor')
    assert full.shape[2:] == (16, 24) and early.shape[2:] == (4, 6)


@pytest.mark.parametrize('exit', ['sub4', 'sub24', 'sub124'])
def test_sizes_not_divisible_by_32_work(exit):
    model = MODELS.build(tiny_icnet_cfg(exit=exit)).eval()
    inputs, samples = seg_batch(batch=1, h=97, w=131)
    with torch.no_grad():
        out = model.predict(inputs, samples)
    assert out[0].pred_sem_seg.shape == (97, 131)
    model.train()
    losses = model.loss(inputs, samples)
    assert all(torch.isfinite(v) for v in losses.values())


def test_width_multiplier_shrinks_the_model():
    full = MODELS.build(tiny_icnet_cfg(width=1.0))
    half = MODELS.build(tiny_icnet_cfg(width=0.5))
    n = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    assert 0.2 < n(half) / n(full) < 0.3


def test_bad_exit_and_missing_heads_fail_at_build():
    with pytest.raises(ValueError, match="exit must be one of .* got 'sub2'"):
        MODELS.build(tiny_icnet_cfg(exit='sub2'))
    with pytest.raises(ValueError, match='auxiliary_head must be the list'):
        MODELS.build(tiny_icnet_cfg(exit='sub4', auxiliary_head=None))


def test_non_dilated_trunk_rejected():
    cfg = tiny_icnet_cfg()
    cfg.backbone.backbone_cfg.strides = (1, 2, 2, 2)
    with pytest.raises(ValueError, match=r'strides \(1, 2, 1, 1\)'):
        MODELS.build(cfg)


def test_dsrl_on_icnet_trains_and_predicts_hr():
    cfg = tiny_icnet_cfg()
    cfg.type = 'DSRLEncoderDecoder'
    cfg.test_cfg = dict(mode='whole')
    cfg.update(
        input_scale=0.5,
        probe_size=(64, 96),
        sssr_head=dict(upsample_factor=4),
        sisr_head=dict(type='SISRHead', in_channels=32, in_index=2),
        fa_loss=dict(type='FeatureAffinityLoss', subsample=4))
    model = MODELS.build(cfg)
    inputs, samples = seg_batch(h=64, w=96, num_classes=NUM_CLASSES)
    losses = model.loss(inputs, samples)
    assert {
        'decode.loss_sub124', 'aux_0.loss_sub4', 'aux_1.loss_sub24',
        'sisr.loss_sr', 'fa.loss_fa'
    } <= set(losses)
    model.eval()
    with torch.no_grad():
        # LR 32x48 -> 1/4 = 8x12 -> SSSR x4, resized to the HR image.
        assert model(inputs, mode="tensor").shape[2:] == (64, 96)
        assert model.predict(inputs, samples)[0].pred_sem_seg.shape == (64, 96)


def test_onnx_export_matches_pytorch(tmp_path):
    pytest.importorskip('onnxruntime')
    from mmseg_dsrl.export.onnx import export_onnx, max_abs_difference
    model = MODELS.build(tiny_icnet_cfg()).eval()
    path = str(tmp_path / 'icnet.onnx')
    x = torch.randn(1, 3, 128, 256)
    export_onnx(model, x, path)
    assert max_abs_difference(model, path, x) <= 1e-3


def test_head_channel_mismatch_fails_at_build():
    cfg = tiny_icnet_cfg(width=0.5)
    cfg.auxiliary_head[0].in_channels = 64  # backbone gives 128
    with pytest.raises(ValueError, match=r'auxiliary_head\[0\] reads '
                       r'cascade output 0 with 128 channels.*in_channels=128'):
        MODELS.build(cfg)
