# mmseg's stock BiSeNetV1-R18 (from scratch) for the 7 demo classes, with BN.
_base_ = ['mmseg::_base_/models/bisenetv1_r18-d32.py']
norm_cfg = dict(type='BN', requires_grad=True)
num_classes = 7
model = dict(
    backbone=dict(norm_cfg=norm_cfg, backbone_cfg=dict(norm_cfg=norm_cfg)),
    decode_head=dict(num_classes=num_classes, norm_cfg=norm_cfg),
    auxiliary_head=[
        dict(
            type='FCNHead',
            in_channels=128,
            channels=64,
            num_convs=1,
            num_classes=num_classes,
            in_index=i,
            norm_cfg=norm_cfg,
            concat_input=False,
            align_corners=False,
            loss_decode=dict(
                type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0))
        for i in (1, 2)
    ])
