"""A small ICNet config for the tests (R18 trunk at width 0.25)."""
from mmengine.config import ConfigDict

NUM_CLASSES = 5


def tiny_icnet_cfg(exit='sub124',
                   width=0.25,
                   weights=(0.16, 0.4, 1.0),
                   **kwargs):
    bn = dict(type='BN', requires_grad=True)
    psp, fusion = int(256 * width), int(128 * width)

    def head(ch, idx, w, name, **kw):
        return dict(
            type='CascadeGuidanceHead',
            in_channels=ch,
            in_index=idx,
            num_classes=NUM_CLASSES,
            align_corners=False,
            loss_decode=dict(
                type='CrossEntropyLoss', loss_weight=w, loss_name=name),
            **kw)

    cfg = dict(
        type='ICNetSegmentor',
        data_preprocessor=dict(
            type='SegDataPreProcessor',
            mean=[123.675, 116.28, 103.53],
            std=[58.395, 57.12, 57.375],
            bgr_to_rgb=True,
            pad_val=0,
            seg_pad_val=255),
        backbone=dict(
            type='ICNetCascadeBackbone',
            backbone_cfg=dict(
                type='ResNetV1c',
                depth=18,
                num_stages=4,
                out_indices=(0, 1, 2, 3),
                dilations=(1, 1, 2, 4),
                strides=(1, 2, 1, 1),
                norm_cfg=bn,
                norm_eval=False,
                style='pytorch',
                contract_dilation=True),
            width_multiplier=width,
            norm_cfg=bn),
        decode_head=head(
            fusion, 2, weights[2], 'loss_sub124', upsample_factor=2),
        auxiliary_head=[
            head(psp, 0, weights[0], 'loss_sub4'),
            head(fusion, 1, weights[1], 'loss_sub24')
        ],
        train_cfg=dict(),
        test_cfg=dict(mode='whole', exit=exit))
    cfg.update(kwargs)
    return ConfigDict(cfg)
