# The paper's ICNet (R18 trunk, from scratch) on the synthetic demo dataset.
_base_ = [
    '../_base_/models/icnet-cascade_r50-d8.py',
    '../_base_/datasets/dsrl-demo_256x512.py',
    'mmseg::_base_/default_runtime.py',
    '../_base_/schedules/dsrl-demo_400it.py'
]
custom_imports = dict(imports=['mmseg_dsrl'], allow_failed_imports=False)
norm_cfg = dict(type='BN', requires_grad=True)
model = dict(
    data_preprocessor=dict(size=(256, 512)),
    backbone=dict(
        norm_cfg=norm_cfg, backbone_cfg=dict(depth=18, norm_cfg=norm_cfg)),
    decode_head=dict(num_classes=7),
    auxiliary_head=[
        dict(
            type='CascadeGuidanceHead',
            in_channels=256,
            in_index=0,
            num_classes=7,
            loss_decode=dict(
                type='CrossEntropyLoss',
                loss_weight=0.16,
                loss_name='loss_sub4')),
        dict(
            type='CascadeGuidanceHead',
            in_channels=128,
            in_index=1,
            num_classes=7,
            loss_decode=dict(
                type='CrossEntropyLoss',
                loss_weight=0.4,
                loss_name='loss_sub24')),
    ])
