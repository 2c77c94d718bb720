# ESPNetv2 s=2.0 at EdgeNets' "1024x512" (W x H): the released Cityscapes
# model trained at that size.
_base_ = ['./espnetv2_s2.0_4xb8-80k_cityscapes-256x512.py']
crop_size = (512, 1024)
edgenets_checkpoint = 'edgenets://../shared/pretrained/edgenets/espnetv2_s_2.0_city_1024x512.pth'  # noqa: E501
load_from = edgenets_checkpoint
model = dict(data_preprocessor=dict(size=crop_size, size_divisor=None))
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(
        type='RandomResize',
        scale=(1024, 512),
        ratio_range=(0.5, 2.0),
        keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PhotoMetricDistortion'),
    dict(type='PackSegInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(1024, 512), keep_ratio=True),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs')
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
