# Same-input baseline of dsrl_icnet-cascade_...: the paper's ICNet fed the
# 1024x2048 frame at 0.5, its 1/4 scores bilinearly upsampled.
_base_ = [
    '../icnet/icnet-cascade_r18-d8_4xb2-80k_cityscapes-832x832.py',
    '../_base_/dsrl/cityscapes_hr-1024x2048.py'
]
custom_imports = dict(imports=['mmseg_dsrl'], allow_failed_imports=False)
model = dict(
    type='LRInputEncoderDecoder',
    input_scale=0.5,
    data_preprocessor={{_base_.hr_data_preprocessor}},
    test_cfg=dict(_delete_=True, mode='whole'))
train_dataloader = dict(dataset=dict(pipeline={{_base_.hr_train_pipeline}}))
