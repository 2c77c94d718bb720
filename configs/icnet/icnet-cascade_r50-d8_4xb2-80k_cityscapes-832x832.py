_base_ = [
    '../_base_/models/icnet-cascade_r50-d8.py',
    'mmseg::_base_/datasets/cityscapes_832x832.py',
    'mmseg::_base_/default_runtime.py',
    'mmseg::_base_/schedules/schedule_80k.py'
]
custom_imports = dict(imports=['mmseg_dsrl'], allow_failed_imports=False)
crop_size = (832, 832)
model = dict(data_preprocessor=dict(size=crop_size))
optimizer = dict(type='SGD', lr=0.01, momentum=0.9, weight_decay=0.0005)
optim_wrapper = dict(type='OptimWrapper', optimizer=optimizer, clip_grad=None)
