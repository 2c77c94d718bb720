# ESPNetv2 s=2.0 at EdgeNets' "512x256" (W x H; mmseg names crops H x W):
# the released Cityscapes model, loaded from EdgeNets' own file (converted
# on load; tools/model_converters/edgenets2mmseg.py writes the mmseg file).
# The schedule is mmseg's Cityscapes 80k, for training further.
_base_ = [
    '../_base_/models/espnetv2_s2.0.py', 'mmseg::_base_/datasets/cityscapes.py',
    'mmseg::_base_/default_runtime.py', 'mmseg::_base_/schedules/schedule_80k.py'
]
custom_imports = dict(imports=['mmseg_dsrl'], allow_failed_imports=False)
crop_size = (256, 512)
edgenets_checkpoint = 'edgenets://../shared/pretrained/edgenets/espnetv2_s_2.0_city_512x256.pth'  # noqa: E501
load_from = edgenets_checkpoint
model = dict(data_preprocessor=dict(size=crop_size, size_divisor=None))
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(
        type='RandomResize',
        scale=(512, 256),
        ratio_range=(0.5, 2.0),
        keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PhotoMetricDistortion'),
    dict(type='PackSegInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(512, 256), keep_ratio=True),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs')
]
train_dataloader = dict(batch_size=8, dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.01, momentum=0.9, weight_decay=0.0005))
