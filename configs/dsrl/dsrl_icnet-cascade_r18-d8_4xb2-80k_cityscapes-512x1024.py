# DSRL on the paper's ICNet: 512x1024 input -> 1024x2048; the cascade's
# guidance heads stay as auxiliary heads. SSSR upsamples the 1/4 output x4
# (two stages, as elsewhere: a third one at 1024x2048 would cost 20 % of
# this light network) and is supervised against the HR label.
_base_ = [
    '../icnet/icnet-cascade_r18-d8_4xb2-80k_cityscapes-832x832.py',
    '../_base_/dsrl/cityscapes_hr-1024x2048.py'
]
custom_imports = dict(imports=['mmseg_dsrl'], allow_failed_imports=False)
model = dict(
    type='DSRLEncoderDecoder',
    input_scale=0.5,
    data_preprocessor={{_base_.hr_data_preprocessor}},
    sssr_head=dict(type='SSSRHead', upsample_factor=4, variant='logits'),
    sisr_head=dict(type='SISRHead', in_index=2),
    fa_loss={{_base_.dsrl_fa_loss}},
    test_cfg=dict(_delete_=True, mode='whole'))
train_dataloader = dict(dataset=dict(pipeline={{_base_.hr_train_pipeline}}))
