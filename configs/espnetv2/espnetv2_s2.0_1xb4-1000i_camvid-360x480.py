# ESPNetv2 s=2.0 fine-tuned on CamVid at its native 360x480 (padded to
# 368x480, a multiple of 16) from EdgeNets' Cityscapes model trained at
# 512x256; the classifier's 11 rows start as the means of the mapped
# Cityscapes rows (edgenets-camvid://; README of configs/espnetv2). The
# full-resolution reference of the CamVid DSRL study.
_base_ = [
    '../_base_/models/espnetv2_s2.0.py', '../_base_/datasets/camvid_360x480.py',
    'mmseg::_base_/default_runtime.py',
    '../_base_/schedules/camvid_finetune-1000i.py'
]
custom_imports = dict(imports=['mmseg_dsrl'], allow_failed_imports=False)
norm_cfg = dict(type='BN', requires_grad=True)
model = dict(
    data_preprocessor=dict(size=(368, 480), size_divisor=None),
    backbone=dict(norm_cfg=norm_cfg),
    decode_head=dict(num_classes=11, norm_cfg=norm_cfg))
load_from = 'edgenets-camvid://../shared/pretrained/edgenets/espnetv2_s_2.0_city_512x256.pth'  # noqa: E501
