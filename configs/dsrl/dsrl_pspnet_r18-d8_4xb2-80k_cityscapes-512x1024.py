_base_ = [
    'mmseg::pspnet/pspnet_r18-d8_4xb2-80k_cityscapes-512x1024.py',
    '../_base_/dsrl/cityscapes_hr-1024x2048.py'
]
custom_imports = dict(imports=['mmseg_dsrl'], allow_failed_imports=False)
# DSRL: 512x1024 input (the 1024x2048 frame at input_scale 0.5) -> 1024x2048.
model = dict(
    type='DSRLEncoderDecoder',
    input_scale=0.5,
    data_preprocessor={{_base_.hr_data_preprocessor}},
    sssr_head={{_base_.dsrl_sssr_head}},
    sisr_head=dict(
        type='SISRHead', in_index=-1,
        loss={{_base_.dsrl_sisr_loss}}),
    fa_loss={{_base_.dsrl_fa_loss}})
train_dataloader = dict(dataset=dict(pipeline={{_base_.hr_train_pipeline}}))
