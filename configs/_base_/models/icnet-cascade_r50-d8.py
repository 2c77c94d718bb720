# ICNet as in the paper (mmseg_dsrl.ICNetSegmentor): three-branch cascade,
# CFF units, cascade label guidance 0.16 / 0.4 / 1.0 on downsampled labels,
# final classifier at 1/4, early exit via test_cfg.exit.
norm_cfg = dict(type='SyncBN', requires_grad=True)
data_preprocessor = dict(
    type='SegDataPreProcessor',
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    bgr_to_rgb=True,
    pad_val=0,
    seg_pad_val=255)
model = dict(
    type='ICNetSegmentor',
    data_preprocessor=data_preprocessor,
    backbone=dict(
        type='ICNetCascadeBackbone',
        backbone_cfg=dict(
            type='ResNetV1c',
            depth=50,
            num_stages=4,
            out_indices=(0, 1, 2, 3),
            dilations=(1, 1, 2, 4),
            strides=(1, 2, 1, 1),
            norm_cfg=norm_cfg,
            norm_eval=False,
            style='pytorch',
            contract_dilation=True),
        width_multiplier=1.0,
        sub1_channels=(32, 32, 64),
        psp_bins=(1, 2, 3, 6),
        psp_out_channels=256,
        fusion_channels=128,
        pool_impl='matmul',
        norm_cfg=norm_cfg,
        align_corners=False),
    decode_head=dict(
        type='CascadeGuidanceHead',
        in_channels=128,
        in_index=2,
        upsample_factor=2,
        num_classes=19,
        align_corners=False,
        loss_decode=dict(
            type='CrossEntropyLoss', loss_weight=1.0,
            loss_name='loss_sub124')),
    auxiliary_head=[
        dict(
            type='CascadeGuidanceHead',
            in_channels=256,
            in_index=0,
            num_classes=19,
            align_corners=False,
            loss_decode=dict(
                type='CrossEntropyLoss',
                loss_weight=0.16,
                loss_name='loss_sub4')),
        dict(
            type='CascadeGuidanceHead',
            in_channels=128,
            in_index=1,
            num_classes=19,
            align_corners=False,
            loss_decode=dict(
                type='CrossEntropyLoss',
                loss_weight=0.4,
                loss_name='loss_sub24')),
    ],
    train_cfg=dict(),
    test_cfg=dict(mode='whole', exit='sub124'))
