# The paper's ICNet (R18 trunk at width 0.5, from scratch) on CamVid.
_base_ = [
    '../_base_/models/icnet-cascade_r50-d8.py',
    '../_base_/datasets/camvid_360x480.py', 'mmseg::_base_/default_runtime.py',
    '../_base_/schedules/camvid_cpu-1000i.py'
]
custom_imports = dict(imports=['mmseg_dsrl'], allow_failed_imports=False)
norm_cfg = dict(type='BN', requires_grad=True)
class_weight = [0.52, 0.44, 2.14, 0.38, 1.0, 0.68, 1.96, 2.0, 0.87, 2.65, 3.92]
model = dict(
    data_preprocessor=dict(size=(360, 480)),
    backbone=dict(
        width_multiplier=0.5,
        norm_cfg=norm_cfg,
        backbone_cfg=dict(depth=18, norm_cfg=norm_cfg)),
    decode_head=dict(
        in_channels=64,
        num_classes=11,
        loss_decode=dict(
            type='CrossEntropyLoss', class_weight=class_weight,
            loss_weight=1.0, loss_name='loss_sub124')),
    auxiliary_head=[
        dict(
            type='CascadeGuidanceHead',
            in_channels=128,
            in_index=0,
            num_classes=11,
            loss_decode=dict(
                type='CrossEntropyLoss',
                loss_weight=0.16,
                loss_name='loss_sub4')),
        dict(
            type='CascadeGuidanceHead',
            in_channels=64,
            in_index=1,
            num_classes=11,
            loss_decode=dict(
                type='CrossEntropyLoss',
                loss_weight=0.4,
                loss_name='loss_sub24')),
    ])
