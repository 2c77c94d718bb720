# Full-resolution reference: half-width BiSeNetV1-R18 from scratch on CamVid
# at its native 360x480.
_base_ = [
    '../_base_/models/bisenetv1_r18-d32-w0.5_dsrl-demo.py',
    '../_base_/datasets/camvid_360x480.py', 'mmseg::_base_/default_runtime.py',
    '../_base_/schedules/camvid_cpu-1000i.py'
]
custom_imports = dict(imports=['mmseg_dsrl'], allow_failed_imports=False)
num_classes = 11
norm_cfg = dict(type='BN', requires_grad=True)
# sqrt of median-frequency balancing over CamVid train (SegNet balanced its
# loss the same way, with the full median-frequency weights).
class_weight = [0.52, 0.44, 2.14, 0.38, 1.0, 0.68, 1.96, 2.0, 0.87, 2.65, 3.92]
ce = dict(type='CrossEntropyLoss', class_weight=class_weight, loss_weight=1.0)
model = dict(
    data_preprocessor=dict(size=(360, 480)),
    decode_head=dict(num_classes=num_classes, loss_decode=ce),
    auxiliary_head=[
        dict(
            type='FCNHead',
            in_channels=64,
            channels=32,
            num_convs=1,
            num_classes=num_classes,
            in_index=i,
            norm_cfg=norm_cfg,
            concat_input=False,
            align_corners=False,
            loss_decode=dict(type='CrossEntropyLoss', loss_weight=1.0))
        for i in (1, 2)
    ])
