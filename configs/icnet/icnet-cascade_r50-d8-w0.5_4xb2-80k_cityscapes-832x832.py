# Half the kernels everywhere (the released compressed model's widths).
_base_ = './icnet-cascade_r50-d8_4xb2-80k_cityscapes-832x832.py'
model = dict(
    backbone=dict(width_multiplier=0.5),
    decode_head=dict(in_channels=64),
    auxiliary_head=[
        dict(
            type='CascadeGuidanceHead',
            in_channels=128,
            in_index=0,
            num_classes=19,
            loss_decode=dict(
                type='CrossEntropyLoss',
                loss_weight=0.16,
                loss_name='loss_sub4')),
        dict(
            type='CascadeGuidanceHead',
            in_channels=64,
            in_index=1,
            num_classes=19,
            loss_decode=dict(
                type='CrossEntropyLoss',
                loss_weight=0.4,
                loss_name='loss_sub24')),
    ])
