import re

import pytest
import torch
from dsrl_test_utils import (NUM_CLASSES, assert_autocast_loss_close,
                             seg_batch, tiny_segmentor_cfg)
from mmseg.registry import MODELS


def _count_calls(module):
    calls = []
    handle = module.register_forward_hook(lambda *_: calls.append(1))
    return calls, handle


def test_loss_terms_named_and_every_parameter_trained():
    model = MODELS.build(tiny_segmentor_cfg())
    inputs, samples = seg_batch(h=64, w=96)
    losses = model.loss(inputs, samples)
    assert {
        'decode.loss_ce', 'decode.acc_seg', 'aux.loss_ce', 'sisr.loss_sr',
        'fa.loss_fa'
    } <= set(losses)
    total = sum(v for k, v in losses.items() if 'loss' in k)
    assert all(torch.isfinite(v).all() for v in losses.values())
    total.backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
        # A parameter that gets an exactly-zero gradient is dead under DDP.
        assert p.grad.abs().sum() > 0, name


@pytest.mark.parametrize('gradient_to', ['seg', 'sr'])
def test_one_sided_fa_trains_every_trainable_parameter(gradient_to):
    # What DDP needs: every parameter that requires a gradient gets a
    # non-zero one. With FA into the SR side only, the SSSR-side FA
    # transform is a fixed projection and is frozen at build.
    cfg = tiny_segmentor_cfg()
    cfg['fa_loss']['gradient_to'] = gradient_to
    model = MODELS.build(cfg)
    frozen = {n for n, p in model.named_parameters() if not p.requires_grad}
    if gradient_to == 'sr':
        assert frozen and all('fa_transform' in n for n in frozen)
    else:
        assert not frozen
    inputs, samples = seg_batch(h=64, w=96)
    losses = model.loss(inputs, samples)
    sum(v for k, v in losses.items() if 'loss' in k).backward()
    for name, p in model.named_parameters():
        if p.requires_grad:
            assert p.grad is not None and p.grad.abs().sum() > 0, name
        else:
            assert p.grad is None, name


def test_backbone_sees_downsampled_image():
    model = MODELS.build(tiny_segmentor_cfg(input_scale=0.5))
    seen = []
    model.backbone.register_forward_hook(
        lambda _m, args, _o: seen.append(tuple(args[0].shape)))
    inputs, samples = seg_batch(h=64, w=96)
    model.loss(inputs, samples)
    assert seen == [(2, 3, 32, 48)]


def test_sisr_factor_measured_at_build():
    model = MODELS.build(tiny_segmentor_cfg(input_scale=0.5))
    # stride 8 features of the half-size image: 16x the HR image.
    assert model.sisr_head.upscale_factor == 16
    model = MODELS.build(tiny_segmentor_cfg(input_scale=0.25))
    assert model.sisr_head.upscale_factor == 32


@pytest.mark.parametrize('mode', ['predict', 'tensor'])
def test_inference_skips_sisr_and_fa_transform(mode):
    model = MODELS.build(tiny_segmentor_cfg()).eval()
    sisr_calls, h1 = _count_calls(model.sisr_head)
    fa_calls, h2 = _count_calls(model.decode_head.fa_transform)
    inputs, samples = seg_batch(h=64, w=96)
    with torch.no_grad():
        out = model(inputs, samples if mode == 'predict' else None, mode=mode)
    h1.remove()
    h2.remove()
    assert sisr_calls == [] and fa_calls == []
    if mode == 'predict':
        assert out[0].pred_sem_seg.shape == (64, 96)
        assert out[0].seg_logits.data.shape == (NUM_CLASSES, 64, 96)
    else:
        # LR 32x48 -> stride-8 scores 4x6 -> two deconvolutions x4,
        # resized by SSSR to the HR input (what predict computes).
        assert out.shape == (2, NUM_CLASSES, 64, 96)


def test_slide_inference_covers_the_image():
    model = MODELS.build(
        tiny_segmentor_cfg(
            test_cfg=dict(mode='slide', crop_size=(48,
                                                   48), stride=(32,
                                                                32)))).eval()
    inputs, samples = seg_batch(h=64, w=96)
    with torch.no_grad():
        out = model.predict(inputs, samples)
    assert out[0].seg_logits.data.shape == (NUM_CLASSES, 64, 96)


def test_input_scale_one_predicts_at_the_input_size():
    """SSSR x16 of stride-8 scores is a 2x grid, resized to the input."""
    cfg = tiny_segmentor_cfg(
        input_scale=1.0, sssr_head=dict(upsample_factor=16))
    model = MODELS.build(cfg)
    inputs, samples = seg_batch(h=32, w=48)
    assert model.sssr.upsample.output_size((4, 6)) == (64, 96)
    with torch.no_grad():
        model.eval()
        assert model(inputs, mode='tensor').shape[2:] == (32, 48)
        out = model.predict(inputs, samples)
    assert out[0].pred_sem_seg.shape == (32, 48)
    model.train()
    losses = model.loss(inputs, samples)
    assert torch.isfinite(losses['fa.loss_fa'])


def test_without_fa_no_transform_and_no_fa_term():
    model = MODELS.build(tiny_segmentor_cfg(fa_loss=None))
    assert model.decode_head.fa_transform is None
    losses = model.loss(*seg_batch())
    assert 'fa.loss_fa' not in losses and 'sisr.loss_sr' in losses


@pytest.mark.parametrize('scale', [0, -0.5, 1.5])
def test_input_scale_out_of_range_raises(scale):
    with pytest.raises(
            ValueError, match=rf'input_scale must be in \(0, 1\].*{scale}'):
        MODELS.build(tiny_segmentor_cfg(input_scale=scale))


def test_input_scale_wrong_type_raises():
    with pytest.raises(TypeError, match="got '0.5'"):
        MODELS.build(tiny_segmentor_cfg(input_scale='0.5'))


def test_wrong_sisr_factor_raises_at_build():
    cfg = tiny_segmentor_cfg(
        sisr_head=dict(type='SISRHead', in_channels=128, upscale_factor=8))
    with pytest.raises(
            ValueError,
            match='upscale_factor=8 would not reconstruct.*'
            'set upscale_factor=16'):
        MODELS.build(cfg)


def test_unreachable_sssr_factor_raises_at_build():
    with pytest.raises(ValueError, match='power of two .* got 6'):
        MODELS.build(tiny_segmentor_cfg(sssr_head=dict(upsample_factor=6)))


def test_fa_without_sisr_raises():
    with pytest.raises(ValueError, match='fa_loss needs a sisr_head'):
        MODELS.build(tiny_segmentor_cfg(sisr_head=None))


def test_sisr_in_index_out_of_range_raises():
    cfg = tiny_segmentor_cfg(
        sisr_head=dict(type='SISRHead', in_channels=128, in_index=7))
    with pytest.raises(
            ValueError, match='in_index=7 but the backbone/neck '
            'has 4 outputs'):
        MODELS.build(cfg)


def test_mixed_precision_loss_matches_float32():
    # Mixed precision as under `tools/train.py --amp`; on the CPU autocast
    # runs in bfloat16.
    assert_autocast_loss_close(
        MODELS.build(tiny_segmentor_cfg()),
        *seg_batch(h=64, w=96),
        dtype=torch.bfloat16,
        rtol=0.05)


def test_fa_on_hidden_sisr_features_trains_every_parameter():
    """fa_features='hidden': FA compares the SSSR scores with the SISR
    head's last hidden layer (32 channels at HR) instead of the image."""
    cfg = tiny_segmentor_cfg()
    cfg.sisr_head.fa_features = 'hidden'
    torch.manual_seed(0)
    model = MODELS.build(cfg)
    inputs, samples = seg_batch(h=64, w=96)
    losses = model.loss(inputs, samples)
    image_cfg = tiny_segmentor_cfg()
    torch.manual_seed(0)
    image_model = MODELS.build(image_cfg)
    image_model.load_state_dict(model.state_dict())
    image_losses = image_model.loss(inputs, samples)
    # Same network and data: only the FA term differs.
    torch.testing.assert_close(losses['sisr.loss_sr'],
                               image_losses['sisr.loss_sr'])
    assert not torch.allclose(losses['fa.loss_fa'], image_losses['fa.loss_fa'])
    sum(v for k, v in losses.items() if 'loss' in k).backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


@pytest.mark.parametrize('size', [(64, ), (0, 96), (64.0, 96), 'big'])
def test_probe_size_must_be_positive_int_pair(size):
    with pytest.raises(ValueError,
                       match=r'probe_size must be \(H, W\) positive ints, '
                       r'got ' + re.escape(repr(size))):
        MODELS.build(tiny_segmentor_cfg(probe_size=size))


def test_data_preprocessor_size_is_the_probe_by_default():
    cfg = tiny_segmentor_cfg()
    cfg.pop('probe_size')
    cfg.data_preprocessor['size'] = (32, 64)
    assert MODELS.build(cfg).probe_size == (32, 64)


def test_a_config_without_any_size_is_refused_naming_the_fix():
    """No probe_size, no data_preprocessor.size, no test_cfg.crop_size: DSRL
    does not guess a size (a fixed-size backbone would measure the wrong
    geometry); the error names the three ways to give one."""
    cfg = tiny_segmentor_cfg()
    cfg.pop('probe_size')
    cfg.data_preprocessor.pop('size', None)
    with pytest.raises(ValueError) as error:
        MODELS.build(cfg)
    text = str(error.value)
    for fix in ('model.data_preprocessor.size=(H, W)',
                'model.probe_size=(H, W)', 'model.test_cfg.crop_size'):
        assert fix in text
