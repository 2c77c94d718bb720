_base_ = [
    'mmseg::icnet/icnet_r18-d8_4xb2-80k_cityscapes-832x832.py',
    '../_base_/dsrl/cityscapes_hr-1024x2048.py'
]
custom_imports = dict(imports=['mmseg_dsrl'], allow_failed_imports=False)
# Same-input baseline of DSRL: 512x1024 input, bilinear to 1024x2048.
model = dict(
    type='LRInputEncoderDecoder',
    input_scale=0.5,
    data_preprocessor={{_base_.hr_data_preprocessor}})
train_dataloader = dict(dataset=dict(pipeline={{_base_.hr_train_pipeline}}))
