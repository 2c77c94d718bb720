"""DSRL on heads with several outputs, cascade segmentors and backbones of
every output structure, with the geometry measured at build time."""
import pytest
import torch
from dsrl_test_utils import (NUM_CLASSES, seg_batch, tiny_head,
                             tiny_segmentor_cfg)
from mmseg.models.decode_heads.decode_head import BaseDecodeHead
from mmseg.models.segmentors import CascadeEncoderDecoder
from mmseg.registry import MODELS
from torch import nn

from mmseg_dsrl.models.segmentors.dsrl_encoder_decoder import (
    DSRLCascadeEncoderDecoder, _sssr_stage_index)
from mmseg_dsrl.models.segmentors.lr_input_encoder_decoder import \
    LRInputCascadeEncoderDecoder

BN = dict(type='BN', requires_grad=True)
CE = dict(type='CrossEntropyLoss', loss_weight=1.0)


@MODELS.register_module(force=True)
class AuxFirstTestHead(BaseDecodeHead):
    """Like PIDHead: in training returns (auxiliary, main) scores; at
    inference only the main ones, which are the *second* map."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.body = nn.Conv2d(self.in_channels, self.channels, 3, padding=1)
        self.aux_seg = nn.Conv2d(self.in_channels, self.num_classes, 1)

    def forward(self, inputs):
        x = self._transform_inputs(inputs)
        main = self.cls_seg(self.body(x))
        if self.training:
            return self.aux_seg(x), main
        return main

    def loss_by_feat(self, seg_logits, batch_data_samples):
        aux, main = seg_logits
        main_loss = super().loss_by_feat(main, batch_data_samples)
        aux_loss = super().loss_by_feat(aux, batch_data_samples)
        return dict(loss_main=main_loss['loss_ce'],
                    loss_aux=0.4 * aux_loss['loss_ce'])


def _dsrl_cfg(**kwargs):
    """The README's override on the tiny model: no in_channels given."""
    cfg = tiny_segmentor_cfg(**kwargs)
    cfg.sisr_head = dict(type='SISRHead')
    return cfg


def _grads_on_dsrl_parts(model):
    parts = [model.sssr.upsample, model.sssr.fa_transform, model.sisr_head]
    for part in parts:
        for name, p in part.named_parameters():
            assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_sisr_in_channels_measured_and_checked():
    model = MODELS.build(_dsrl_cfg())
    assert model.sisr_head.in_channels == 128
    assert model.sisr_head.upscale_factor == 16
    cfg = _dsrl_cfg()
    cfg.sisr_head = dict(type='SISRHead', in_channels=2048)
    with pytest.raises(ValueError, match='set in_channels=128'):
        MODELS.build(cfg)


def test_geometry_measured_on_the_training_crop():
    cfg = _dsrl_cfg()
    cfg.pop('probe_size')
    cfg.data_preprocessor['size'] = (96, 128)
    seen = []
    original = MODELS.get('ResNetV1c').forward

    def spy(self, x):
        seen.append(tuple(x.shape[2:]))
        return original(self, x)

    MODELS.get('ResNetV1c').forward = spy
    try:
        model = MODELS.build(cfg)
    finally:
        MODELS.get('ResNetV1c').forward = original
    assert model.probe_size == (96, 128)
    assert seen and set(seen) == {(48, 64)}  # the LR crop, nothing else


def test_multi_output_head_every_score_map_upsampled_and_supervised():
    cfg = _dsrl_cfg(decode_head=dict(
        type='DAHead', in_channels=128, in_index=3, channels=16,
        pam_channels=8, num_classes=NUM_CLASSES, norm_cfg=BN,
        align_corners=False, loss_decode=CE))
    model = MODELS.build(cfg)
    head = model.sssr.head
    seen = []
    original = head.loss_by_feat

    def record(seg_logits, samples):
        seen.extend(tuple(s.shape) for s in seg_logits)
        return original(seg_logits, samples)

    head.loss_by_feat = record
    inputs, samples = seg_batch(h=64, w=96)
    losses = model.loss(inputs, samples)
    assert seen == [(2, NUM_CLASSES, 64, 96)] * 3  # pam_cam, pam, cam at HR
    assert {'decode.pam_cam.loss_ce', 'decode.pam.loss_ce',
            'decode.cam.loss_ce', 'fa.loss_fa'} <= set(losses)
    sum(v for k, v in losses.items() if 'loss' in k).backward()
    _grads_on_dsrl_parts(model)
    assert model.sssr.inference_output_index == 0
    model.eval()
    with torch.no_grad():
        out = model.predict(inputs, samples)
    assert out[0].seg_logits.data.shape == (NUM_CLASSES, 64, 96)


def test_fa_reads_the_map_the_head_predicts_with_even_if_not_first():
    cfg = _dsrl_cfg(decode_head=dict(
        type='AuxFirstTestHead', in_channels=128, in_index=3, channels=16,
        dropout_ratio=0.0, num_classes=NUM_CLASSES, align_corners=False,
        loss_decode=CE))
    model = MODELS.build(cfg)
    assert model.sssr.inference_output_index == 1
    captured = []
    model.sssr.fa_transform.register_forward_hook(
        lambda _m, args, _o: captured.append(args[0]))
    inputs, samples = seg_batch(h=64, w=96)
    model.sssr.upsample.eval()  # the same upsampling for both computations
    losses = model.loss(inputs, samples)
    assert {'decode.loss_main', 'decode.loss_aux'} <= set(losses)
    head = model.sssr.head
    with torch.no_grad():
        x = model.extract_feat(inputs)
        main = type(head).forward(head, x)[1]
        with model.sssr.upsample.resized_to((64, 96)):  # the HR label
            expected = model.sssr.upsample(main)
    torch.testing.assert_close(captured[0], expected)


def _ocr_cascade(**kwargs):
    return _dsrl_cfg(
        num_stages=2,
        decode_head=[
            tiny_head(),
            dict(type='OCRHead', in_channels=128, in_index=3, channels=16,
                 ocr_channels=8, num_classes=NUM_CLASSES, norm_cfg=BN,
                 align_corners=False, loss_decode=CE)
        ],
        auxiliary_head=None,
        **kwargs)


def test_cascade_config_takes_dsrl_by_the_same_type():
    model = MODELS.build(_ocr_cascade())
    assert isinstance(model, DSRLCascadeEncoderDecoder)
    assert isinstance(model, CascadeEncoderDecoder)
    assert type(model.decode_head[0]).__name__ == 'FCNHead'
    assert model.sssr is model.decode_head[1]
    assert type(model.sssr.head).__name__ == 'OCRHead'
    inputs, samples = seg_batch(h=64, w=96)
    ocr_inputs = []
    model.sssr.upsample.register_forward_hook(
        lambda _m, args, out: ocr_inputs.append(tuple(out.shape)))
    losses = model.loss(inputs, samples)
    assert {'decode_0.loss_ce', 'decode_1.loss_ce', 'sisr.loss_sr',
            'fa.loss_fa'} <= set(losses)
    # The OCR stage's scores (stride 8 of LR 32x48) went through SSSR x4,
    # which resizes them to the 64x96 label.
    assert ocr_inputs == [(2, NUM_CLASSES, 64, 96)]
    sum(v for k, v in losses.items() if 'loss' in k).backward()
    _grads_on_dsrl_parts(model)
    model.eval()
    with torch.no_grad():
        out = model.predict(inputs, samples)
        tensor_out = model(inputs, mode='tensor')
    assert out[0].pred_sem_seg.shape == (64, 96)
    # tensor mode: the scores SSSR resized to the HR input, as predict
    assert tensor_out.shape == (2, NUM_CLASSES, 64, 96)


def test_lr_baseline_cascade_by_the_same_type():
    cfg = _ocr_cascade()
    for key in ('sssr_head', 'sisr_head', 'fa_loss', 'probe_size'):
        cfg.pop(key)
    cfg.type = 'LRInputEncoderDecoder'
    model = MODELS.build(cfg)
    assert isinstance(model, LRInputCascadeEncoderDecoder)
    inputs, samples = seg_batch(h=64, w=96)
    assert {'decode_0.loss_ce', 'decode_1.loss_ce'} <= set(
        model.loss(inputs, samples))


def test_sssr_stage_choice():
    fcn, ocr = dict(type='FCNHead'), dict(type='OCRHead')
    point = dict(type='PointHead')
    assert _sssr_stage_index(fcn, None) is None
    assert _sssr_stage_index([fcn, ocr], None) == 1
    # PointRend: SSSR on the dense coarse head, the point head samples it.
    assert _sssr_stage_index([fcn, point], None) == 0
    assert _sssr_stage_index([fcn, ocr], -2) == 0
    with pytest.raises(ValueError, match='sssr_stage must index the 2'):
        _sssr_stage_index([fcn, ocr], 2)
    with pytest.raises(ValueError, match='needs a cascade'):
        _sssr_stage_index(fcn, 1)


def test_fixed_size_backbone_error_names_the_img_size_to_set():
    cfg = _dsrl_cfg(
        backbone=dict(type='BEiT', img_size=(64, 64), patch_size=16,
                      embed_dims=32, num_layers=2, num_heads=2,
                      mlp_ratio=2, out_indices=(1, ), qv_bias=True,
                      init_values=0.1, drop_path_rate=0.0),
        decode_head=tiny_head(in_channels=32, in_index=0),
        auxiliary_head=None)
    cfg.pop('probe_size')
    cfg.data_preprocessor['size'] = (64, 64)
    with pytest.raises(ValueError, match=r'backbone.img_size=\(32, 32\)'):
        MODELS.build(cfg)
    cfg.backbone['img_size'] = (32, 32)
    model = MODELS.build(cfg)
    assert model.sisr_head.in_channels == 32
    assert model.sisr_head.upscale_factor == 32


def test_fixed_pooling_too_large_for_the_lr_features_names_what_to_change():
    """LRASPP's 49x49 image pooling does not fit its LR feature map: the
    build error names the layer, its kernel and what to change; a larger
    HR crop builds."""
    from mmseg_dsrl.analysis.configs import load_config
    from mmseg_dsrl.analysis.zoo_check import apply_dsrl_override
    cfg = load_config('mmseg::mobilenet_v3/'
                      'mobilenet-v3-d8_lraspp_4xb4-320k_cityscapes-512x1024.py')
    with pytest.raises(
            ValueError,
            match=r'decode_head\.head\.image_pool\.0 \(kernel 49\).*'
            r'larger HR crops \(model\.data_preprocessor\.size'):
        MODELS.build(apply_dsrl_override(cfg, (512, 1024)))
    # At 1024x2048 the LR features (64x128 at stride 8) fit the kernel.
    model = MODELS.build(apply_dsrl_override(cfg, (1024, 2048)))
    assert model.sisr_head is not None


def test_head_without_per_pixel_scores_is_refused_with_the_reason():

    @MODELS.register_module(force=True)
    class QueryTestHead(BaseDecodeHead):

        def forward(self, inputs):
            b = inputs[0].shape[0]
            return torch.zeros(b, 7, self.num_classes + 1)  # per query

    cfg = _dsrl_cfg(decode_head=dict(
        type='QueryTestHead', in_channels=128, in_index=3, channels=16,
        num_classes=NUM_CLASSES))
    with pytest.raises(ValueError, match='DSRL does not apply'):
        MODELS.build(cfg)
